/** fast-check generators of FAT test trees, shared by the mtools/7-Zip and the kernel oracle tests. */
import fc from "fast-check";
import { collisionKey, longNameProblem } from "../../../lib/formats/fat/names.js";

const utf8Length = (text: string) => Buffer.byteLength(text, "utf8");

/** Name characters: both cases, digits, dots, spaces, characters that are lossy in 8.3, non-ASCII and emoji. */
const nameCharacter = fc.constantFrom(..."aAbBcCxXyYzZ019 .-_~+,;=[]()!#$%&'@^{}`üÜßçÇΩω中文ñ😀🚀🎉");
const shortishName = fc.array(nameCharacter, { minLength: 1, maxLength: 16 }).map((characters) => characters.join(""));
/** 255 UTF-16 units: the longest FAT name (ASCII, so the host file system can hold it in 255 bytes). */
const longestName = fc.constantFrom("l", "L", "q").map((first) => first + "x".repeat(250) + ".conf");
const entryName = fc.oneof({ weight: 12, arbitrary: shortishName }, { weight: 1, arbitrary: longestName })
  .filter((name) => name !== "." && name !== ".." && longNameProblem(name) === undefined && utf8Length(name) <= 255);

export function contentOf(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const fileSize = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 10, arbitrary: fc.integer({ min: 1, max: 9000 }) }, { weight: 1, arbitrary: fc.integer({ min: 1024 * 1024, max: 3 * 1024 * 1024 }) });

export type Shape = { files: [string, number, number][]; dirs: [string, Shape][] };
export const shape: fc.Arbitrary<Shape> = fc.letrec<{ dir: Shape }>((tie) => ({
  dir: fc.record({
    files: fc.array(fc.tuple(entryName, fileSize, fc.integer()), { maxLength: 6 }),
    dirs: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.constant([]), fc.array(fc.tuple(entryName, tie("dir")), { maxLength: 3 })),
  }) as fc.Arbitrary<Shape>,
})).dir;

/** Flattens a generated shape; within a directory, keeps the first of names that collide case-insensitively. */
export function specOf(root: Shape): Map<string, Uint8Array | null> {
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

