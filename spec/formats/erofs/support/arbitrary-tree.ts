/**
 * Test-only: fast-check arbitraries for random trees that exercise erofs edge cases (block
 * boundaries, big directories, long names, devices, hardlinks, shared and inline xattrs,
 * compact vs extended inodes). Contents are deterministic patterns in memory.
 */
import fc from "fast-check";
import { utf8 } from "../../../../lib/core/bytes.js";
import { BytesSource } from "../../../../lib/io/source.js";
import { TreeBuilder } from "../../../../lib/tree/builder.js";
import type { DirNode, Meta, Xattr } from "../../../../lib/tree/tree.js";

export const EPOCH = 1_600_000_000;

type Kind = "file" | "dir" | "symlink" | "fifo" | "socket" | "chardev" | "blockdev" | "hardlink";

interface EntrySpec {
  parent: number;
  name: string;
  kind: Kind;
  size: number;
  seed: number;
  meta: Meta;
  target: string;
}

const XATTR_POOL: Xattr[] = [
  { name: "user.comment", value: utf8("hello") },
  { name: "user.other", value: utf8("value-2") },
  { name: "security.capability", value: Uint8Array.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) },
  { name: "trusted.overlay.origin", value: utf8("x") },
  { name: "user.big", value: new Uint8Array(1500).fill(0x5a) },
  { name: "security.selinux", value: utf8("system_u:object_r:bin_t:s0\0") },
];

const nameArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-zA-Z0-9._!~-]{1,24}$/) },
  { weight: 1, arbitrary: fc.constantFrom("ü", "名前", "🙂x", " space", "-") },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 255 }).map((length) => "L".repeat(length)) },
).filter((name) => name !== "." && name !== "..");

const sizeArbitrary = fc.oneof(
  fc.constantFrom(0, 1, 4095, 4096, 4097, 8192, 2 * 4096 + 1),
  fc.integer({ min: 0, max: 3000 }),
  fc.integer({ min: 0, max: 40_000 }),
);

const metaArbitrary: fc.Arbitrary<Meta> = fc.record({
  mode: fc.oneof(fc.constantFrom(0o644, 0o755, 0o4755, 0o2750, 0o1777, 0o000), fc.integer({ min: 0, max: 0o7777 })),
  uid: fc.oneof(fc.constantFrom(0, 1000, 65535, 65536, 100000), fc.integer({ min: 0, max: 2 ** 31 })),
  gid: fc.oneof(fc.constantFrom(0, 100, 65535, 65536), fc.integer({ min: 0, max: 2 ** 31 })),
  mtime: fc.oneof({ weight: 3, arbitrary: fc.constant(EPOCH) }, { weight: 2, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 33 }) }),
  xattrs: fc.subarray(XATTR_POOL, { maxLength: 4 }).map((list) => [...list].sort((left, right) => (left.name < right.name ? -1 : 1))),
});

const entryArbitrary: fc.Arbitrary<EntrySpec> = fc.record({
  parent: fc.nat(),
  name: nameArbitrary,
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Kind>("file") },
    { weight: 3, arbitrary: fc.constant<Kind>("dir") },
    { weight: 2, arbitrary: fc.constant<Kind>("symlink") },
    { weight: 2, arbitrary: fc.constant<Kind>("hardlink") },
    { weight: 1, arbitrary: fc.constantFrom<Kind>("fifo", "socket", "chardev", "blockdev") },
  ),
  size: sizeArbitrary,
  seed: fc.nat(),
  meta: metaArbitrary,
  target: fc.oneof(fc.constantFrom("../x", "/etc/passwd", "dangling/target"), fc.integer({ min: 1, max: 4095 }).map((length) => "t".repeat(length))),
});

export interface TreeRecipe {
  readonly rootMeta: Meta;
  readonly entries: readonly EntrySpec[];
  /** Adds one directory with this many files (0 = none), to cross directory block boundaries. */
  readonly wideDirectory: number;
}

export const treeRecipeArbitrary: fc.Arbitrary<TreeRecipe> = fc.record({
  rootMeta: metaArbitrary,
  entries: fc.array(entryArbitrary, { maxLength: 60 }),
  wideDirectory: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 700 })),
});

/**
 * File contents: a regular pattern (compressible); for every third seed the second half is
 * pseudo-random, so compressed files also get clusters that are stored plain.
 */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let index = 0; index < length; index++) out[index] = (index * 131 + seed * 7 + (index >>> 9)) & 0xff;
  if (seed % 3 === 0) {
    let state = seed | 1;
    for (let index = length >>> 1; index < length; index++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      out[index] = state & 0xff;
    }
  }
  return out;
}

/** Builds the tree; `reverse` adds entries in another order (the result must not differ). */
export function buildRecipe(recipe: TreeRecipe, reverse = false): DirNode {
  const builder = new TreeBuilder(recipe.rootMeta);
  const directories = [""];
  const files: string[] = [];
  const used = new Set<string>();
  const actions: { hardlink: boolean; run: () => void }[] = [];
  for (const entry of recipe.entries) {
    const parent = directories[entry.parent % directories.length]!;
    const path = parent === "" ? entry.name : `${parent}/${entry.name}`;
    if (used.has(path)) continue;
    used.add(path);
    // Linux refuses user.* xattrs on anything but regular files and directories, and file
    // capabilities on anything but regular files.
    const xattrs = entry.meta.xattrs.filter((xattr) => (xattr.name.startsWith("user.") ? entry.kind === "file" || entry.kind === "dir" : xattr.name !== "security.capability" || entry.kind === "file"));
    const meta = { ...entry.meta, xattrs, mode: entry.kind === "symlink" ? 0o777 : entry.meta.mode };
    switch (entry.kind) {
      case "file":
        files.push(path);
        actions.push({ hardlink: false, run: () => builder.addFile(path, meta, new BytesSource(pattern(entry.size, entry.seed))) });
        break;
      case "dir":
        directories.push(path);
        actions.push({ hardlink: false, run: () => builder.addDirectory(path, meta) });
        break;
      case "symlink":
        actions.push({ hardlink: false, run: () => builder.addSymlink(path, meta, entry.target) });
        break;
      case "hardlink": {
        if (files.length === 0) continue;
        const target = files[entry.seed % files.length]!;
        actions.push({ hardlink: true, run: () => builder.addHardlink(path, target) });
        break;
      }
      case "chardev":
      case "blockdev":
        actions.push({ hardlink: false, run: () => builder.addDevice(path, entry.kind as "chardev" | "blockdev", meta, entry.seed % 4096, entry.seed % 1_048_576) });
        break;
      default:
        actions.push({ hardlink: false, run: () => builder.addSpecial(path, entry.kind as "fifo" | "socket", meta) });
    }
  }
  if (recipe.wideDirectory > 0 && !used.has("wide")) {
    for (let index = 0; index < recipe.wideDirectory; index++) {
      const path = `wide/entry-${index}-${"w".repeat(index % 50)}`;
      actions.push({ hardlink: false, run: () => builder.addFile(path, { mode: 0o644, uid: 0, gid: 0, mtime: EPOCH, xattrs: [] }, new BytesSource(pattern(index % 5, index))) });
    }
  }
  // Hardlinks must follow their targets, so they always run last, in recipe order.
  const ordered = reverse ? actions.filter((action) => !action.hardlink).reverse() : actions.filter((action) => !action.hardlink);
  for (const action of [...ordered, ...actions.filter((action) => action.hardlink)]) action.run();
  return builder.build();
}
