/**
 * Test-only: the Debian trixie tree check shared by the gzip and zstd spec files (split so
 * vitest can run them side by side): unsquashfs -s and -lln accept the image, and a read-only
 * loop mount on the host kernel shows exactly the source tree.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { buildSquashfsFile, type SquashfsResult } from "../../../../lib/formats/squashfs/write.js";
import type { DirNode } from "../../../../lib/tree/tree.js";
import { runOk } from "../../../support/oracles.js";
import { describeForSquashfs, describeKernelMount, treeListing, unsquashfsListing } from "./oracle.js";

export const DEBIAN_BLOCK_BYTES = 131072;

/** Builds, checks with both readers and hands the image to `more` before deleting it. */
export async function checkDebianImage(tree: DirNode, compression: "gzip" | "zstd", scratch: string, more?: (image: string, result: SquashfsResult) => void): Promise<void> {
  const image = join(scratch, `debian-${compression}.sqfs`);
  const result = await buildSquashfsFile(tree, { compression, blockSize: DEBIAN_BLOCK_BYTES, concurrency: 2 }, image);
  try {
    const stat = runOk("unsquashfs", ["-s", image]);
    expect(stat).toContain(`Compression ${compression}`);
    expect(stat).toContain(`Number of inodes ${result.inodes}`);
    expect(stat).toContain(`Filesystem size ${result.bytesUsed} bytes`);
    expect(unsquashfsListing(image)).toEqual(treeListing(tree));
    const expected = await describeForSquashfs(tree);
    expect(expected.length).toBeGreaterThan(5000);
    expect(await describeKernelMount(image, result.xattrIds > 0)).toEqual(expected);
    more?.(image, result);
  } finally {
    rmSync(image, { force: true });
  }
}
