/** Pure newc header encoding (layout.ts) and the deterministic entry plan for a Tree. */
import { utf8 } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { alignUp } from "../../core/int.js";
import { fullMode, walkTree, type DirNode, type TreeNode } from "../../tree/tree.js";
import { CPIO_ALIGNMENT_BYTES, CPIO_FIELD_MAX, CPIO_NEWC_HEADER, CPIO_NEWC_HEADER_BYTES, CPIO_NEWC_MAGIC, CPIO_TRAILER_NAME } from "./layout.js";

export interface CpioHeaderFields {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly filesize: number;
  readonly rdevmajor: number;
  readonly rdevminor: number;
  readonly name: string;
}

/** Header + NUL-terminated name + padding to 4 bytes. devmajor/devminor/check are 0. */
export function encodeCpioHeader(fields: CpioHeaderFields): Uint8Array {
  const nameBytes = utf8(fields.name);
  const namesize = nameBytes.length + 1;
  const out = new Uint8Array(alignUp(CPIO_NEWC_HEADER_BYTES + namesize, CPIO_ALIGNMENT_BYTES));
  writeAscii(out, CPIO_NEWC_HEADER.magic[0], CPIO_NEWC_MAGIC);
  const numbers: Record<Exclude<keyof typeof CPIO_NEWC_HEADER, "magic">, number> = {
    ino: fields.ino,
    mode: fields.mode,
    uid: fields.uid,
    gid: fields.gid,
    nlink: fields.nlink,
    mtime: fields.mtime,
    filesize: fields.filesize,
    devmajor: 0,
    devminor: 0,
    rdevmajor: fields.rdevmajor,
    rdevminor: fields.rdevminor,
    namesize,
    check: 0,
  };
  for (const [name, value] of Object.entries(numbers) as Array<[keyof typeof numbers, number]>) {
    if (!Number.isInteger(value) || value < 0 || value > CPIO_FIELD_MAX) {
      fail(ErrorCode.Format, `cpio: "${fields.name}": ${name} ${value} does not fit the 32-bit newc field`, "newc cpio cannot hold it; drop the entry or change its metadata");
    }
    writeAscii(out, CPIO_NEWC_HEADER[name][0], value.toString(16).padStart(8, "0"));
  }
  out.set(nameBytes, CPIO_NEWC_HEADER_BYTES);
  return out;
}

function writeAscii(target: Uint8Array, offset: number, text: string): void {
  for (let index = 0; index < text.length; index++) target[offset + index] = text.charCodeAt(index);
}

export function encodeCpioTrailer(): Uint8Array {
  return encodeCpioHeader({ ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 0, rdevmajor: 0, rdevminor: 0, name: CPIO_TRAILER_NAME });
}

/** One archive member in write order; `carriesData` is false for all but the last hardlink. */
export interface CpioEntry {
  readonly name: string;
  readonly node: TreeNode;
  readonly header: CpioHeaderFields;
  readonly carriesData: boolean;
}

/**
 * Plans every entry: pre-order (parents before children, as extraction needs), inode numbers
 * 1, 2, … in first-seen order (hardlinks share one; symlinks never do), the root as ".". Hardlinked files carry
 * their data on the last link only, like GNU cpio; the kernel and both cpio tools accept it.
 * mtimes outside 0 … 2^32-1 are clamped to that range (newc has no room for them).
 */
export function planCpioEntries(root: DirNode): CpioEntry[] {
  const inodes = new Map<TreeNode, number>();
  const links = new Map<TreeNode, number>();
  for (const { node } of walkTree(root)) links.set(node, (links.get(node) ?? 0) + 1);
  const seen = new Map<TreeNode, number>();
  const entries: CpioEntry[] = [];
  let nextInode = 1;
  for (const { path, node } of walkTree(root)) {
    // The kernel's do_symlink() has no hardlink handling (init/initramfs.c), so each path of a
    // hardlinked symlink becomes a symlink of its own, with its target.
    const ownInode = node.kind === "symlink";
    if (ownInode || !inodes.has(node)) inodes.set(node, nextInode++);
    const occurrence = ownInode ? 1 : (seen.get(node) ?? 0) + 1;
    seen.set(node, occurrence);
    const linkCount = ownInode ? 1 : links.get(node)!;
    const carriesData = occurrence === linkCount;
    const name = path === "" ? "." : path;
    entries.push({
      name,
      node,
      carriesData,
      header: {
        ino: inodes.get(node)!,
        mode: fullMode(node),
        uid: node.meta.uid,
        gid: node.meta.gid,
        // Directories: 2 + one per subdirectory ("." and each child's ".."), as stat reports.
        nlink: node.kind === "dir" ? 2 + node.entries.filter((entry) => entry.node.kind === "dir").length : linkCount,
        mtime: Math.min(Math.max(node.meta.mtime, 0), CPIO_FIELD_MAX),
        filesize: carriesData ? dataSize(node) : 0,
        rdevmajor: node.kind === "chardev" || node.kind === "blockdev" ? node.major : 0,
        rdevminor: node.kind === "chardev" || node.kind === "blockdev" ? node.minor : 0,
        name,
      },
    });
  }
  return entries;
}

function dataSize(node: TreeNode): number {
  if (node.kind === "file") return node.size;
  if (node.kind === "symlink") return utf8(node.target).length;
  return 0;
}
