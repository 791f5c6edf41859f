/**
 * Test-only in-memory trees (no host files): every node kind, hardlinks, xattrs, duplicate and
 * sparse contents, files around the block size. Contents come from a seeded generator.
 */
import { utf8 } from "../../../../lib/core/bytes.js";
import { BytesSource, ZeroSource } from "../../../../lib/io/source.js";
import { TreeBuilder } from "../../../../lib/tree/builder.js";
import type { DirNode, Meta } from "../../../../lib/tree/tree.js";

export function seededBytes(length: number, seed: number, compressible = true): Uint8Array {
  const out = new Uint8Array(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[index] = compressible ? "abcdefgh"[state & 7]!.charCodeAt(0) : state & 0xff;
  }
  return out;
}

const meta = (mode: number, extra: Partial<Meta> = {}): Meta => ({ mode, uid: 0, gid: 0, mtime: 1_600_000_000, xattrs: [], ...extra });

export function syntheticTree(blockSize: number): DirNode {
  const builder = new TreeBuilder(meta(0o755));
  builder.addDirectory("a", meta(0o755, { uid: 1000, gid: 100 }));
  builder.addFile("a/empty", meta(0o644), new BytesSource(new Uint8Array(0)));
  builder.addFile("a/exact", meta(0o644), new BytesSource(seededBytes(blockSize, 1)));
  builder.addFile("a/one-past", meta(0o600), new BytesSource(seededBytes(blockSize + 1, 2)));
  builder.addFile("a/random", meta(0o644), new BytesSource(seededBytes(5 * blockSize + 333, 3, false)));
  builder.addFile("a/dup1", meta(0o644), new BytesSource(seededBytes(3 * blockSize + 5, 4)));
  builder.addFile("b/dup2", meta(0o644), new BytesSource(seededBytes(3 * blockSize + 5, 4)));
  builder.addFile("b/sparse", meta(0o644), new ZeroSource(7 * blockSize + 12));
  builder.addFile("b/tiny", meta(0o4755, { xattrs: [{ name: "security.capability", value: utf8("cap") }] }), new BytesSource(utf8("tiny\n")));
  builder.addHardlink("c/hard", "a/one-past");
  builder.addSymlink("c/link", meta(0o777), "../a/exact");
  builder.addDevice("c/null", "chardev", meta(0o666), 1, 3);
  builder.addSpecial("c/fifo", "fifo", meta(0o644, { xattrs: [{ name: "user.x", value: utf8("1") }] }));
  for (let index = 0; index < 600; index++) builder.addFile(`many/file-${index}`, meta(0o644, { uid: index % 5 }), new BytesSource(seededBytes(index * 7, 10 + index)));
  return builder.build();
}
