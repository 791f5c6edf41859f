/**
 * Pure inode encoders (squashfs_fs.h struct squashfs_*_inode). Callers pick the basic or
 * extended form; every encoder returns the exact bytes that go into the inode table.
 */
import { setU64LE, view } from "../../core/bytes.js";
import {
  BASE_INODE, DEV_INODE, DEV_INODE_BYTES, DIR_INDEX, DIR_INDEX_BYTES, DIR_INODE, DIR_INODE_BYTES,
  EXTENDED_TYPE_OFFSET, IPC_INODE, IPC_INODE_BYTES, LDEV_INODE_BYTES, LDEV_XATTR_OFFSET, LDIR_INODE, LDIR_INODE_BYTES,
  LIPC_INODE_BYTES, LIPC_XATTR_OFFSET, LREG_INODE, LREG_INODE_BYTES, REG_INODE, REG_INODE_BYTES, SYMLINK_INODE,
  SYMLINK_INODE_BYTES, type FieldTable,
} from "./layout.js";

export interface InodeHeader {
  /** Basic or extended type number (INODE_TYPE). */
  readonly type: number;
  /** Permission bits only (mode & 0o7777): the type comes from inode_type, and current
   *  kernels reject type bits here; mksquashfs stores SQUASHFS_MODE(st_mode) = st_mode & 0xfff. */
  readonly mode: number;
  readonly uidIndex: number;
  readonly gidIndex: number;
  readonly mtime: number;
  readonly inodeNumber: number;
}

function at(table: FieldTable, field: string): number {
  return table[field]![0];
}

function header(size: number, fields: InodeHeader): { bytes: Uint8Array; data: DataView } {
  const bytes = new Uint8Array(size);
  const data = view(bytes);
  data.setUint16(at(BASE_INODE, "inode_type"), fields.type, true);
  data.setUint16(at(BASE_INODE, "mode"), fields.mode & 0o7777, true);
  data.setUint16(at(BASE_INODE, "uid"), fields.uidIndex, true);
  data.setUint16(at(BASE_INODE, "guid"), fields.gidIndex, true);
  data.setUint32(at(BASE_INODE, "mtime"), fields.mtime, true);
  data.setUint32(at(BASE_INODE, "inode_number"), fields.inodeNumber, true);
  return { bytes, data };
}

export interface DirIndexEntry {
  /** Offset of the indexed directory header from the start of the listing. */
  readonly listingOffset: number;
  /** Directory-table block holding that header, relative to the table start. */
  readonly block: number;
  /** Name of the first entry after that header. */
  readonly firstName: Uint8Array;
}

export interface DirInodeFields {
  readonly nlink: number;
  /** Listing bytes + 3 (DIR_SIZE_BIAS). */
  readonly fileSize: number;
  readonly startBlock: number;
  readonly offset: number;
  readonly parentInode: number;
}

export function encodeDirInode(head: InodeHeader, fields: DirInodeFields): Uint8Array {
  const { bytes, data } = header(DIR_INODE_BYTES, head);
  data.setUint32(at(DIR_INODE, "start_block"), fields.startBlock, true);
  data.setUint32(at(DIR_INODE, "nlink"), fields.nlink, true);
  data.setUint16(at(DIR_INODE, "file_size"), fields.fileSize, true);
  data.setUint16(at(DIR_INODE, "offset"), fields.offset, true);
  data.setUint32(at(DIR_INODE, "parent_inode"), fields.parentInode, true);
  return bytes;
}

export function encodeLdirInode(head: InodeHeader, fields: DirInodeFields & { xattr: number; index: readonly DirIndexEntry[] }): Uint8Array {
  let size = LDIR_INODE_BYTES;
  for (const entry of fields.index) size += DIR_INDEX_BYTES + entry.firstName.length;
  const { bytes, data } = header(size, head);
  data.setUint32(at(LDIR_INODE, "nlink"), fields.nlink, true);
  data.setUint32(at(LDIR_INODE, "file_size"), fields.fileSize, true);
  data.setUint32(at(LDIR_INODE, "start_block"), fields.startBlock, true);
  data.setUint32(at(LDIR_INODE, "parent_inode"), fields.parentInode, true);
  data.setUint16(at(LDIR_INODE, "i_count"), fields.index.length, true);
  data.setUint16(at(LDIR_INODE, "offset"), fields.offset, true);
  data.setUint32(at(LDIR_INODE, "xattr"), fields.xattr, true);
  let position = LDIR_INODE_BYTES;
  for (const entry of fields.index) {
    data.setUint32(position + at(DIR_INDEX, "index"), entry.listingOffset, true);
    data.setUint32(position + at(DIR_INDEX, "start_block"), entry.block, true);
    // Stored off by one, like every squashfs name length.
    data.setUint32(position + at(DIR_INDEX, "size"), entry.firstName.length - 1, true);
    bytes.set(entry.firstName, position + DIR_INDEX_BYTES);
    position += DIR_INDEX_BYTES + entry.firstName.length;
  }
  return bytes;
}

export interface FileInodeFields {
  readonly startBlock: number;
  readonly fileSize: number;
  readonly fragment: number;
  readonly fragmentOffset: number;
  readonly blockSizes: readonly number[];
}

export function encodeRegInode(head: InodeHeader, fields: FileInodeFields): Uint8Array {
  const { bytes, data } = header(REG_INODE_BYTES + 4 * fields.blockSizes.length, head);
  data.setUint32(at(REG_INODE, "start_block"), fields.startBlock, true);
  data.setUint32(at(REG_INODE, "fragment"), fields.fragment, true);
  data.setUint32(at(REG_INODE, "offset"), fields.fragmentOffset, true);
  data.setUint32(at(REG_INODE, "file_size"), fields.fileSize, true);
  writeBlockList(data, REG_INODE_BYTES, fields.blockSizes);
  return bytes;
}

export function encodeLregInode(head: InodeHeader, fields: FileInodeFields & { sparseBytes: number; nlink: number; xattr: number }): Uint8Array {
  const { bytes, data } = header(LREG_INODE_BYTES + 4 * fields.blockSizes.length, head);
  setU64LE(data, at(LREG_INODE, "start_block"), fields.startBlock);
  setU64LE(data, at(LREG_INODE, "file_size"), fields.fileSize);
  setU64LE(data, at(LREG_INODE, "sparse"), fields.sparseBytes);
  data.setUint32(at(LREG_INODE, "nlink"), fields.nlink, true);
  data.setUint32(at(LREG_INODE, "fragment"), fields.fragment, true);
  data.setUint32(at(LREG_INODE, "offset"), fields.fragmentOffset, true);
  data.setUint32(at(LREG_INODE, "xattr"), fields.xattr, true);
  writeBlockList(data, LREG_INODE_BYTES, fields.blockSizes);
  return bytes;
}

function writeBlockList(data: DataView, start: number, blockSizes: readonly number[]): void {
  for (let index = 0; index < blockSizes.length; index++) data.setUint32(start + 4 * index, blockSizes[index]!, true);
}

/** Symlink: the target follows the fixed part; the extended form appends the xattr index. */
export function encodeSymlinkInode(head: InodeHeader, fields: { nlink: number; target: Uint8Array; xattr: number | undefined }): Uint8Array {
  const extraBytes = fields.xattr === undefined ? 0 : 4;
  const { bytes, data } = header(SYMLINK_INODE_BYTES + fields.target.length + extraBytes, head);
  data.setUint32(at(SYMLINK_INODE, "nlink"), fields.nlink, true);
  data.setUint32(at(SYMLINK_INODE, "symlink_size"), fields.target.length, true);
  bytes.set(fields.target, SYMLINK_INODE_BYTES);
  if (fields.xattr !== undefined) data.setUint32(SYMLINK_INODE_BYTES + fields.target.length, fields.xattr, true);
  return bytes;
}

export function encodeDevInode(head: InodeHeader, fields: { nlink: number; rdev: number; xattr: number | undefined }): Uint8Array {
  const { bytes, data } = header(fields.xattr === undefined ? DEV_INODE_BYTES : LDEV_INODE_BYTES, head);
  data.setUint32(at(DEV_INODE, "nlink"), fields.nlink, true);
  data.setUint32(at(DEV_INODE, "rdev"), fields.rdev, true);
  if (fields.xattr !== undefined) data.setUint32(LDEV_XATTR_OFFSET, fields.xattr, true);
  return bytes;
}

export function encodeIpcInode(head: InodeHeader, fields: { nlink: number; xattr: number | undefined }): Uint8Array {
  const { bytes, data } = header(fields.xattr === undefined ? IPC_INODE_BYTES : LIPC_INODE_BYTES, head);
  data.setUint32(at(IPC_INODE, "nlink"), fields.nlink, true);
  if (fields.xattr !== undefined) data.setUint32(LIPC_XATTR_OFFSET, fields.xattr, true);
  return bytes;
}

/** The extended type number for a basic one (SQUASHFS_LDIR_TYPE = SQUASHFS_DIR_TYPE + 7, …). */
export function extendedType(basicType: number): number {
  return basicType + EXTENDED_TYPE_OFFSET;
}

