/**
 * Random trees → our erofs image (uncompressed, or lz4/deflate/zstd with random physical cluster
 * sizes) → fsck.erofs 1.8 --extract (trixie) must give back the tree; every few runs the
 * host kernel mounts the image too.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oraclesAvailable } from "../../support/oracles.js";
import type { ErofsCompressionOptions } from "../../../lib/formats/erofs/compress.js";
import { buildRecipe, EPOCH, treeRecipeArbitrary } from "./support/arbitrary-tree.js";
import { diffSnapshots, snapshotHostDirectory, snapshotTree, withoutFsckExtractLimits } from "./support/host-tree.js";
import { buildImage, chrootScratch, extractWithFsck, fsckErofs, snapshotKernelMount, TEST_UUID } from "./support/oracle-run.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);
const available = oraclesAvailable("root", "trixie", "getfattr");

const compressionArbitrary: fc.Arbitrary<ErofsCompressionOptions | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record({ algorithm: fc.constantFrom("lz4" as const, "deflate" as const, "zstd" as const), level: fc.constantFrom(1, 3, 9), pclusterBytes: fc.constantFrom(8192, 16384, 65536) }),
);

describe.skipIf(!available)("erofs random trees against fsck.erofs 1.8", () => {
  let scratch: string;
  beforeAll(() => {
    scratch = chrootScratch("erofs-property");
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("fsck.erofs passes and --extract (and a kernel mount) equal the source", async () => {
    let run = 0;
    let compressedFiles = 0;
    let plainClusters = 0;
    await fc.assert(
      fc.asyncProperty(treeRecipeArbitrary, compressionArbitrary, async (recipe, compression) => {
        run++;
        const directory = join(scratch, `run-${run}`);
        const tree = buildRecipe(recipe);
        const image = `${directory}.erofs`;
        try {
          const plan = await buildImage(tree, { uuid: TEST_UUID, sourceDateEpoch: EPOCH }, image, compression);
          for (const inode of plan.inodes) {
            if (!inode.compressed) continue;
            compressedFiles++;
            plainClusters += inode.compressed.pclusters.filter((pcluster) => pcluster.stream === undefined).length;
          }
          fsckErofs(image);
          const expected = await snapshotTree(tree);
          extractWithFsck(image, directory);
          expect(diffSnapshots(withoutFsckExtractLimits(expected), await snapshotHostDirectory(directory))).toBe("");
          if (run % 5 === 1) expect(diffSnapshots(expected, await snapshotKernelMount(image))).toBe("");
        } finally {
          rmSync(directory, { recursive: true, force: true });
          rmSync(image, { force: true });
        }
      }),
      { numRuns: RUNS },
    );
    // The property must have exercised compressed files and, inside them, plain clusters.
    if (RUNS >= 20) {
      expect(compressedFiles).toBeGreaterThan(0);
      expect(plainClusters).toBeGreaterThan(0);
    }
  });
});
