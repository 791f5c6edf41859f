/**
 * A small erofs reader for uncompressed images (FLAT_PLAIN / FLAT_INLINE, compact and
 * extended inodes, inline and shared xattrs): validates the superblock and its checksum and
 * walks the directory tree. Used by tests and inspection; the real judges are fsck.erofs and
 * the kernel. Works on an in-memory image.
 */
import { compareBytes, fromUtf8, getU64LE, view } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { guidFromBytes } from "../../core/guid.js";
import type { Xattr } from "../../tree/tree.js";
import { superblockChecksum } from "./encode.js";
import {
  BLOCK_SIZE_BITS,
  BLOCK_SIZE_BYTES,
  COMPACT_INODE_BYTES,
  COMPACT_INODE_FIELDS as COMPACT,
  DATALAYOUT_FLAT_INLINE,
  DATALAYOUT_FLAT_PLAIN,
  DIRENT_BYTES,
  EROFS_MAGIC,
  EXTENDED_INODE_BYTES,
  EXTENDED_INODE_FIELDS as EXTENDED,
  FEATURE_COMPAT_SB_CHKSUM,
  INODE_SLOT_BYTES,
  SUPERBLOCK_FIELDS as SB,
  SUPERBLOCK_OFFSET_BYTES,
  XATTR_ENTRY_HEADER_BYTES,
  XATTR_IBODY_HEADER_BYTES,
} from "./layout.js";

export interface DecodedSuperblock {
  readonly rootNid: number;
  readonly inodeCount: number;
  readonly buildTimeSeconds: number;
  readonly blocks: number;
  readonly metaBlockAddress: number;
  readonly xattrBlockAddress: number;
  readonly uuid: string;
  readonly volumeName: string;
}

export interface DecodedInode {
  readonly nid: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly nlink: number;
  readonly sizeBytes: number;
  /** Raw i_u: block address or encoded device number. */
  readonly union: number;
  readonly xattrs: Xattr[];
  readonly data: Uint8Array;
}

export interface DecodedEntry {
  readonly path: string;
  readonly fileType: number;
  readonly inode: DecodedInode;
}

const PREFIX_BY_INDEX: Record<number, string> = { 1: "user.", 2: "system.posix_acl_access", 3: "system.posix_acl_default", 4: "trusted.", 6: "security." };

function corrupt(what: string): never {
  return fail(ErrorCode.Format, `erofs image: ${what}`, "the image is not a valid uncompressed erofs image");
}

export function decodeSuperblock(image: Uint8Array): DecodedSuperblock {
  if (image.length < BLOCK_SIZE_BYTES) corrupt(`${image.length} bytes is shorter than one block`);
  const data = view(image);
  const base = SUPERBLOCK_OFFSET_BYTES;
  if (data.getUint32(base + SB.magic[0], true) !== EROFS_MAGIC) corrupt("bad superblock magic");
  if (data.getUint8(base + SB.blkszbits[0]) !== BLOCK_SIZE_BITS) corrupt("block size is not 4096");
  if (data.getUint32(base + SB.feature_compat[0], true) & FEATURE_COMPAT_SB_CHKSUM) {
    if (superblockChecksum(image.subarray(0, BLOCK_SIZE_BYTES)) !== data.getUint32(base + SB.checksum[0], true)) corrupt("superblock checksum mismatch");
  }
  if (data.getUint32(base + SB.feature_incompat[0], true) !== 0) corrupt("incompatible features (compression, chunks, devices) are not supported here");
  const name = image.subarray(base + SB.volume_name[0], base + SB.volume_name[0] + SB.volume_name[1]);
  const nameEnd = name.indexOf(0);
  return {
    rootNid: data.getUint16(base + SB.root_nid[0], true),
    inodeCount: getU64LE(data, base + SB.inos[0]),
    buildTimeSeconds: getU64LE(data, base + SB.build_time[0]),
    blocks: data.getUint32(base + SB.blocks[0], true),
    metaBlockAddress: data.getUint32(base + SB.meta_blkaddr[0], true),
    xattrBlockAddress: data.getUint32(base + SB.xattr_blkaddr[0], true),
    uuid: guidFromBytes(image.subarray(base + SB.uuid[0], base + SB.uuid[0] + 16)),
    volumeName: fromUtf8(nameEnd < 0 ? name : name.subarray(0, nameEnd)),
  };
}

export function decodeInode(image: Uint8Array, superblock: DecodedSuperblock, nid: number): DecodedInode {
  const offset = superblock.metaBlockAddress * BLOCK_SIZE_BYTES + nid * INODE_SLOT_BYTES;
  if (offset + COMPACT_INODE_BYTES > image.length) corrupt(`nid ${nid} is outside the image`);
  const data = view(image);
  const format = data.getUint16(offset, true);
  const extended = (format & 1) === 1;
  const layout = (format >> 1) & 7;
  if (layout !== DATALAYOUT_FLAT_PLAIN && layout !== DATALAYOUT_FLAT_INLINE) corrupt(`nid ${nid} uses data layout ${layout}`);
  const icount = data.getUint16(offset + COMPACT.i_xattr_icount[0], true);
  const coreBytes = extended ? EXTENDED_INODE_BYTES : COMPACT_INODE_BYTES;
  const fields = extended
    ? {
        mode: data.getUint16(offset + EXTENDED.i_mode[0], true),
        sizeBytes: getU64LE(data, offset + EXTENDED.i_size[0]),
        union: data.getUint32(offset + EXTENDED.i_u[0], true),
        uid: data.getUint32(offset + EXTENDED.i_uid[0], true),
        gid: data.getUint32(offset + EXTENDED.i_gid[0], true),
        mtime: Number(data.getBigInt64(offset + EXTENDED.i_mtime[0], true)),
        nlink: data.getUint32(offset + EXTENDED.i_nlink[0], true),
      }
    : {
        mode: data.getUint16(offset + COMPACT.i_mode[0], true),
        sizeBytes: data.getUint32(offset + COMPACT.i_size[0], true),
        union: data.getUint32(offset + COMPACT.i_u[0], true),
        uid: data.getUint16(offset + COMPACT.i_uid[0], true),
        gid: data.getUint16(offset + COMPACT.i_gid[0], true),
        mtime: superblock.buildTimeSeconds,
        nlink: data.getUint16(offset + COMPACT.i_nlink[0], true),
      };
  const xattrBytes = icount === 0 ? 0 : XATTR_IBODY_HEADER_BYTES + 4 * (icount - 1);
  const xattrs = decodeXattrs(image, superblock, offset + coreBytes, xattrBytes);
  const type = fields.mode & 0o170000;
  const hasData = type === 0o100000 || type === 0o040000 || type === 0o120000;
  let content = new Uint8Array();
  if (hasData && fields.sizeBytes > 0) {
    const tailBytes = layout === DATALAYOUT_FLAT_INLINE ? fields.sizeBytes % BLOCK_SIZE_BYTES : 0;
    const blockBytes = fields.sizeBytes - tailBytes;
    content = new Uint8Array(fields.sizeBytes);
    if (blockBytes > 0) content.set(slice(image, fields.union * BLOCK_SIZE_BYTES, blockBytes, nid));
    if (tailBytes > 0) {
      const tailStart = offset + coreBytes + xattrBytes;
      if ((tailStart % BLOCK_SIZE_BYTES) + tailBytes > BLOCK_SIZE_BYTES) corrupt(`nid ${nid}: inline data crosses a block boundary`);
      content.set(slice(image, tailStart, tailBytes, nid), blockBytes);
    }
  }
  return { nid, ...fields, xattrs, data: content };
}

function slice(image: Uint8Array, start: number, length: number, nid: number): Uint8Array {
  if (start + length > image.length) corrupt(`nid ${nid}: data at ${start} (+${length}) is outside the image`);
  return image.subarray(start, start + length);
}

function decodeXattrs(image: Uint8Array, superblock: DecodedSuperblock, start: number, bodyBytes: number): Xattr[] {
  if (bodyBytes === 0) return [];
  const sharedCount = image[start + 4]!;
  const data = view(image);
  const result: Xattr[] = [];
  for (let index = 0; index < sharedCount; index++) {
    const id = data.getUint32(start + XATTR_IBODY_HEADER_BYTES + 4 * index, true);
    result.push(decodeXattrEntry(image, superblock.xattrBlockAddress * BLOCK_SIZE_BYTES + 4 * id).xattr);
  }
  let cursor = start + XATTR_IBODY_HEADER_BYTES + 4 * sharedCount;
  while (cursor < start + bodyBytes) {
    const { xattr, entryBytes } = decodeXattrEntry(image, cursor);
    result.push(xattr);
    cursor += entryBytes;
  }
  return result.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
}

function decodeXattrEntry(image: Uint8Array, offset: number): { xattr: Xattr; entryBytes: number } {
  const nameBytes = image[offset]!;
  const prefix = PREFIX_BY_INDEX[image[offset + 1]!] ?? corrupt(`xattr name index ${image[offset + 1]} at ${offset}`);
  const valueBytes = view(image).getUint16(offset + 2, true);
  const nameStart = offset + XATTR_ENTRY_HEADER_BYTES;
  const name = prefix + fromUtf8(image.subarray(nameStart, nameStart + nameBytes));
  const value = image.slice(nameStart + nameBytes, nameStart + nameBytes + valueBytes);
  return { xattr: { name, value }, entryBytes: Math.ceil((XATTR_ENTRY_HEADER_BYTES + nameBytes + valueBytes) / 4) * 4 };
}

/** Every entry below the root (pre-order, sorted), "." and ".." checked and left out. */
export function decodeTree(image: Uint8Array): { superblock: DecodedSuperblock; root: DecodedInode; entries: DecodedEntry[] } {
  const superblock = decodeSuperblock(image);
  const root = decodeInode(image, superblock, superblock.rootNid);
  const entries: DecodedEntry[] = [];
  const walk = (directory: DecodedInode, parentNid: number, path: string): void => {
    for (const dirent of readDirents(directory)) {
      if (dirent.name === "." || dirent.name === "..") {
        const expected = dirent.name === "." ? directory.nid : parentNid;
        if (dirent.nid !== expected) corrupt(`${path || "/"}: "${dirent.name}" points to nid ${dirent.nid}, not ${expected}`);
        continue;
      }
      const childPath = path === "" ? dirent.name : `${path}/${dirent.name}`;
      const inode = decodeInode(image, superblock, dirent.nid);
      entries.push({ path: childPath, fileType: dirent.fileType, inode });
      if ((inode.mode & 0o170000) === 0o040000) walk(inode, directory.nid, childPath);
    }
  };
  walk(root, root.nid, "");
  return { superblock, root, entries };
}

/** Dirents of every directory block, checking that names are in strictly increasing byte order. */
function readDirents(directory: DecodedInode): { nid: number; name: string; fileType: number }[] {
  const result: { nid: number; name: string; fileType: number }[] = [];
  const data = view(directory.data);
  let previous: Uint8Array | undefined;
  for (let blockStart = 0; blockStart < directory.sizeBytes; blockStart += BLOCK_SIZE_BYTES) {
    const blockEnd = Math.min(directory.sizeBytes, blockStart + BLOCK_SIZE_BYTES);
    const count = data.getUint16(blockStart + 8, true) / DIRENT_BYTES;
    for (let index = 0; index < count; index++) {
      const at = blockStart + index * DIRENT_BYTES;
      const nameStart = blockStart + data.getUint16(at + 8, true);
      let nameEnd = index + 1 < count ? blockStart + data.getUint16(at + DIRENT_BYTES + 8, true) : blockEnd;
      const zero = directory.data.subarray(nameStart, nameEnd).indexOf(0);
      if (zero >= 0) nameEnd = nameStart + zero;
      const nameBytes = directory.data.subarray(nameStart, nameEnd);
      if (previous && compareBytes(previous, nameBytes) >= 0) corrupt(`directory nid ${directory.nid}: names out of order`);
      previous = nameBytes;
      result.push({ nid: getU64LE(data, at), name: fromUtf8(nameBytes), fileType: data.getUint8(at + 10) });
    }
  }
  return result;
}
