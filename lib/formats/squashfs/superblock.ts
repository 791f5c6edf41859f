/** Pure encoder for the 96-byte superblock (squashfs_fs.h struct squashfs_super_block). */
import { setU64LE, view } from "../../core/bytes.js";
import { log2Exact } from "../../core/int.js";
import { INVALID_BLOCK, METADATA_UNCOMPRESSED_BIT, SQUASHFS_MAGIC, SQUASHFS_MAJOR, SQUASHFS_MINOR, SUPERBLOCK, SUPERBLOCK_BYTES } from "./layout.js";

export interface SuperblockFields {
  readonly inodes: number;
  readonly mkfsTime: number;
  readonly blockSize: number;
  readonly fragments: number;
  readonly compression: number;
  readonly flags: number;
  readonly ids: number;
  readonly rootInodeRef: number;
  readonly bytesUsed: number;
  readonly idTableStart: number;
  /** INVALID_BLOCK when the image has no xattrs. */
  readonly xattrIdTableStart: number;
  readonly inodeTableStart: number;
  readonly directoryTableStart: number;
  readonly fragmentTableStart: number;
  /** INVALID_BLOCK when there is no export table. */
  readonly lookupTableStart: number;
}

function setOffset(data: DataView, field: string, value: number): void {
  const offset = SUPERBLOCK[field]![0];
  if (value === INVALID_BLOCK) {
    data.setUint32(offset, 0xffffffff, true);
    data.setUint32(offset + 4, 0xffffffff, true);
  } else {
    setU64LE(data, offset, value);
  }
}

export function encodeSuperblock(fields: SuperblockFields): Uint8Array {
  const bytes = new Uint8Array(SUPERBLOCK_BYTES);
  const data = view(bytes);
  const u32 = (field: string, value: number): void => data.setUint32(SUPERBLOCK[field]![0], value, true);
  const u16 = (field: string, value: number): void => data.setUint16(SUPERBLOCK[field]![0], value, true);
  u32("s_magic", SQUASHFS_MAGIC);
  u32("inodes", fields.inodes);
  u32("mkfs_time", fields.mkfsTime);
  u32("block_size", fields.blockSize);
  u32("fragments", fields.fragments);
  u16("compression", fields.compression);
  u16("block_log", log2Exact(fields.blockSize));
  u16("flags", fields.flags);
  // no_ids is a u16 count; the planner rejects more than 65535 distinct ids.
  u16("no_ids", fields.ids);
  u16("s_major", SQUASHFS_MAJOR);
  u16("s_minor", SQUASHFS_MINOR);
  setOffset(data, "root_inode", fields.rootInodeRef);
  setOffset(data, "bytes_used", fields.bytesUsed);
  setOffset(data, "id_table_start", fields.idTableStart);
  setOffset(data, "xattr_id_table_start", fields.xattrIdTableStart);
  setOffset(data, "inode_table_start", fields.inodeTableStart);
  setOffset(data, "directory_table_start", fields.directoryTableStart);
  setOffset(data, "fragment_table_start", fields.fragmentTableStart);
  setOffset(data, "lookup_table_start", fields.lookupTableStart);
  return bytes;
}

/**
 * The compressor options block mksquashfs writes right after the superblock when a level is
 * not the compressor's default (flag SQUASHFS_COMP_OPT): one metadata block stored raw
 * (length | 0x8000), holding struct gzip_comp_opts { u32 compression_level; u16 window_size;
 * u16 strategy } or struct zstd_comp_opts { u32 compression_level }. Readers only display it.
 */
export function encodeCompressorOptions(codec: "gzip" | "zstd", level: number): Uint8Array {
  const payloadBytes = codec === "gzip" ? 8 : 4;
  const bytes = new Uint8Array(2 + payloadBytes);
  const data = view(bytes);
  data.setUint16(0, payloadBytes | METADATA_UNCOMPRESSED_BIT, true);
  data.setUint32(2, level, true);
  if (codec === "gzip") {
    // zlib window bits 15 (32 KiB) and no strategy bits: what every gzip block here uses.
    data.setUint16(6, 15, true);
    data.setUint16(8, 0, true);
  }
  return bytes;
}
