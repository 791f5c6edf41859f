/**
 * FAT writer against independent readers: fsck.fat -n (dosfstools 4.2) must find nothing to fix,
 * and extraction with 7-Zip (7zz, exact UTF-16 long names) and mtools (`LC_ALL=C.UTF-8 mcopy -s`)
 * must give back the source tree, names and contents. mtools 4.0.x turns each UTF-16 surrogate
 * into "_" (it cannot decode characters outside the BMP, even in names it writes itself), so
 * names with emoji are compared against that mapping for mtools and exactly for 7-Zip.
 */
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import type { FatType } from "../../../lib/formats/fat/geometry.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { contentOf, shape, specOf } from "./arbitraries.js";
import { buildImage, buildTree, checkWithOracles, removeDir, scratchDir } from "./support.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);

describe.skipIf(!oraclesAvailable("fsck.fat", "mcopy", "7zz"))("FAT writer round trip through fsck.fat, 7-Zip and mtools", () => {
  const dir = scratchDir("roundtrip");
  afterAll(() => removeDir(dir));
  let counter = 0;

  it("random trees: unicode/emoji/255-unit names, case variants, dots and spaces, 0-byte to 3 MiB files, all FAT types", async () => {
    const fatChoice = fc.constantFrom<{ fatType: FatType; sectorSize: 512 | 4096 }>(
      { fatType: 32, sectorSize: 512 }, { fatType: 32, sectorSize: 512 }, { fatType: 32, sectorSize: 4096 }, { fatType: 16, sectorSize: 512 }, { fatType: 12, sectorSize: 512 },
    );
    await fc.assert(fc.asyncProperty(shape, fatChoice, async (root, { fatType, sectorSize }) => {
      const workDir = join(dir, `run-${counter++}`);
      const spec = specOf(root);
      const image = `${workDir}.img`;
      const fatFits = fatType === 32 || [...spec.keys()].filter((path) => !path.includes("/")).length < 100;
      fc.pre(fatFits);
      await buildImage({ tree: buildTree(spec), sectorSize, fatType, label: "esp", volumeId: 0x1234abcd }, image);
      checkWithOracles(image, spec, workDir);
      removeDir(workDir);
      removeDir(image);
    }), { numRuns: RUNS });
  });

  it("a wide directory (3000 similar long names) and a deep one (60 levels)", async () => {
    const spec = new Map<string, Uint8Array | null>();
    spec.set("wide", null);
    for (let index = 0; index < 3000; index++) spec.set(`wide/kernel-image-version ${index}.efi`, contentOf(index % 7, index));
    let path = "deep";
    for (let level = 0; level < 60; level++) {
      spec.set(path, null);
      spec.set(`${path}/f${level}.txt`, contentOf(level, level));
      path += `/Level ${level}`;
    }
    const image = join(dir, "wide-deep.img");
    await buildImage({ tree: buildTree(spec), sectorSize: 512, label: "wide", volumeId: 1 }, image);
    checkWithOracles(image, spec, join(dir, "wide-deep"));
  });
});
