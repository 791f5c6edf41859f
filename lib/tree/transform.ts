/**
 * Pure transformations of a built Tree: path globs, metadata overrides, exclusions and the FAT
 * case-collision check. Every transformation keeps hardlinks as shared node objects.
 */
import { ErrorCode, fail } from "../core/errors.js";
import type { DirEntry, DirNode, Meta, TreeNode } from "./tree.js";

/**
 * Compiles a path glob: `*` and `?` stay within one path component, `**` spans components
 * ("usr/**" = everything below usr). A leading "/" is ignored: paths are tree-relative.
 */
export function compileGlob(pattern: string): RegExp {
  const trimmed = pattern.replace(/^\/+/, "").replace(/\/+$/, "");
  let source = "";
  for (let index = 0; index < trimmed.length; index++) {
    const character = trimmed[index]!;
    if (character === "*" && trimmed[index + 1] === "*") {
      source += ".*";
      index++;
    } else if (character === "*") source += "[^/]*";
    else if (character === "?") source += "[^/]";
    else source += character.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "u");
}

/** A per-path (or glob) change of ownership and permission bits. */
export interface MetaOverride {
  readonly path: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Permission bits including SUID/SGID/sticky, 0 … 0o7777. */
  readonly mode?: number;
}

export interface MetaPolicy {
  /** uid/gid 0 everywhere (applied before overrides). */
  readonly allRootOwned?: boolean;
  /** Later entries win over earlier ones. */
  readonly overrides?: readonly MetaOverride[];
  readonly sourceDateEpoch?: number;
}

/**
 * Applies ownership, overrides and mtime clamping. A hardlinked node reached by several paths
 * must end up with the same metadata from each; otherwise the overrides contradict each other.
 */
export function applyMetaPolicy(root: DirNode, policy: MetaPolicy): DirNode {
  const compiled = (policy.overrides ?? []).map((override) => ({ override, pattern: compileGlob(override.path) }));
  for (const { override } of compiled) {
    if (override.mode !== undefined && (!Number.isInteger(override.mode) || override.mode < 0 || override.mode > 0o7777)) {
      fail(ErrorCode.Spec, `overrides: "${override.path}": mode ${override.mode} is not within 0…0o7777`, "give permission bits only, e.g. 0o4755");
    }
  }
  const done = new Map<TreeNode, { node: TreeNode; path: string }>();
  const metaFor = (meta: Meta, path: string): Meta => {
    let result: Meta = policy.allRootOwned ? { ...meta, uid: 0, gid: 0 } : meta;
    for (const { override, pattern } of compiled) {
      if (!pattern.test(path)) continue;
      result = { ...result, uid: override.uid ?? result.uid, gid: override.gid ?? result.gid, mode: override.mode ?? result.mode };
    }
    const epoch = policy.sourceDateEpoch;
    return epoch !== undefined && result.mtime > epoch ? { ...result, mtime: epoch } : result;
  };
  const visit = (node: TreeNode, path: string): TreeNode => {
    if (node.kind === "dir") {
      const entries = node.entries.map((entry) => ({ ...entry, node: visit(entry.node, join(path, entry.name)) }));
      return { ...node, meta: metaFor(node.meta, path), entries };
    }
    const meta = metaFor(node.meta, path);
    const previous = done.get(node);
    if (previous) {
      if (!sameMeta(previous.node.meta, meta)) {
        fail(ErrorCode.Spec, `overrides: hardlinked paths "${previous.path}" and "${path}" would get different owners or modes`, "give both paths the same override");
      }
      return previous.node;
    }
    const replaced = meta === node.meta ? node : ({ ...node, meta } as TreeNode);
    done.set(node, { node: replaced, path });
    return replaced;
  };
  return visit(root, "") as DirNode;
}

function sameMeta(left: Meta, right: Meta): boolean {
  return left.uid === right.uid && left.gid === right.gid && left.mode === right.mode && left.mtime === right.mtime;
}

function join(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}

/**
 * Removes paths from a tree, like repart's ExcludeFiles=: "a/b" drops the entry, "a/b/" keeps
 * the directory but drops its contents. Paths that do not exist are ignored.
 */
export function excludePaths(root: DirNode, paths: readonly string[]): DirNode {
  if (paths.length === 0) return root;
  const whole = new Set<string>();
  const contents = new Set<string>();
  for (const path of paths) {
    const normalized = path.split("/").filter((part) => part !== "" && part !== ".").join("/");
    if (path.endsWith("/") || normalized === "") contents.add(normalized);
    else whole.add(normalized);
  }
  const visit = (directory: DirNode, path: string): DirNode => {
    if (contents.has(path)) return { ...directory, entries: [] };
    const entries: DirEntry[] = [];
    for (const entry of directory.entries) {
      const childPath = join(path, entry.name);
      if (whole.has(childPath)) continue;
      entries.push(entry.node.kind === "dir" ? { ...entry, node: visit(entry.node, childPath) } : entry);
    }
    return { ...directory, entries };
  };
  return visit(root, "");
}

/**
 * Unicode simple uppercase of each code point, the way FAT's upcase table folds names
 * (characters whose uppercase is several code points, like "ß", stay as they are).
 */
export function fatCaseFold(name: string): string {
  let folded = "";
  for (const character of name) {
    const upper = character.toUpperCase();
    folded += [...upper].length === 1 ? upper : character;
  }
  return folded;
}

/** Fails when two names in one directory differ only in case (FAT cannot store both). */
export function checkCaseCollisions(root: DirNode, where = "tree"): void {
  const visit = (directory: DirNode, path: string): void => {
    const seen = new Map<string, string>();
    for (const entry of directory.entries) {
      const key = fatCaseFold(entry.name);
      const other = seen.get(key);
      if (other !== undefined) {
        fail(ErrorCode.Tree, `${where}: "${join(path, other)}" and "${join(path, entry.name)}" differ only in case, which FAT cannot tell apart`, "rename one of them");
      }
      seen.set(key, entry.name);
      if (entry.node.kind === "dir") visit(entry.node, join(path, entry.name));
    }
  };
  visit(root, "");
}
