/**
 * The tree model every format reads: one immutable, sorted tree built once from host
 * directories, tar archives and inline spec entries.
 *
 * - Children are sorted by the raw UTF-8 bytes of their names (memcmp order), which is the
 *   order squashfs and erofs directories need and makes every walk deterministic.
 * - Hardlinks are one node object referenced from several directory entries: formats find
 *   them by object identity (a Map from node to inode number), and nlink is the count.
 * - File contents are a ByteSource and are read only when a format streams them.
 */
import type { ByteSource } from "../io/source.js";

export type NodeKind = "dir" | "file" | "symlink" | "chardev" | "blockdev" | "fifo" | "socket";

export interface Xattr {
  /** Full name including its namespace, e.g. "user.comment", "security.capability". */
  readonly name: string;
  readonly value: Uint8Array;
}

export interface Meta {
  /** Permission bits including SUID/SGID/sticky (mode & 0o7777); the type comes from `kind`. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch (already clamped to SOURCE_DATE_EPOCH where that applies). */
  readonly mtime: number;
  /** Sorted by name; empty when the source has none. */
  readonly xattrs: readonly Xattr[];
}

export interface DirNode {
  readonly kind: "dir";
  readonly meta: Meta;
  /** Sorted by compareBytes(nameBytes); names are unique, never "." or "..", never contain "/". */
  readonly entries: readonly DirEntry[];
}

export interface FileNode {
  readonly kind: "file";
  readonly meta: Meta;
  readonly size: number;
  readonly content: ByteSource;
}

export interface SymlinkNode {
  readonly kind: "symlink";
  readonly meta: Meta;
  readonly target: string;
}

export interface DeviceNode {
  readonly kind: "chardev" | "blockdev";
  readonly meta: Meta;
  readonly major: number;
  readonly minor: number;
}

export interface SpecialNode {
  readonly kind: "fifo" | "socket";
  readonly meta: Meta;
}

export type TreeNode = DirNode | FileNode | SymlinkNode | DeviceNode | SpecialNode;

export interface DirEntry {
  readonly name: string;
  readonly nameBytes: Uint8Array;
  readonly node: TreeNode;
}

/** POSIX file-type bits (S_IFMT) for each kind, shared by cpio, squashfs, erofs and tar. */
export const MODE_TYPE_BITS: Record<NodeKind, number> = {
  dir: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  chardev: 0o020000,
  blockdev: 0o060000,
  fifo: 0o010000,
  socket: 0o140000,
};

export function fullMode(node: TreeNode): number {
  return MODE_TYPE_BITS[node.kind] | (node.meta.mode & 0o7777);
}

/** Linux's new_encode_dev(): how a (major, minor) pair is stored as one 32-bit number. */
export function encodeDeviceNumber(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export interface WalkEntry {
  /** "/"-separated path from the root, "" for the root itself. */
  readonly path: string;
  readonly node: TreeNode;
  readonly parent: DirNode | undefined;
}

/** Pre-order depth-first walk in sorted order; the root comes first with path "". */
export function* walkTree(root: DirNode): Generator<WalkEntry> {
  const stack: WalkEntry[] = [{ path: "", node: root, parent: undefined }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    yield entry;
    if (entry.node.kind === "dir") {
      const directory = entry.node;
      for (let index = directory.entries.length - 1; index >= 0; index--) {
        const child = directory.entries[index]!;
        stack.push({ path: entry.path === "" ? child.name : `${entry.path}/${child.name}`, node: child.node, parent: directory });
      }
    }
  }
}

/** Number of directory entries referencing each node (hardlink count for files and others). */
export function countLinks(root: DirNode): Map<TreeNode, number> {
  // No paths needed, so no walkTree: its path strings cost more than the counting.
  const links = new Map<TreeNode, number>([[root, 1]]);
  const directories: DirNode[] = [root];
  for (let directory = directories.pop(); directory; directory = directories.pop()) {
    for (const { node } of directory.entries) {
      links.set(node, (links.get(node) ?? 0) + 1);
      if (node.kind === "dir") directories.push(node);
    }
  }
  return links;
}
