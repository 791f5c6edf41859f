/**
 * treeFromDirectory: a host directory as a Tree, read with lstat only (symlinks are recorded,
 * never followed). Contents stay on disk as FileSliceSources; hardlinks (same st_dev, st_ino)
 * become one node object; other mounted file systems are not entered (their mount point is
 * kept as an empty directory, as `tar --one-file-system` and repart's CopyFiles= do).
 */
import { lstatSync, readdirSync, readlinkSync, realpathSync, type BigIntStats } from "node:fs";
import { compareBytes, fromUtf8, utf8 } from "../core/bytes.js";
import { clampMtime } from "../core/context.js";
import { ErrorCode, fail } from "../core/errors.js";
import { FileSliceSource } from "../io/source.js";
import { HostXattrReader } from "./host-xattrs.js";
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

/** What the scan saw of one entry; the xattrs are added once getfattr has answered. */
interface ScannedEntry {
  readonly name: string;
  readonly hostPath: string;
  /** Without xattrs; for directories, the node is made from it and the children. */
  readonly meta: Meta;
  /** Non-directories: the node without xattrs, one object for all hardlinks to it. */
  readonly node: TreeNode | undefined;
  /** Directories: the entries scanned below it (none for mount points and excluded paths). */
  readonly children: ScannedEntry[] | undefined;
}

interface ScanState {
  readonly rootDevice: bigint;
  readonly options: DirectoryTreeOptions;
  readonly xattrReader: HostXattrReader | undefined;
  readonly inodes: Map<InodeKey, TreeNode>;
}

const NO_XATTRS: readonly Xattr[] = [];

/**
 * The scan uses blocking calls: one lstat per entry costs a few microseconds as a syscall but
 * a round trip through libuv's thread pool as a promise, which made the scan of a Debian tree
 * (7,000 entries) six times slower. getfattr runs in child processes meanwhile.
 */
export async function treeFromDirectory(hostPath: string, options: DirectoryTreeOptions = {}): Promise<DirNode> {
  // The root itself may be reached through a symlink (a user's path); nothing below it is.
  let rootPath: string;
  try {
    rootPath = realpathSync(hostPath);
  } catch (error) {
    return fail(ErrorCode.Input, `${hostPath}: cannot resolve (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the source directory exists");
  }
  const rootStat = lstatOrFail(rootPath, hostPath);
  if (!rootStat.isDirectory()) fail(ErrorCode.Input, `${hostPath}: not a directory`, "give a directory as the tree source");
  const state: ScanState = { rootDevice: rootStat.dev, options, xattrReader: options.xattrs ?? true ? HostXattrReader.forTree(rootPath) : undefined, inodes: new Map() };
  state.xattrReader?.add(rootPath);
  const root: ScannedEntry = { name: "", hostPath: rootPath, meta: metaOf(rootStat, options), node: undefined, children: scanDirectory(state, rootPath, "") };
  const xattrs = state.xattrReader ? await state.xattrReader.finish() : new Map<string, Xattr[]>();
  return directoryNode(root, { xattrs, withXattrs: new Map() });
}

function scanDirectory(state: ScanState, hostDirectory: string, treeDirectory: string): ScannedEntry[] {
  return listNames(hostDirectory).map((name) => {
    const hostPath = `${hostDirectory}/${name}`;
    const stat = lstatOrFail(hostPath, hostPath);
    state.xattrReader?.add(hostPath);
    const meta = metaOf(stat, state.options);
    if (stat.isDirectory()) {
      const treePath = treeDirectory === "" ? name : `${treeDirectory}/${name}`;
      const otherFileSystem = stat.dev !== state.rootDevice;
      const excluded = state.options.repartExclusions === true && (REPART_EXCLUDED_CONTENTS as readonly string[]).includes(treePath);
      const children = otherFileSystem || excluded ? [] : scanDirectory(state, hostPath, treePath);
      return { name, hostPath, meta, node: undefined, children };
    }
    return { name, hostPath, meta, node: nodeOf(state, hostPath, stat, meta), children: undefined };
  });
}

function nodeOf(state: ScanState, hostPath: string, stat: BigIntStats, meta: Meta): TreeNode {
  if (stat.nlink === 1n) return freshNode(hostPath, stat, meta);
  const key: InodeKey = `${stat.dev}:${stat.ino}`;
  let node = state.inodes.get(key);
  if (!node) state.inodes.set(key, (node = freshNode(hostPath, stat, meta)));
  return node;
}

function freshNode(hostPath: string, stat: BigIntStats, meta: Meta): TreeNode {
  if (stat.isFile()) {
    const size = Number(stat.size);
    return { kind: "file", meta, size, content: new FileSliceSource(hostPath, 0, size, hostPath) };
  }
  if (stat.isSymbolicLink()) return { kind: "symlink", meta, target: readLinkTarget(hostPath) };
  if (stat.isCharacterDevice() || stat.isBlockDevice()) {
    const { major, minor } = splitDeviceNumber(stat.rdev);
    return { kind: stat.isCharacterDevice() ? "chardev" : "blockdev", meta, major, minor };
  }
  if (stat.isFIFO()) return { kind: "fifo", meta };
  if (stat.isSocket()) return { kind: "socket", meta };
  return fail(ErrorCode.Input, `${hostPath}: unknown file type`, "remove it from the source tree");
}

/**
 * The names in a directory. Node decodes them as UTF-8, replacing invalid bytes with U+FFFD;
 * only a directory with that character in a name is listed again as raw bytes, to tell a real
 * U+FFFD from a name that is not UTF-8 (half the cost of decoding every name ourselves).
 */
function listNames(hostDirectory: string): string[] {
  const names = listOrFail(hostDirectory, () => readdirSync(hostDirectory));
  if (!names.some((name) => name.includes("\uFFFD"))) return names;
  return listOrFail(hostDirectory, () => readdirSync(hostDirectory, { encoding: "buffer" })).map((raw) => {
    try {
      return fromUtf8(raw);
    } catch {
      return fail(ErrorCode.Input, `${hostDirectory}/${raw.toString("latin1")}: name is not valid UTF-8`, "rename the file to UTF-8");
    }
  });
}

function listOrFail<T>(hostDirectory: string, list: () => T): T {
  try {
    return list();
  } catch (error) {
    return fail(ErrorCode.Input, `${hostDirectory}: cannot list (${(error as NodeJS.ErrnoException).code ?? error})`, "check permissions on the source tree");
  }
}

function readLinkTarget(hostPath: string): string {
  const raw = readlinkSync(hostPath, { encoding: "buffer" });
  try {
    return fromUtf8(raw);
  } catch {
    return fail(ErrorCode.Input, `${hostPath}: symlink target is not valid UTF-8`, "fix the link target");
  }
}

interface BuildState {
  /** Host path → its xattrs, for the paths that have any. */
  readonly xattrs: Map<string, Xattr[]>;
  /** Scanned node → the same node with its xattrs (once, so hardlinks stay one object). */
  readonly withXattrs: Map<TreeNode, TreeNode>;
}

function directoryNode(directory: ScannedEntry, state: BuildState): DirNode {
  const entries = directory.children!.map((child) => ({ name: child.name, nameBytes: utf8(child.name), node: child.children ? directoryNode(child, state) : completeNode(child, state) }));
  entries.sort((left, right) => compareBytes(left.nameBytes, right.nameBytes));
  const xattrs = state.xattrs.get(directory.hostPath);
  return { kind: "dir", meta: xattrs ? { ...directory.meta, xattrs } : directory.meta, entries };
}

function completeNode({ hostPath, node }: ScannedEntry, state: BuildState): TreeNode {
  const scanned = node!;
  const done = state.withXattrs.get(scanned);
  if (done) return done;
  const xattrs = state.xattrs.get(hostPath);
  if (!xattrs) return scanned;
  const complete = { ...scanned, meta: { ...scanned.meta, xattrs } } as TreeNode;
  state.withXattrs.set(scanned, complete);
  return complete;
}

/** glibc gnu_dev_major/gnu_dev_minor (sys/sysmacros.h) for a 64-bit dev_t. */
export function splitDeviceNumber(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

function metaOf(stat: BigIntStats, options: DirectoryTreeOptions): Meta {
  // st_mtim.tv_sec: the whole seconds, rounded towards minus infinity for pre-1970 times.
  const mtimeSeconds = Number(stat.mtimeNs >= 0n ? stat.mtimeNs / 1_000_000_000n : -((-stat.mtimeNs + 999_999_999n) / 1_000_000_000n));
  return {
    mode: Number(stat.mode) & 0o7777,
    uid: options.allRootOwned ? 0 : Number(stat.uid),
    gid: options.allRootOwned ? 0 : Number(stat.gid),
    mtime: clampMtime(mtimeSeconds, options.sourceDateEpoch),
    xattrs: NO_XATTRS,
  };
}

function lstatOrFail(hostPath: string, where: string): BigIntStats {
  try {
    return lstatSync(hostPath, { bigint: true });
  } catch (error) {
    return fail(ErrorCode.Input, `${where}: cannot stat (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the source tree exists and is readable");
  }
}
