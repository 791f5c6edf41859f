/**
 * FAT writer against independent readers: fsck.fat -n (dosfstools 4.2) must find nothing to fix,
 * and extraction with 7-Zip (7zz, exact UTF-16 long names) and mtools (`LC_ALL=C.UTF-8 mcopy -s`)
 * must give back the source tree, names and contents. mtools 4.0.x turns each UTF-16 surrogate
 * into "_" (it cannot decode characters outside the BMP, even in names it writes itself), so
 * names with emoji are compared against that mapping for mtools and exactly for 7-Zip.
 */
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { collisionKey, longNameProblem } from "../../../lib/formats/fat/names.js";
import type { FatType } from "../../../lib/formats/fat/geometry.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { buildImage, buildTree, checkWithOracles, removeDir, scratchDir } from "./support.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);
const utf8Length = (text: string) => Buffer.byteLength(text, "utf8");

/** Name characters: both cases, digits, dots, spaces, characters that are lossy in 8.3, non-ASCII and emoji. */
const nameCharacter = fc.constantFrom(..."aAbBcCxXyYzZ019 .-_~+,;=[]()!#$%&'@^{}`üÜßçÇΩω中文ñ😀🚀🎉");
const shortishName = fc.array(nameCharacter, { minLength: 1, maxLength: 16 }).map((characters) => characters.join(""));
/** 255 UTF-16 units: the longest FAT name (ASCII, so the host file system can hold it in 255 bytes). */
const longestName = fc.constantFrom("l", "L", "q").map((first) => first + "x".repeat(250) + ".conf");
const entryName = fc.oneof({ weight: 12, arbitrary: shortishName }, { weight: 1, arbitrary: longestName })
  .filter((name) => name !== "." && name !== ".." && longNameProblem(name) === undefined && utf8Length(name) <= 255);

function contentOf(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const fileSize = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 10, arbitrary: fc.integer({ min: 1, max: 9000 }) }, { weight: 1, arbitrary: fc.integer({ min: 1024 * 1024, max: 3 * 1024 * 1024 }) });

type Shape = { files: [string, number, number][]; dirs: [string, Shape][] };
const shape: fc.Arbitrary<Shape> = fc.letrec<{ dir: Shape }>((tie) => ({
  dir: fc.record({
    files: fc.array(fc.tuple(entryName, fileSize, fc.integer()), { maxLength: 6 }),
    dirs: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.constant([]), fc.array(fc.tuple(entryName, tie("dir")), { maxLength: 3 })),
  }) as fc.Arbitrary<Shape>,
})).dir;

/** Flattens a generated shape; within a directory, keeps the first of names that collide case-insensitively. */
function specOf(root: Shape): Map<string, Uint8Array | null> {
  const spec = new Map<string, Uint8Array | null>();
  const walk = (node: Shape, prefix: string) => {
    const seen = new Set<string>();
    const take = (name: string) => {
      const key = collisionKey(name);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    };
    for (const [name, dir] of node.dirs) {
      if (!take(name)) continue;
      spec.set(prefix + name, null);
      walk(dir, `${prefix}${name}/`);
    }
    for (const [name, size, seed] of node.files) if (take(name)) spec.set(prefix + name, contentOf(size, seed));
  };
  walk(root, "");
  // Names differing only in case, in different directories.
  spec.set("Case", null);
  spec.set("Case/ReadMe.TXT", contentOf(10, 1));
  spec.set("CASE2", null);
  spec.set("CASE2/README.txt", contentOf(11, 2));
  return spec;
}

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
