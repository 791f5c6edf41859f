/**
 * A file larger than 4 GiB (extended regular inode: 64-bit size, sparse accounting) that is
 * zeros except for marker bytes at the start, across the 4 GiB line and at the very end. The
 * kernel must report its exact size and return the markers and zeros where they belong;
 * unsquashfs -lln must list the size.
 */
import { openSync, readSync, closeSync, fstatSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSquashfsFile } from "../../../lib/formats/squashfs/write.js";
import type { ByteSource } from "../../../lib/io/source.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { oraclesAvailable, runOk } from "../../support/oracles.js";

const available = oraclesAvailable("root", "unsquashfs", "mount");
const FOUR_GIB = 2 ** 32;
const SIZE_BYTES = FOUR_GIB + 131072 + 5000;

/** Zeros with a few marker byte strings at fixed offsets. */
class MarkedZeroSource implements ByteSource {
  readonly description = "marked zeros";
  constructor(readonly size: number, private readonly markers: readonly { offset: number; bytes: Uint8Array }[]) {}
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (const marker of this.markers) {
      for (let index = 0; index < marker.bytes.length; index++) {
        const position = marker.offset + index - offset;
        if (position >= 0 && position < length) out[position] = marker.bytes[index]!;
      }
    }
    return out;
  }
}

const markers = [
  { offset: 0, bytes: new TextEncoder().encode("START") },
  { offset: FOUR_GIB - 3, bytes: new TextEncoder().encode("ACROSS") },
  { offset: SIZE_BYTES - 3, bytes: new TextEncoder().encode("END") },
];

describe.skipIf(!available)("squashfs file larger than 4 GiB", () => {
  let scratch: string;
  let image: string;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-large-"));
    image = join(scratch, "large.sqfs");
    const builder = new TreeBuilder();
    builder.addFile("huge", { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, xattrs: [] }, new MarkedZeroSource(SIZE_BYTES, markers));
    await buildSquashfsFile(builder.build(), { compression: "gzip", concurrency: 2, readChunkBytes: 8 * 1024 * 1024 }, image);
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("is small on disk (all-zero blocks are sparse) and unsquashfs lists its size", () => {
    expect(fstatSize(image)).toBeLessThan(2 * 1024 * 1024);
    expect(runOk("unsquashfs", ["-lln", image])).toMatch(new RegExp(`-rw-r--r-- 0/0\\s+${SIZE_BYTES} .*squashfs-root/huge`));
  });

  it("the kernel returns the exact size, the markers and zeros around them", () => {
    const mountPoint = join(scratch, "mnt");
    runOk("mkdir", ["-p", mountPoint]);
    runOk("mount", ["-o", "loop,ro", "-t", "squashfs", image, mountPoint]);
    try {
      const handle = openSync(join(mountPoint, "huge"), "r");
      try {
        expect(fstatSync(handle).size).toBe(SIZE_BYTES);
        for (const marker of markers) {
          const around = Buffer.alloc(marker.bytes.length + 8);
          const start = Math.max(0, marker.offset - 4);
          const got = readSync(handle, around, 0, around.length, start);
          const expected = new Uint8Array(around.length);
          expected.set(marker.bytes, marker.offset - start);
          expect(new Uint8Array(around.subarray(0, got))).toEqual(expected.subarray(0, got));
        }
      } finally {
        closeSync(handle);
      }
    } finally {
      runOk("umount", [mountPoint]);
    }
  });
});

function fstatSize(path: string): number {
  const handle = openSync(path, "r");
  try {
    return fstatSync(handle).size;
  } finally {
    closeSync(handle);
  }
}
