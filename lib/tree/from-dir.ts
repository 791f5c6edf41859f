/**
 * treeFromDirectory: a host directory as a Tree, read with lstat only (symlinks are recorded,
 * never followed). Contents stay on disk as FileSliceSources; hardlinks (same st_dev, st_ino)
 * become one node object; other mounted file systems are not entered (their mount point is
 * kept as an empty directory, as `tar --one-file-system` and repart's CopyFiles= do).
 */
import { lstat, readdir, readlink, realpath } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { fromUtf8 } from "../core/bytes.js";
import { clampMtime } from "../core/context.js";
import { ErrorCode, fail } from "../core/errors.js";
import { FileSliceSource } from "../io/source.js";
import { readHostXattrs } from "./host-xattrs.js";
import { TreeBuilder } from "./builder.js";
import type { DirNode, Meta, TreeNode, Xattr } from "./tree.js";

export interface DirectoryTreeOptions {
  /** uid/gid 0 for every entry (a tree owned by an unprivileged user that should be root's). */
  readonly allRootOwned?: boolean;
  /** Clamps every mtime to this many seconds since the epoch. */
  readonly sourceDateEpoch?: number;
  /** Read extended attributes (needs getfattr from the attr package); default true. */
  readonly xattrs?: boolean;
  /**
   * Keep only the directories themselves for the top-level API file system mount points
   * proc, sys, dev, run, tmp and var/tmp, as systemd-repart's CopyFiles= does (repart.c
   * do_copy_files → copy_tree_at with a deny list of those paths' contents).
   */
  readonly repartExclusions?: boolean;
}

/** Paths (relative to the source root) whose contents repart never copies. */
export const REPART_EXCLUDED_CONTENTS = ["proc", "sys", "dev", "run", "tmp", "var/tmp"] as const;

/** Node objects per (st_dev, st_ino) so that hardlinked files share one node. */
type InodeKey = string;

interface ScanState {
  readonly rootDevice: bigint;
  readonly options: DirectoryTreeOptions;
  readonly builder: TreeBuilder;
  readonly inodes: Map<InodeKey, TreeNode>;
  /** Host path → tree path, for the xattr pass. */
  readonly paths: Array<{ hostPath: string; treePath: string }>;
}

export async function treeFromDirectory(hostPath: string, options: DirectoryTreeOptions = {}): Promise<DirNode> {
  // The root itself may be reached through a symlink (a user's path); nothing below it is.
  let rootPath: string;
  try {
    rootPath = await realpath(hostPath);
  } catch (error) {
    return fail(ErrorCode.Input, `${hostPath}: cannot resolve (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the source directory exists");
  }
  const rootStat = await lstatOrFail(rootPath, hostPath);
  if (!rootStat.isDirectory()) fail(ErrorCode.Input, `${hostPath}: not a directory`, "give a directory as the tree source");
  const state: ScanState = { rootDevice: rootStat.dev, options, builder: new TreeBuilder(), inodes: new Map(), paths: [] };
  const xattrs = options.xattrs ?? true;
  state.builder.addDirectory("", metaOf(rootStat, options, []));
  state.paths.push({ hostPath: rootPath, treePath: "" });
  await scanDirectory(state, rootPath, "");
  if (!xattrs) return state.builder.build();
  // Xattrs are read in one batched pass and applied by rebuilding the affected metadata.
  const found = await readHostXattrs(state.paths.map((entry) => entry.hostPath));
  if (found.size === 0) return state.builder.build();
  return rebuildWithXattrs(state, found);
}

async function scanDirectory(state: ScanState, hostDirectory: string, treeDirectory: string): Promise<void> {
  let names: Buffer[];
  try {
    names = await readdir(hostDirectory, { encoding: "buffer" });
  } catch (error) {
    return fail(ErrorCode.Input, `${hostDirectory}: cannot list (${(error as NodeJS.ErrnoException).code ?? error})`, "check permissions on the source tree");
  }
  const children = names.map((raw) => {
    let name: string;
    try {
      name = fromUtf8(raw);
    } catch {
      return fail(ErrorCode.Input, `${hostDirectory}/${raw.toString("latin1")}: name is not valid UTF-8`, "rename the file to UTF-8");
    }
    return { name, hostPath: `${hostDirectory}/${name}`, treePath: treeDirectory === "" ? name : `${treeDirectory}/${name}` };
  });
  const stats = await Promise.all(children.map((child) => lstatOrFail(child.hostPath, child.hostPath)));
  for (let index = 0; index < children.length; index++) {
    const child = children[index]!;
    const stat = stats[index]!;
    state.paths.push(child);
    if (stat.isDirectory()) {
      state.builder.addDirectory(child.treePath, metaOf(stat, state.options, []), child.hostPath);
      const otherFileSystem = stat.dev !== state.rootDevice;
      const excluded = state.options.repartExclusions === true && (REPART_EXCLUDED_CONTENTS as readonly string[]).includes(child.treePath);
      if (!otherFileSystem && !excluded) await scanDirectory(state, child.hostPath, child.treePath);
      continue;
    }
    state.builder.addNode(child.treePath, await nodeOf(state, child.hostPath, stat), child.hostPath);
  }
}

async function nodeOf(state: ScanState, hostPath: string, stat: BigIntStats): Promise<TreeNode> {
  const key: InodeKey = `${stat.dev}:${stat.ino}`;
  if (stat.nlink > 1n) {
    const existing = state.inodes.get(key);
    if (existing) return existing;
  }
  const node = await freshNode(hostPath, stat, metaOf(stat, state.options, []));
  if (stat.nlink > 1n) state.inodes.set(key, node);
  return node;
}

async function freshNode(hostPath: string, stat: BigIntStats, meta: Meta): Promise<TreeNode> {
  if (stat.isFile()) {
    const size = Number(stat.size);
    return { kind: "file", meta, size, content: new FileSliceSource(hostPath, 0, size, hostPath) };
  }
  if (stat.isSymbolicLink()) {
    const raw = await readlink(hostPath, { encoding: "buffer" });
    let target: string;
    try {
      target = fromUtf8(raw);
    } catch {
      return fail(ErrorCode.Input, `${hostPath}: symlink target is not valid UTF-8`, "fix the link target");
    }
    return { kind: "symlink", meta, target };
  }
  if (stat.isCharacterDevice() || stat.isBlockDevice()) {
    const { major, minor } = splitDeviceNumber(stat.rdev);
    return { kind: stat.isCharacterDevice() ? "chardev" : "blockdev", meta, major, minor };
  }
  if (stat.isFIFO()) return { kind: "fifo", meta };
  if (stat.isSocket()) return { kind: "socket", meta };
  return fail(ErrorCode.Input, `${hostPath}: unknown file type`, "remove it from the source tree");
}

/** glibc gnu_dev_major/gnu_dev_minor (sys/sysmacros.h) for a 64-bit dev_t. */
export function splitDeviceNumber(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

function metaOf(stat: BigIntStats, options: DirectoryTreeOptions, xattrs: readonly Xattr[]): Meta {
  // st_mtim.tv_sec: the whole seconds, rounded towards minus infinity for pre-1970 times.
  const mtimeSeconds = Number(stat.mtimeNs >= 0n ? stat.mtimeNs / 1_000_000_000n : -((-stat.mtimeNs + 999_999_999n) / 1_000_000_000n));
  return {
    mode: Number(stat.mode) & 0o7777,
    uid: options.allRootOwned ? 0 : Number(stat.uid),
    gid: options.allRootOwned ? 0 : Number(stat.gid),
    mtime: clampMtime(mtimeSeconds, options.sourceDateEpoch),
    xattrs,
  };
}

async function lstatOrFail(hostPath: string, where: string): Promise<BigIntStats> {
  try {
    return await lstat(hostPath, { bigint: true });
  } catch (error) {
    return fail(ErrorCode.Input, `${where}: cannot stat (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the source tree exists and is readable");
  }
}

/** Copies the scanned tree, giving each node (once, so hardlinks stay shared) its xattrs. */
function rebuildWithXattrs(state: ScanState, found: Map<string, Xattr[]>): DirNode {
  const treePathXattrs = new Map<string, Xattr[]>();
  for (const { hostPath, treePath } of state.paths) {
    const xattrs = found.get(hostPath);
    if (xattrs) treePathXattrs.set(treePath, xattrs);
  }
  const replaced = new Map<TreeNode, TreeNode>();
  const rebuild = (node: TreeNode, treePath: string): TreeNode => {
    if (node.kind === "dir") {
      const entries = node.entries.map((entry) => ({ ...entry, node: rebuild(entry.node, treePath === "" ? entry.name : `${treePath}/${entry.name}`) }));
      const xattrs = treePathXattrs.get(treePath);
      return { ...node, meta: xattrs ? { ...node.meta, xattrs } : node.meta, entries };
    }
    const done = replaced.get(node);
    if (done) return done;
    const xattrs = treePathXattrs.get(treePath);
    const result = xattrs ? ({ ...node, meta: { ...node.meta, xattrs } } as TreeNode) : node;
    replaced.set(node, result);
    return result;
  };
  return rebuild(state.builder.build(), "") as DirNode;
}
