/**
 * Planner invariants over random trees (fast-check) and bad input → one-line GptimgError.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8 } from "../../../lib/core/bytes.js";
import { isGptimgError } from "../../../lib/core/errors.js";
import { BLOCK_SIZE_BYTES, NULL_BLOCK_ADDRESS } from "../../../lib/formats/erofs/layout.js";
import { DATA_START_BLOCK, planErofs } from "../../../lib/formats/erofs/plan.js";
import { writeErofs } from "../../../lib/formats/erofs/write.js";
import { BytesSource } from "../../../lib/io/source.js";
import { MemorySink } from "../../../lib/io/stream.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import type { DirNode, Meta, TreeNode } from "../../../lib/tree/tree.js";
import { countLinks } from "../../../lib/tree/tree.js";
import { buildRecipe, EPOCH, treeRecipeArbitrary } from "./support/arbitrary-tree.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25) * 2;
const UUID = "5d1c2b7a-3e4f-4a5b-8c6d-7e8f90a1b2c3";
const META: Meta = { mode: 0o644, uid: 0, gid: 0, mtime: EPOCH, xattrs: [] };

describe("planErofs invariants", () => {
  it("lays out inodes, tails and data blocks without overlap, within an exact 4 KiB-multiple size", async () => {
    await fc.assert(
      fc.asyncProperty(treeRecipeArbitrary, async (recipe) => {
        const tree = buildRecipe(recipe);
        const plan = planErofs(tree, { uuid: UUID, sourceDateEpoch: EPOCH });
        expect(plan.sizeBytes).toBe(plan.blocks * BLOCK_SIZE_BYTES);
        expect(plan.inodes.length).toBe(countLinks(tree).size);
        expect(plan.inodes[0]!.node).toBe(tree);
        const recordBytes = (inode: (typeof plan.inodes)[number]): number => (inode.extended ? 64 : 32) + inode.xattrBodyBytes + inode.tailBytes;
        let metaCursor = plan.metaBlockAddress * BLOCK_SIZE_BYTES + 32;
        for (const inode of [...plan.inodes].sort((left, right) => left.offsetBytes - right.offsetBytes)) {
          expect(inode.offsetBytes % 32).toBe(0);
          expect(inode.offsetBytes).toBeGreaterThanOrEqual(metaCursor);
          if (recordBytes(inode) <= BLOCK_SIZE_BYTES) expect(Math.floor(inode.offsetBytes / BLOCK_SIZE_BYTES)).toBe(Math.floor((inode.offsetBytes + recordBytes(inode) - 1) / BLOCK_SIZE_BYTES));
          metaCursor = inode.offsetBytes + recordBytes(inode);
        }
        expect(metaCursor).toBeLessThanOrEqual(plan.metaEndBytes);
        let dataBlock = DATA_START_BLOCK;
        for (const inode of plan.inodes) {
          expect(inode.tailBytes === 0 || inode.tailBytes === inode.sizeBytes % BLOCK_SIZE_BYTES).toBe(true);
          expect(inode.dataBlocks * BLOCK_SIZE_BYTES + inode.tailBytes).toBeGreaterThanOrEqual(inode.sizeBytes);
          if (inode.dataBlocks > 0) {
            expect(inode.dataBlockAddress).toBe(dataBlock);
            dataBlock += inode.dataBlocks;
          } else expect(inode.dataBlockAddress).toBe(NULL_BLOCK_ADDRESS);
          const meta = inode.node.meta;
          const needsExtended = meta.uid > 0xffff || meta.gid > 0xffff || meta.mtime !== EPOCH || inode.nlink > 0xffff || inode.sizeBytes >= 2 ** 32;
          expect(inode.extended).toBe(needsExtended);
        }
        expect(dataBlock).toBe(plan.metaBlockAddress);
        expect(plan.rootNid).toBeGreaterThan(0);
        const sink = new MemorySink();
        await writeErofs(plan, sink);
        expect(sink.position).toBe(plan.sizeBytes);
      }),
      { numRuns: RUNS },
    );
  });

  it("gives hardlinks one inode and nlink = number of names", () => {
    const builder = new TreeBuilder();
    builder.addFile("a/file", META, new BytesSource(utf8("x")));
    builder.addHardlink("b/link", "a/file");
    builder.addHardlink("c", "a/file");
    const plan = planErofs(builder.build(), { uuid: UUID, sourceDateEpoch: EPOCH });
    const files = plan.inodes.filter((inode) => inode.node.kind === "file");
    expect(files).toHaveLength(1);
    expect(files[0]!.nlink).toBe(3);
  });

  it("uses extended inodes for ids, sizes and mtimes compact inodes cannot hold", () => {
    const builder = new TreeBuilder({ ...META, mode: 0o755 });
    builder.addFile("compact", META, new BytesSource(utf8("x")));
    builder.addFile("uid", { ...META, uid: 65536 }, new BytesSource(utf8("x")));
    builder.addFile("mtime", { ...META, mtime: EPOCH - 1 }, new BytesSource(utf8("x")));
    builder.addFile("huge", META, { size: 2 ** 32, description: "huge", read: async (_offset, length) => new Uint8Array(length) });
    const plan = planErofs(builder.build(), { uuid: UUID, sourceDateEpoch: EPOCH });
    const extendedByPath = Object.fromEntries(plan.inodes.map((inode) => [inode.path, inode.extended]));
    expect(extendedByPath).toEqual({ "": false, compact: false, huge: true, mtime: true, uid: true });
  });
});

function expectOneLineError(build: () => DirNode, pattern: RegExp, options: { uuid?: string; label?: string; sourceDateEpoch?: number } = {}): void {
  let caught: unknown;
  try {
    planErofs(build(), { uuid: UUID, ...options });
  } catch (error) {
    caught = error;
  }
  expect(isGptimgError(caught), String(caught)).toBe(true);
  const message = (caught as Error).message;
  expect(message).not.toContain("\n");
  expect(message).toMatch(pattern);
}

function treeWith(add: (builder: TreeBuilder) => void): () => DirNode {
  return () => {
    const builder = new TreeBuilder();
    add(builder);
    return builder.build();
  };
}

describe("planErofs rejects what erofs cannot store", () => {
  const file = (meta: Partial<Meta>): ((builder: TreeBuilder) => void) => (builder) => builder.addFile("dir/f", { ...META, ...meta }, new BytesSource(utf8("x")));

  it("names longer than 255 bytes", () => expectOneLineError(treeWith((builder) => builder.addFile(`d/${"é".repeat(128)}`, META, new BytesSource(utf8("")))), /^d\/é+: name is 256 bytes \(erofs allows 1 to 255\)/));
  it("xattrs outside user/trusted/security/POSIX ACL", () => expectOneLineError(treeWith(file({ xattrs: [{ name: "system.data", value: utf8("x") }] })), /^dir\/f: xattr "system\.data" has no erofs name prefix/));
  it("xattr values above 65535 bytes", () => expectOneLineError(treeWith(file({ xattrs: [{ name: "user.v", value: new Uint8Array(65536) }] })), /^dir\/f: xattr "user\.v" value is 65536 bytes/));
  it("owners beyond 32 bits", () => expectOneLineError(treeWith(file({ uid: 2 ** 32 })), /^dir\/f: owner 4294967296:0 is outside/));
  it("fractional mtimes", () => expectOneLineError(treeWith(file({ mtime: 1.5 })), /^dir\/f: mtime 1\.5 is not a whole number/));
  it("device numbers new_encode_dev cannot hold", () => expectOneLineError(treeWith((builder) => builder.addDevice("dev/x", "blockdev", META, 4096, 0)), /^dev\/x: device 4096:0 cannot be encoded/));
  it("empty and over-long symlink targets", () => {
    expectOneLineError(treeWith((builder) => builder.addSymlink("l", META, "")), /^l: symlink target is 0 bytes/);
    expectOneLineError(treeWith((builder) => builder.addSymlink("l", META, "x".repeat(4096))), /^l: symlink target is 4096 bytes/);
  });
  it("bad UUIDs, labels and build times", () => {
    const empty = treeWith(() => undefined);
    expectOneLineError(empty, /^erofs uuid: "nope" is not a UUID/, { uuid: "nope" });
    expectOneLineError(empty, /^erofs label: "sixteen-bytes-xx" is 16 bytes/, { label: "sixteen-bytes-xx" });
    expectOneLineError(empty, /^erofs sourceDateEpoch: -1/, { sourceDateEpoch: -1 });
  });
  it("a directory reachable twice", () => {
    const inner: TreeNode = { kind: "dir", meta: META, entries: [] };
    const root: DirNode = { kind: "dir", meta: META, entries: [{ name: "a", nameBytes: utf8("a"), node: inner }, { name: "b", nameBytes: utf8("b"), node: inner }] };
    expectOneLineError(() => root, /^b: the directory is also reachable as a/);
  });
});
