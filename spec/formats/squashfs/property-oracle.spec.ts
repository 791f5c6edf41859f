/**
 * Property: for random trees, unsquashfs (squashfs-tools) extracts exactly the source tree from
 * our image — kinds, modes, owners, mtimes, sizes, content hashes, link targets, device
 * numbers, hardlink groups and xattrs — for gzip, zstd and uncompressed images.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildSquashfsFile } from "../../../lib/formats/squashfs/write.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { buildRecipeTree, PROPERTY_BLOCK_BYTES, treeRecipeArbitrary } from "./support/arbitrary-tree.js";
import { describeForSquashfs, describeUnsquashfsExtract } from "./support/oracle.js";

const available = oraclesAvailable("root", "unsquashfs");
const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);

describe.skipIf(!available)("squashfs property: unsquashfs extraction equals the source", () => {
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-prop-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("random trees round-trip through unsquashfs", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(treeRecipeArbitrary, fc.constantFrom("gzip", "zstd", "none") as fc.Arbitrary<"gzip" | "zstd" | "none">, async (recipe, compression) => {
        const tree = buildRecipeTree(recipe);
        const image = join(scratch, `case-${run++}.sqfs`);
        await buildSquashfsFile(tree, { compression, blockSize: PROPERTY_BLOCK_BYTES, concurrency: 2 }, image);
        try {
          expect(await describeUnsquashfsExtract(image, scratch)).toEqual(await describeForSquashfs(tree));
        } finally {
          rmSync(image, { force: true });
        }
      }),
      { numRuns: RUNS },
    );
  });
});
