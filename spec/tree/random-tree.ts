/**
 * fast-check arbitrary for small trees: unicode/emoji names, names differing only in case in
 * different directories, dots and spaces, 0-byte and small files, symlinks, hardlinks,
 * SUID/SGID/sticky modes, odd owners and mtimes. Contents are inline BytesSources.
 */
import fc from "fast-check";
import { BytesSource } from "../../lib/io/source.js";
import { TreeBuilder } from "../../lib/tree/builder.js";
import type { DirNode, Meta } from "../../lib/tree/tree.js";

const nameCharacter = fc.constantFrom("a", "B", "z", "0", ".", " ", "-", "_", "é", "Ä", "ß", "😀", "✓", "中");
export const entryName = fc
  .array(nameCharacter, { minLength: 1, maxLength: 12 })
  .map((characters) => characters.join(""))
  .filter((name) => name !== "." && name !== "..");

const meta = fc.record({
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.integer({ min: 0, max: 70000 }),
  gid: fc.integer({ min: 0, max: 70000 }),
  mtime: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

type Spec =
  | { kind: "file"; name: string; meta: Omit<Meta, "xattrs">; content: Uint8Array }
  | { kind: "symlink"; name: string; meta: Omit<Meta, "xattrs">; target: string }
  | { kind: "hardlink"; name: string; to: number }
  | { kind: "dir"; name: string; meta: Omit<Meta, "xattrs">; children: Spec[] };

const leaf: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({ kind: fc.constant("file" as const), name: entryName, meta, content: fc.uint8Array({ maxLength: 3000 }) }),
  fc.record({ kind: fc.constant("symlink" as const), name: entryName, meta, target: fc.string({ minLength: 1, maxLength: 60 }).filter((target) => !target.includes("\0")) }),
  fc.record({ kind: fc.constant("hardlink" as const), name: entryName, to: fc.nat() }),
);

const { tree: specTree } = fc.letrec<{ tree: Spec }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constant("dir" as const), name: entryName, meta, children: fc.array(tie("tree"), { maxLength: 5 }) }),
  ),
}));

/** Random tree; the root is mode 0755 owned by 0:0. */
export const randomTree: fc.Arbitrary<DirNode> = fc.array(specTree, { maxLength: 8 }).map((specs) => {
  const builder = new TreeBuilder({ mode: 0o755, uid: 0, gid: 0, mtime: 1_000_000, xattrs: [] });
  const files: string[] = [];
  const taken = new Set<string>();
  const add = (spec: Spec, parent: string): void => {
    const path = parent === "" ? spec.name : `${parent}/${spec.name}`;
    if (taken.has(path)) return;
    taken.add(path);
    if (spec.kind === "dir") {
      builder.addDirectory(path, { ...spec.meta, xattrs: [] });
      for (const child of spec.children) add(child, path);
    } else if (spec.kind === "file") {
      builder.addFile(path, { ...spec.meta, xattrs: [] }, new BytesSource(spec.content, path));
      files.push(path);
    } else if (spec.kind === "symlink") {
      builder.addSymlink(path, { ...spec.meta, mode: 0o777, xattrs: [] }, spec.target);
    } else if (files.length > 0) {
      builder.addHardlink(path, files[spec.to % files.length]!);
    } else taken.delete(path);
  };
  for (const spec of specs) add(spec, "");
  return builder.build();
});
