/**
 * squashfs 4.0 on-disk constants and field tables, as the kernel's fs/squashfs/squashfs_fs.h
 * defines them (all integers little-endian). Offsets are bytes from the start of each
 * structure; every table is checked for size and overlaps by spec/formats/squashfs/layout.spec.ts.
 */

export type FieldTable = Readonly<Record<string, readonly [offset: number, length: number]>>;

/** squashfs_fs.h SQUASHFS_MAGIC: "hsqs" on disk. */
export const SQUASHFS_MAGIC = 0x73717368;
export const SQUASHFS_MAJOR = 4;
export const SQUASHFS_MINOR = 0;

/** struct squashfs_super_block (96 bytes). */
export const SUPERBLOCK_BYTES = 96;
export const SUPERBLOCK: FieldTable = {
  s_magic: [0, 4],
  inodes: [4, 4],
  mkfs_time: [8, 4],
  block_size: [12, 4],
  fragments: [16, 4],
  compression: [20, 2],
  block_log: [22, 2],
  flags: [24, 2],
  no_ids: [26, 2],
  s_major: [28, 2],
  s_minor: [30, 2],
  root_inode: [32, 8],
  bytes_used: [40, 8],
  id_table_start: [48, 8],
  xattr_id_table_start: [56, 8],
  inode_table_start: [64, 8],
  directory_table_start: [72, 8],
  fragment_table_start: [80, 8],
  lookup_table_start: [88, 8],
};

/** Compressor ids (squashfs_fs.h ZLIB_COMPRESSION … ZSTD_COMPRESSION). */
export const COMPRESSION_ID = { gzip: 1, lzma: 2, lzo: 3, xz: 4, lz4: 5, zstd: 6 } as const;

/** Superblock flags (squashfs_fs.h SQUASHFS_NOI … SQUASHFS_NOID bit positions). */
export const FLAG = {
  uncompressedInodes: 0x0001,
  uncompressedData: 0x0002,
  uncompressedFragments: 0x0008,
  noFragments: 0x0010,
  alwaysFragments: 0x0020,
  duplicates: 0x0040,
  exportable: 0x0080,
  uncompressedXattrs: 0x0100,
  noXattrs: 0x0200,
  compressorOptions: 0x0400,
  uncompressedIds: 0x0800,
} as const;

/** Table offsets that are absent are all ones (SQUASHFS_INVALID_BLK). */
export const INVALID_BLOCK = -1;
/** Inode fragment / xattr index meaning "none" (SQUASHFS_INVALID_FRAG, SQUASHFS_INVALID_XATTR). */
export const INVALID_INDEX = 0xffffffff;

/** Metadata blocks hold 8 KiB uncompressed (SQUASHFS_METADATA_SIZE); bit 15 of their u16
 *  length header marks a block stored uncompressed (SQUASHFS_COMPRESSED_BIT). */
export const METADATA_BLOCK_BYTES = 8192;
export const METADATA_UNCOMPRESSED_BIT = 0x8000;
/** Data and fragment size words: bit 24 marks a block stored uncompressed
 *  (SQUASHFS_COMPRESSED_BIT_BLOCK); a size of 0 is a sparse (all-zero) block. */
export const DATA_UNCOMPRESSED_BIT = 1 << 24;

/** Block sizes allowed by the kernel (SQUASHFS_FILE_MAX_SIZE 1 MiB, 4 KiB minimum). */
export const MIN_BLOCK_BYTES = 4096;
export const MAX_BLOCK_BYTES = 1024 * 1024;

/** Directory listings: at most 256 entries per header (SQUASHFS_DIR_COUNT), names of 1..256
 *  bytes (SQUASHFS_NAME_LEN), and entry inode numbers are s16 deltas from the header's. */
export const DIR_HEADER_MAX_ENTRIES = 256;
export const MAX_NAME_BYTES = 256;
export const DIR_HEADER_BYTES = 12;
export const DIR_ENTRY_BYTES = 8;
export const DIR_INDEX_BYTES = 12;
/** The kernel adds "." and ".." itself; an inode's listing size counts them as 3 bytes. */
export const DIR_SIZE_BIAS = 3;

/** Inode types (SQUASHFS_DIR_TYPE … SQUASHFS_LSOCKET_TYPE). Extended = basic + 7. */
export const INODE_TYPE = {
  dir: 1,
  file: 2,
  symlink: 3,
  blockdev: 4,
  chardev: 5,
  fifo: 6,
  socket: 7,
  ldir: 8,
  lfile: 9,
  lsymlink: 10,
  lblockdev: 11,
  lchardev: 12,
  lfifo: 13,
  lsocket: 14,
} as const;
export const EXTENDED_TYPE_OFFSET = 7;

/** struct squashfs_base_inode (16 bytes), the head of every inode. */
export const BASE_INODE_BYTES = 16;
export const BASE_INODE: FieldTable = {
  inode_type: [0, 2],
  mode: [2, 2],
  uid: [4, 2],
  guid: [6, 2],
  mtime: [8, 4],
  inode_number: [12, 4],
};

/** struct squashfs_dir_inode (32 bytes). */
export const DIR_INODE: FieldTable = {
  start_block: [16, 4],
  nlink: [20, 4],
  file_size: [24, 2],
  offset: [26, 2],
  parent_inode: [28, 4],
};
export const DIR_INODE_BYTES = 32;

/** struct squashfs_ldir_inode (40 bytes, followed by i_count index entries). */
export const LDIR_INODE: FieldTable = {
  nlink: [16, 4],
  file_size: [20, 4],
  start_block: [24, 4],
  parent_inode: [28, 4],
  i_count: [32, 2],
  offset: [34, 2],
  xattr: [36, 4],
};
export const LDIR_INODE_BYTES = 40;

/** struct squashfs_reg_inode (32 bytes, followed by the u32 block list). */
export const REG_INODE: FieldTable = {
  start_block: [16, 4],
  fragment: [20, 4],
  offset: [24, 4],
  file_size: [28, 4],
};
export const REG_INODE_BYTES = 32;

/** struct squashfs_lreg_inode (56 bytes, followed by the u32 block list). */
export const LREG_INODE: FieldTable = {
  start_block: [16, 8],
  file_size: [24, 8],
  sparse: [32, 8],
  nlink: [40, 4],
  fragment: [44, 4],
  offset: [48, 4],
  xattr: [52, 4],
};
export const LREG_INODE_BYTES = 56;

/** struct squashfs_symlink_inode (24 bytes + target; the extended form appends a u32 xattr). */
export const SYMLINK_INODE: FieldTable = {
  nlink: [16, 4],
  symlink_size: [20, 4],
};
export const SYMLINK_INODE_BYTES = 24;

/** struct squashfs_dev_inode (24 bytes) / squashfs_ldev_inode (28 bytes). */
export const DEV_INODE: FieldTable = {
  nlink: [16, 4],
  rdev: [20, 4],
};
export const DEV_INODE_BYTES = 24;
export const LDEV_XATTR_OFFSET = 24;
export const LDEV_INODE_BYTES = 28;

/** struct squashfs_ipc_inode (20 bytes) / squashfs_lipc_inode (24 bytes). */
export const IPC_INODE: FieldTable = {
  nlink: [16, 4],
};
export const IPC_INODE_BYTES = 20;
export const LIPC_XATTR_OFFSET = 20;
export const LIPC_INODE_BYTES = 24;

/** struct squashfs_dir_header / squashfs_dir_entry / squashfs_dir_index. */
export const DIR_HEADER: FieldTable = { count: [0, 4], start_block: [4, 4], inode_number: [8, 4] };
export const DIR_ENTRY: FieldTable = { offset: [0, 2], inode_number: [2, 2], type: [4, 2], size: [6, 2] };
export const DIR_INDEX: FieldTable = { index: [0, 4], start_block: [4, 4], size: [8, 4] };

/** struct squashfs_fragment_entry (16 bytes): 512 per metadata block. */
export const FRAGMENT_ENTRY: FieldTable = { start_block: [0, 8], size: [8, 4], unused: [12, 4] };
export const FRAGMENT_ENTRY_BYTES = 16;

/** Xattr key/value records (squashfs_xattr_entry, squashfs_xattr_val) and the per-inode
 *  lookup entry (squashfs_xattr_id, 16 bytes) and table header (squashfs_xattr_id_table). */
export const XATTR_ENTRY: FieldTable = { type: [0, 2], size: [2, 2] };
export const XATTR_VALUE: FieldTable = { vsize: [0, 4] };
export const XATTR_ID: FieldTable = { xattr: [0, 8], count: [8, 4], size: [12, 4] };
export const XATTR_ID_BYTES = 16;
export const XATTR_ID_TABLE: FieldTable = { xattr_table_start: [0, 8], xattr_ids: [8, 4], unused: [12, 4] };
export const XATTR_ID_TABLE_BYTES = 16;
/** Name prefixes squashfs can store (SQUASHFS_XATTR_USER/TRUSTED/SECURITY); others are dropped. */
export const XATTR_PREFIX: readonly (readonly [prefix: string, type: number])[] = [
  ["user.", 0],
  ["trusted.", 1],
  ["security.", 2],
];

/** Output is padded to a multiple of 4 KiB, as mksquashfs does, so loop devices see it whole. */
export const PAD_BYTES = 4096;
