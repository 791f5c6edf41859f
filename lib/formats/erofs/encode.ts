/**
 * Pure encoders for the erofs superblock, inode cores and directory blocks. No clock, no I/O:
 * every value comes from the plan.
 */
import { setU64LE, view } from "../../core/bytes.js";
import { crc32cRaw } from "../../core/crc32c.js";
import { alignUp } from "../../core/int.js";
import type { ErofsAlgorithm, Pcluster } from "./compress.js";
import {
  ADVISE_BIG_PCLUSTER_1,
  BLOCK_SIZE_BITS,
  BLOCK_SIZE_BYTES,
  COMPACT_INODE_BYTES,
  COMPRESSION_ALGORITHM,
  COMPRESSION_CONFIG_BYTES,
  COMPACT_INODE_FIELDS as COMPACT,
  DATALAYOUT_BIT,
  DIRENT_BYTES,
  DIRENT_FIELDS,
  EROFS_MAGIC,
  EXTENDED_INODE_BYTES,
  EXTENDED_INODE_FIELDS as EXTENDED,
  FEATURE_COMPAT_SB_CHKSUM,
  FULL_INDEX_GAP_BYTES,
  INODE_VERSION_COMPACT,
  INODE_VERSION_EXTENDED,
  LCLUSTER_INDEX_BYTES,
  LCLUSTER_INDEX_FIELDS,
  LCLUSTER_TYPE_HEAD1,
  LCLUSTER_TYPE_NONHEAD,
  LCLUSTER_TYPE_PLAIN,
  LI_D0_CBLKCNT,
  MAP_HEADER_ALIGN_BYTES,
  MAP_HEADER_BYTES,
  MAP_HEADER_FIELDS,
  SUPERBLOCK_BYTES,
  SUPERBLOCK_FIELDS as SB,
  SUPERBLOCK_OFFSET_BYTES,
} from "./layout.js";

/** LZ4's largest match offset (z_erofs_lz4_cfgs.max_distance), as mkfs.erofs writes it. */
const LZ4_MAX_DISTANCE = 65535;
/** struct z_erofs_deflate_cfgs.windowbits: zlib's 32 KiB window. */
const DEFLATE_WINDOW_BITS = 15;
/** ZSTD_WINDOWLOG_ABSOLUTEMIN: z_erofs_zstd_cfgs.windowlog counts from it. */
const ZSTD_WINDOWLOG_BASE = 10;

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
  /** FEATURE_INCOMPAT_* bits (0 for an uncompressed image). */
  readonly featureIncompat: number;
  /** Bit per COMPRESSION_ALGORITHM id whose configuration follows the superblock. */
  readonly availableCompressionAlgorithms: number;
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
  data.setUint32(SB.feature_incompat[0], fields.featureIncompat, true);
  data.setUint16(SB.available_compr_algs[0], fields.availableCompressionAlgorithms, true);
  return out;
}

/**
 * The configuration record that follows the superblock (z_erofs_parse_cfgs reads it at
 * 1024 + 128): __le16 size, then struct z_erofs_lz4_cfgs { __le16 max_distance; __le16
 * max_pclusterblks }, z_erofs_deflate_cfgs { u8 windowbits } or z_erofs_zstd_cfgs { u8
 * format; u8 windowlog }, windowlog counted from 2^10. Our zstd frames never need a window
 * beyond one physical cluster's decompressed bytes.
 */
export function encodeCompressionConfig(algorithm: ErofsAlgorithm, pclusterBytes: number): Uint8Array {
  const size = COMPRESSION_CONFIG_BYTES[algorithm];
  const out = new Uint8Array(2 + size);
  const data = view(out);
  data.setUint16(0, size, true);
  if (algorithm === "lz4") {
    data.setUint16(2, LZ4_MAX_DISTANCE, true);
    data.setUint16(4, pclusterBytes / BLOCK_SIZE_BYTES, true);
  } else if (algorithm === "deflate") {
    out[2] = DEFLATE_WINDOW_BITS;
  } else {
    out[3] = Math.max(0, Math.ceil(Math.log2(pclusterBytes)) - ZSTD_WINDOWLOG_BASE);
  }
  return out;
}

/**
 * The map header (at the inode's end rounded up to 8, `headerOffset`), the reserved 8 bytes
 * and one full index per logical cluster. Physical clusters follow each other from
 * `firstBlock`. A compressed cluster of n logical clusters is a HEAD1 index (its block
 * address), then n − 1 NONHEAD indexes: distance back to the head and forward to the next
 * head, the first of them carrying the cluster's block count (CBLKCNT). A plain cluster is
 * one PLAIN index per logical cluster, each with its own block.
 */
export function encodeCompressedIndexInto(target: Uint8Array, headerOffset: number, algorithm: ErofsAlgorithm, firstBlock: number, pclusters: readonly Pcluster[]): void {
  const data = view(target);
  data.setUint16(headerOffset + MAP_HEADER_FIELDS.h_advise[0], ADVISE_BIG_PCLUSTER_1, true);
  data.setUint8(headerOffset + MAP_HEADER_FIELDS.h_algorithmtype[0], COMPRESSION_ALGORITHM[algorithm]);
  let index = headerOffset + MAP_HEADER_BYTES + FULL_INDEX_GAP_BYTES;
  let block = firstBlock;
  for (const pcluster of pclusters) {
    for (let lcluster = 0; lcluster < pcluster.lclusters; lcluster++, index += LCLUSTER_INDEX_BYTES) {
      if (pcluster.stream === undefined) {
        data.setUint16(index + LCLUSTER_INDEX_FIELDS.di_advise[0], LCLUSTER_TYPE_PLAIN, true);
        data.setUint32(index + LCLUSTER_INDEX_FIELDS.blkaddr[0], block + lcluster, true);
      } else if (lcluster === 0) {
        data.setUint16(index + LCLUSTER_INDEX_FIELDS.di_advise[0], LCLUSTER_TYPE_HEAD1, true);
        data.setUint32(index + LCLUSTER_INDEX_FIELDS.blkaddr[0], block, true);
      } else {
        data.setUint16(index + LCLUSTER_INDEX_FIELDS.di_advise[0], LCLUSTER_TYPE_NONHEAD, true);
        data.setUint16(index + LCLUSTER_INDEX_FIELDS.delta0[0], lcluster === 1 ? LI_D0_CBLKCNT | pcluster.blocks : lcluster, true);
        data.setUint16(index + LCLUSTER_INDEX_FIELDS.delta1[0], pcluster.lclusters - lcluster, true);
      }
    }
    block += pcluster.blocks;
  }
}

/** Bytes from the inode's end to the end of its indexes: padding to 8, map header, gap, indexes. */
export function compressedIndexBytes(inodeEndOffset: number, lclusters: number): number {
  const headerOffset = alignUp(inodeEndOffset, MAP_HEADER_ALIGN_BYTES);
  return headerOffset - inodeEndOffset + MAP_HEADER_BYTES + FULL_INDEX_GAP_BYTES + lclusters * LCLUSTER_INDEX_BYTES;
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
