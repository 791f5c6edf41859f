/**
 * Pure encoders for the erofs superblock, inode cores and directory blocks. No clock, no I/O:
 * every value comes from the plan.
 */
import { setU64LE, view } from "../../core/bytes.js";
import { crc32cRaw } from "../../core/crc32.js";
import {
  BLOCK_SIZE_BITS,
  BLOCK_SIZE_BYTES,
  COMPACT_INODE_BYTES,
  COMPACT_INODE_FIELDS as COMPACT,
  DATALAYOUT_BIT,
  DIRENT_BYTES,
  DIRENT_FIELDS,
  EROFS_MAGIC,
  EXTENDED_INODE_BYTES,
  EXTENDED_INODE_FIELDS as EXTENDED,
  FEATURE_COMPAT_SB_CHKSUM,
  INODE_VERSION_COMPACT,
  INODE_VERSION_EXTENDED,
  SUPERBLOCK_BYTES,
  SUPERBLOCK_FIELDS as SB,
  SUPERBLOCK_OFFSET_BYTES,
} from "./layout.js";

export interface SuperblockFields {
  readonly rootNid: number;
  readonly inodeCount: number;
  readonly buildTimeSeconds: number;
  readonly blocks: number;
  readonly metaBlockAddress: number;
  readonly xattrBlockAddress: number;
  /** 16 bytes in string (RFC) order, as libuuid's uuid_parse() gives mkfs.erofs -U. */
  readonly uuid: Uint8Array;
  /** At most 16 bytes; shorter labels are NUL padded. */
  readonly volumeName: Uint8Array;
}

/** The 128-byte superblock with its checksum field zero (superblockChecksum() fills it). */
export function encodeSuperblock(fields: SuperblockFields): Uint8Array {
  const out = new Uint8Array(SUPERBLOCK_BYTES);
  const data = view(out);
  data.setUint32(SB.magic[0], EROFS_MAGIC, true);
  data.setUint32(SB.feature_compat[0], FEATURE_COMPAT_SB_CHKSUM, true);
  data.setUint8(SB.blkszbits[0], BLOCK_SIZE_BITS);
  data.setUint16(SB.root_nid[0], fields.rootNid, true);
  setU64LE(data, SB.inos[0], fields.inodeCount);
  setU64LE(data, SB.build_time[0], fields.buildTimeSeconds);
  data.setUint32(SB.blocks[0], fields.blocks, true);
  data.setUint32(SB.meta_blkaddr[0], fields.metaBlockAddress, true);
  data.setUint32(SB.xattr_blkaddr[0], fields.xattrBlockAddress, true);
  out.set(fields.uuid, SB.uuid[0]);
  out.set(fields.volumeName, SB.volume_name[0]);
  return out;
}

/**
 * EROFS_FEATURE_COMPAT_SB_CHKSUM: crc32c with seed ~0 and no final inversion (the kernel's
 * crc32c(~0, …)) over block 0 from the superblock to the end of the block, with the checksum
 * field zeroed (fs/erofs/super.c erofs_superblock_csum_verify).
 */
export function superblockChecksum(blockZero: Uint8Array): number {
  const covered = Uint8Array.from(blockZero.subarray(SUPERBLOCK_OFFSET_BYTES, BLOCK_SIZE_BYTES));
  view(covered).setUint32(SB.checksum[0], 0, true);
  return crc32cRaw(0xffffffff, covered);
}

/** Patches the checksum of the superblock inside a complete block 0. */
export function sealBlockZero(blockZero: Uint8Array): void {
  view(blockZero).setUint32(SUPERBLOCK_OFFSET_BYTES + SB.checksum[0], superblockChecksum(blockZero), true);
}

export interface InodeFields {
  readonly extended: boolean;
  readonly dataLayout: number;
  readonly xattrCount: number;
  /** Full st_mode: type bits | permission bits. */
  readonly mode: number;
  readonly nlink: number;
  readonly sizeBytes: number;
  /** i_u: raw_blkaddr for flat inodes, the encoded device number for devices. */
  readonly union: number;
  readonly ino: number;
  readonly uid: number;
  readonly gid: number;
  /** Extended inodes only; compact inodes take the superblock build time. */
  readonly mtimeSeconds: number;
}

export function inodeCoreBytes(extended: boolean): number {
  return extended ? EXTENDED_INODE_BYTES : COMPACT_INODE_BYTES;
}

export function encodeInodeInto(target: Uint8Array, offset: number, fields: InodeFields): void {
  const data = view(target);
  const version = fields.extended ? INODE_VERSION_EXTENDED : INODE_VERSION_COMPACT;
  const format = version | (fields.dataLayout << DATALAYOUT_BIT);
  if (fields.extended) {
    data.setUint16(offset + EXTENDED.i_format[0], format, true);
    data.setUint16(offset + EXTENDED.i_xattr_icount[0], fields.xattrCount, true);
    data.setUint16(offset + EXTENDED.i_mode[0], fields.mode, true);
    setU64LE(data, offset + EXTENDED.i_size[0], fields.sizeBytes);
    data.setUint32(offset + EXTENDED.i_u[0], fields.union, true);
    data.setUint32(offset + EXTENDED.i_ino[0], fields.ino, true);
    data.setUint32(offset + EXTENDED.i_uid[0], fields.uid, true);
    data.setUint32(offset + EXTENDED.i_gid[0], fields.gid, true);
    // i_mtime is read as a signed 64-bit second count (inode_set_mtime takes time64_t).
    data.setBigInt64(offset + EXTENDED.i_mtime[0], BigInt(fields.mtimeSeconds), true);
    data.setUint32(offset + EXTENDED.i_nlink[0], fields.nlink, true);
  } else {
    data.setUint16(offset + COMPACT.i_format[0], format, true);
    data.setUint16(offset + COMPACT.i_xattr_icount[0], fields.xattrCount, true);
    data.setUint16(offset + COMPACT.i_mode[0], fields.mode, true);
    data.setUint16(offset + COMPACT.i_nlink[0], fields.nlink, true);
    data.setUint32(offset + COMPACT.i_size[0], fields.sizeBytes, true);
    data.setUint32(offset + COMPACT.i_u[0], fields.union, true);
    data.setUint32(offset + COMPACT.i_ino[0], fields.ino, true);
    data.setUint16(offset + COMPACT.i_uid[0], fields.uid, true);
    data.setUint16(offset + COMPACT.i_gid[0], fields.gid, true);
  }
}

export interface DirentFields {
  readonly nid: number;
  readonly nameBytes: Uint8Array;
  readonly fileType: number;
}

/**
 * One directory block: all dirents first, then all names, unterminated. nameoff of the first
 * dirent (12 × count) tells readers how many dirents the block holds; a name ends where the
 * next one starts, or for the last name at the block's (or directory's) end or first NUL.
 * Returns only the used bytes; the caller zero-pads a block that is not the inline tail.
 */
export function encodeDirBlock(entries: readonly DirentFields[]): Uint8Array {
  let used = DIRENT_BYTES * entries.length;
  for (const entry of entries) used += entry.nameBytes.length;
  const out = new Uint8Array(used);
  const data = view(out);
  let nameOffset = DIRENT_BYTES * entries.length;
  entries.forEach((entry, index) => {
    const base = index * DIRENT_BYTES;
    setU64LE(data, base + DIRENT_FIELDS.nid[0], entry.nid);
    data.setUint16(base + DIRENT_FIELDS.nameoff[0], nameOffset, true);
    data.setUint8(base + DIRENT_FIELDS.file_type[0], entry.fileType);
    out.set(entry.nameBytes, nameOffset);
    nameOffset += entry.nameBytes.length;
  });
  return out;
}
