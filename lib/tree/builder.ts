/**
 * TreeBuilder: the one mutable step before a Tree exists. Sources (host directories, tar
 * archives, inline spec entries) add paths in any order; later additions replace earlier
 * ones ("later wins", as with several CopyFiles= sources); build() sorts and freezes.
 */
import { compareBytes, utf8 } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import type { ByteSource } from "../io/source.js";
import type { DirNode, Meta, TreeNode } from "./tree.js";

interface MutableDir {
  kind: "dir";
  meta: Meta;
  children: Map<string, MutableDir | TreeNode>;
}

export const DEFAULT_DIR_META: Meta = { mode: 0o755, uid: 0, gid: 0, mtime: 0, xattrs: [] };

/** Splits "a/b//c/" into ["a","b","c"]; rejects "..", "." stays ignored; `where` names the input. */
export function splitTreePath(path: string, where: string): string[] {
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  for (const part of parts) {
    if (part === "..") fail(ErrorCode.Tree, `${where}: path "${path}" leaves the tree with ".."`, "use paths inside the tree");
  }
  return parts;
}

export class TreeBuilder {
  private readonly root: MutableDir;

  constructor(rootMeta: Meta = DEFAULT_DIR_META) {
    this.root = { kind: "dir", meta: rootMeta, children: new Map() };
  }

  /** Creates or updates a directory (its metadata is replaced; its children are kept). */
  addDirectory(path: string, meta: Meta, where = path): void {
    const parts = splitTreePath(path, where);
    if (parts.length === 0) {
      this.root.meta = meta;
      return;
    }
    const parent = this.parentOf(parts, where);
    const name = parts[parts.length - 1]!;
    const existing = parent.children.get(name);
    if (existing && existing.kind === "dir" && "children" in existing) {
      existing.meta = meta;
      return;
    }
    parent.children.set(name, { kind: "dir", meta, children: new Map() });
  }

  addFile(path: string, meta: Meta, content: ByteSource, where = path): void {
    this.addNode(path, { kind: "file", meta, size: content.size, content }, where);
  }

  addSymlink(path: string, meta: Meta, target: string, where = path): void {
    this.addNode(path, { kind: "symlink", meta, target }, where);
  }

  addDevice(path: string, kind: "chardev" | "blockdev", meta: Meta, major: number, minor: number, where = path): void {
    this.addNode(path, { kind, meta, major, minor }, where);
  }

  addSpecial(path: string, kind: "fifo" | "socket", meta: Meta, where = path): void {
    this.addNode(path, { kind, meta }, where);
  }

  /** Makes `path` another name for the non-directory node at `existingPath`. */
  addHardlink(path: string, existingPath: string, where = path): void {
    const target = this.lookup(existingPath, where);
    if (!target) fail(ErrorCode.Tree, `${where}: hardlink target "${existingPath}" does not exist (yet)`, "hardlink targets must come earlier in the archive");
    if (target.kind === "dir") fail(ErrorCode.Tree, `${where}: hardlink to directory "${existingPath}"`, "directories cannot be hardlinked");
    this.addNode(path, target as TreeNode, where);
  }

  /** Adds an already-built node (used by tree transformations such as copyFiles). */
  addNode(path: string, node: TreeNode, where = path): void {
    const parts = splitTreePath(path, where);
    if (parts.length === 0) fail(ErrorCode.Tree, `${where}: cannot replace the tree root with a ${node.kind}`, "give a path below the root");
    const parent = this.parentOf(parts, where);
    const name = parts[parts.length - 1]!;
    const existing = parent.children.get(name);
    if (existing && isMutableDir(existing) && existing.children.size > 0) {
      fail(ErrorCode.Tree, `${where}: "${parts.join("/")}" would replace a non-empty directory with a ${node.kind}`, "remove the directory from the earlier source or rename the entry");
    }
    parent.children.set(name, node);
  }

  remove(path: string, where = path): void {
    const parts = splitTreePath(path, where);
    if (parts.length === 0) {
      this.root.children.clear();
      return;
    }
    const parent = this.findDir(parts.slice(0, -1));
    parent?.children.delete(parts[parts.length - 1]!);
  }

  lookup(path: string, where = path): MutableDir | TreeNode | undefined {
    const parts = splitTreePath(path, where);
    let current: MutableDir | TreeNode = this.root;
    for (const part of parts) {
      if (!isMutableDir(current)) return undefined;
      const next: MutableDir | TreeNode | undefined = current.children.get(part);
      if (!next) return undefined;
      current = next;
    }
    return current;
  }

  /** Freezes into a sorted immutable tree. */
  build(): DirNode {
    return freeze(this.root);
  }

  private findDir(parts: string[]): MutableDir | undefined {
    let current: MutableDir = this.root;
    for (const part of parts) {
      const next = current.children.get(part);
      if (!next || !isMutableDir(next)) return undefined;
      current = next;
    }
    return current;
  }

  private parentOf(parts: string[], where: string): MutableDir {
    let current: MutableDir = this.root;
    for (let index = 0; index < parts.length - 1; index++) {
      const part = parts[index]!;
      const next = current.children.get(part);
      if (next === undefined) {
        const created: MutableDir = { kind: "dir", meta: DEFAULT_DIR_META, children: new Map() };
        current.children.set(part, created);
        current = created;
      } else if (isMutableDir(next)) {
        current = next;
      } else {
        return fail(ErrorCode.Tree, `${where}: "${parts.slice(0, index + 1).join("/")}" is a ${next.kind}, not a directory`, "an entry cannot live below a file or symlink");
      }
    }
    return current;
  }
}

function isMutableDir(node: MutableDir | TreeNode): node is MutableDir {
  return node.kind === "dir" && "children" in node;
}

function freeze(directory: MutableDir): DirNode {
  const entries = [...directory.children.entries()].map(([name, node]) => ({
    name,
    nameBytes: utf8(name),
    node: isMutableDir(node) ? freeze(node) : node,
  }));
  entries.sort((left, right) => compareBytes(left.nameBytes, right.nameBytes));
  return { kind: "dir", meta: directory.meta, entries };
}
