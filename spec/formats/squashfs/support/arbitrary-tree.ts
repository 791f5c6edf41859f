/**
 * Test-only: fast-check arbitraries for random in-memory trees that exercise squashfs edge
 * cases: sizes around a 4 KiB block, all-zero (sparse) blocks, duplicate contents, hardlinks,
 * devices, fifos, sockets, xattrs in all three namespaces, 32-bit owners, u32 mtimes, long
 * and unicode names, wide directories (several listing headers and index entries).
 */
import fc from "fast-check";
import { utf8 } from "../../../../lib/core/bytes.js";
import { BytesSource } from "../../../../lib/io/source.js";
import { TreeBuilder } from "../../../../lib/tree/builder.js";
import type { DirNode, Meta, Xattr } from "../../../../lib/tree/tree.js";
import { seededBytes } from "./synthetic-tree.js";

export const PROPERTY_BLOCK_BYTES = 4096;

type Kind = "file" | "dir" | "symlink" | "fifo" | "socket" | "chardev" | "blockdev" | "hardlink";
type Content = "text" | "random" | "zeros" | "zero-middle" | "shared";

interface EntrySpec {
  parent: number;
  name: string;
  kind: Kind;
  size: number;
  content: Content;
  seed: number;
  meta: Meta;
  target: string;
  device: [number, number];
}

const XATTR_POOL: Xattr[] = [
  { name: "user.comment", value: utf8("hello") },
  { name: "user.empty", value: new Uint8Array(0) },
  { name: "security.capability", value: Uint8Array.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) },
  { name: "trusted.overlay.origin", value: utf8("x") },
  { name: "user.big", value: new Uint8Array(3000).fill(0x5a) },
];

const nameArbitrary = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-zA-Z0-9._!~-]{1,24}$/) },
  { weight: 1, arbitrary: fc.constantFrom("ü", "名前", "🙂x", " space", "\u00ff") },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 255 }).map((length) => "L".repeat(length)) },
).filter((name) => name !== "." && name !== "..");

const B = PROPERTY_BLOCK_BYTES;
const sizeArbitrary = fc.oneof(
  fc.constantFrom(0, 1, B - 1, B, B + 1, 2 * B, 3 * B + 1),
  fc.integer({ min: 0, max: 3000 }),
  fc.integer({ min: 0, max: 6 * B }),
);

const metaArbitrary: fc.Arbitrary<Meta> = fc.record({
  mode: fc.oneof(fc.constantFrom(0o644, 0o755, 0o4755, 0o2750, 0o1777, 0o000), fc.integer({ min: 0, max: 0o7777 })),
  // 2^32-1 is (uid_t)-1, "no owner": chown() reads it as "leave unchanged", so no file can have it.
  uid: fc.oneof(fc.constantFrom(0, 1000, 65535, 65536, 100000), fc.integer({ min: 0, max: 2 ** 32 - 2 })),
  gid: fc.oneof(fc.constantFrom(0, 100, 65535, 65536), fc.integer({ min: 0, max: 2 ** 32 - 2 })),
  mtime: fc.oneof({ weight: 3, arbitrary: fc.constant(1_600_000_000) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
  // Tree metadata keeps xattrs sorted by name.
  xattrs: fc.subarray(XATTR_POOL, { maxLength: 3 }).map((xattrs) => [...xattrs].sort((left, right) => (left.name < right.name ? -1 : 1))),
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
  content: fc.constantFrom<Content>("text", "random", "zeros", "zero-middle", "shared"),
  seed: fc.nat(),
  meta: metaArbitrary,
  target: fc.oneof(fc.constantFrom("../x", "/etc/passwd", "dangling/target"), fc.integer({ min: 1, max: 4095 }).map((length) => "t".repeat(length))),
  device: fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 2 ** 20 - 1 })),
});

export interface TreeRecipe {
  readonly rootMeta: Meta;
  readonly entries: readonly EntrySpec[];
  /** One extra directory with this many files, to cross directory-table block boundaries. */
  readonly wideDirectory: number;
}

export const treeRecipeArbitrary: fc.Arbitrary<TreeRecipe> = fc.record({
  rootMeta: metaArbitrary,
  entries: fc.array(entryArbitrary, { maxLength: 50 }),
  wideDirectory: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 200, max: 1200 }) }),
});

function contentFor(spec: EntrySpec): Uint8Array {
  switch (spec.content) {
    case "text": return seededBytes(spec.size, spec.seed);
    case "random": return seededBytes(spec.size, spec.seed, false);
    case "zeros": return new Uint8Array(spec.size);
    case "zero-middle": {
      const bytes = seededBytes(spec.size, spec.seed);
      bytes.fill(0, B, Math.min(spec.size, 3 * B));
      return bytes;
    }
    // Few distinct seeds so equal contents (duplicates) are common.
    case "shared": return seededBytes(spec.size, spec.seed % 3);
  }
}

/** Builds the tree a recipe describes; entries that cannot be placed are skipped. */
export function buildRecipeTree(recipe: TreeRecipe): DirNode {
  const builder = new TreeBuilder(recipe.rootMeta);
  const directories: string[] = [""];
  const files: string[] = [];
  const taken = new Set<string>([""]);
  for (const original of recipe.entries) {
    // Linux allows user.* xattrs only on regular files and directories and file capabilities
    // only on regular files; extraction on the host could never reproduce them elsewhere.
    const regular = original.kind === "file" || original.kind === "hardlink";
    const allowed = (name: string): boolean =>
      (!name.startsWith("user.") || regular || original.kind === "dir") && (name !== "security.capability" || regular);
    const spec = { ...original, meta: { ...original.meta, xattrs: original.meta.xattrs.filter((xattr) => allowed(xattr.name)) } };
    const parent = directories[spec.parent % directories.length]!;
    const path = parent === "" ? spec.name : `${parent}/${spec.name}`;
    if (taken.has(path)) continue;
    taken.add(path);
    switch (spec.kind) {
      case "dir":
        builder.addDirectory(path, spec.meta);
        directories.push(path);
        break;
      case "file":
        builder.addFile(path, spec.meta, new BytesSource(contentFor(spec)));
        files.push(path);
        break;
      case "hardlink":
        if (files.length === 0) builder.addFile(path, spec.meta, new BytesSource(contentFor(spec)));
        else builder.addHardlink(path, files[spec.seed % files.length]!);
        files.push(path);
        break;
      case "symlink":
        // Host symlinks are always 0777 (Linux cannot chmod them), so extraction shows 0777.
        builder.addSymlink(path, { ...spec.meta, mode: 0o777 }, spec.target);
        break;
      case "chardev":
      case "blockdev":
        builder.addDevice(path, spec.kind, spec.meta, spec.device[0], spec.device[1]);
        break;
      case "fifo":
      case "socket":
        builder.addSpecial(path, spec.kind, spec.meta);
        break;
    }
  }
  for (let index = 0; index < recipe.wideDirectory; index++) {
    builder.addFile(`wide/entry-${String(index).padStart(5, "0")}`, recipe.rootMeta, new BytesSource(utf8(`${index}`)));
  }
  return builder.build();
}
