/**
 * Random trees → our erofs image → fsck.erofs 1.8 --extract (trixie) must give back the tree;
 * every few runs the host kernel mounts the image too.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oraclesAvailable } from "../../support/oracles.js";
import { buildRecipe, EPOCH, treeRecipeArbitrary } from "./support/arbitrary-tree.js";
import { diffSnapshots, snapshotHostDirectory, snapshotTree, withoutFsckExtractLimits } from "./support/host-tree.js";
import { buildImage, chrootScratch, extractWithFsck, fsckErofs, snapshotKernelMount, TEST_UUID } from "./support/oracle-run.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);
const available = oraclesAvailable("root", "trixie", "getfattr");

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
    await fc.assert(
      fc.asyncProperty(treeRecipeArbitrary, async (recipe) => {
        run++;
        const directory = join(scratch, `run-${run}`);
        const tree = buildRecipe(recipe);
        const image = `${directory}.erofs`;
        try {
          await buildImage(tree, { uuid: TEST_UUID, sourceDateEpoch: EPOCH }, image);
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
  });
});
