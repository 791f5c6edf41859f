/**
 * erofs on-disk structures as field tables: [offset, length] in bytes, named as in the kernel's
 * fs/erofs/erofs_fs.h (and erofs-utils include/erofs_fs.h), which is the specification. All
 * integers are little-endian. spec/formats/erofs/layout.spec.ts checks sizes and overlaps.
 */

export type FieldTable = Readonly<Record<string, readonly [offset: number, length: number]>>;

/** The superblock starts 1024 bytes into block 0 "to allow for x86 boot sectors" (erofs_fs.h). */
export const SUPERBLOCK_OFFSET_BYTES = 1024;
export const EROFS_MAGIC = 0xe0f5e1e2;

/** We only write 4 KiB blocks: the page size of common x86-64/arm64 kernels (older kernels require it). */
export const BLOCK_SIZE_BITS = 12;
export const BLOCK_SIZE_BYTES = 1 << BLOCK_SIZE_BITS;

/** Inodes live at meta_blkaddr * block size + nid * 32: every inode is 32-byte aligned. */
export const INODE_SLOT_BYTES = 32;

export const FEATURE_COMPAT_SB_CHKSUM = 0x1;
/** Compressed data sits at the end of its physical cluster, zeros before it ("0padding"). */
export const FEATURE_INCOMPAT_ZERO_PADDING = 0x1;
/**
 * The same bit means COMPR_CFGS (per-algorithm configurations follow the superblock,
 * available_compr_algs says which) and BIG_PCLUSTER (physical clusters of several blocks).
 */
export const FEATURE_INCOMPAT_COMPR_CFGS = 0x2;

/** struct erofs_super_block: 128 bytes (BUILD_BUG_ON in erofs_fs.h). */
export const SUPERBLOCK_FIELDS = {
  magic: [0, 4],
  checksum: [4, 4],
  feature_compat: [8, 4],
  blkszbits: [12, 1],
  sb_extslots: [13, 1],
  root_nid: [14, 2],
  inos: [16, 8],
  build_time: [24, 8],
  build_time_nsec: [32, 4],
  blocks: [36, 4],
  meta_blkaddr: [40, 4],
  xattr_blkaddr: [44, 4],
  uuid: [48, 16],
  volume_name: [64, 16],
  feature_incompat: [80, 4],
  available_compr_algs: [84, 2],
  extra_devices: [86, 2],
  devt_slotoff: [88, 2],
  dirblkbits: [90, 1],
  xattr_prefix_count: [91, 1],
  xattr_prefix_start: [92, 4],
  packed_nid: [96, 8],
  xattr_filter_reserved: [104, 1],
  reserved2: [105, 23],
} as const satisfies FieldTable;
export const SUPERBLOCK_BYTES = 128;

/** i_format: bit 0 = inode version (0 compact, 1 extended), bits 1..3 = data layout. */
export const INODE_VERSION_COMPACT = 0;
export const INODE_VERSION_EXTENDED = 1;
export const DATALAYOUT_BIT = 1;
/** Data stored in whole blocks from raw_blkaddr; a partial last block is zero padded. */
export const DATALAYOUT_FLAT_PLAIN = 0;
/** Compressed, with one 8-byte index per logical cluster after the map header. */
export const DATALAYOUT_COMPRESSED_FULL = 1;
/** Whole blocks from raw_blkaddr, the tail (i_size % block size) right after the inode's xattrs. */
export const DATALAYOUT_FLAT_INLINE = 2;
/** raw_blkaddr of an inode without data blocks (EROFS_NULL_ADDR = -1, as mkfs.erofs writes it). */
export const NULL_BLOCK_ADDRESS = 0xffffffff;

/** struct erofs_inode_compact: 32 bytes; no mtime (the superblock build time stands in). */
export const COMPACT_INODE_FIELDS = {
  i_format: [0, 2],
  i_xattr_icount: [2, 2],
  i_mode: [4, 2],
  i_nlink: [6, 2],
  i_size: [8, 4],
  i_reserved: [12, 4],
  i_u: [16, 4],
  i_ino: [20, 4],
  i_uid: [24, 2],
  i_gid: [26, 2],
  i_reserved2: [28, 4],
} as const satisfies FieldTable;
export const COMPACT_INODE_BYTES = 32;

/** struct erofs_inode_extended: 64 bytes. */
export const EXTENDED_INODE_FIELDS = {
  i_format: [0, 2],
  i_xattr_icount: [2, 2],
  i_mode: [4, 2],
  i_reserved: [6, 2],
  i_size: [8, 8],
  i_u: [16, 4],
  i_ino: [20, 4],
  i_uid: [24, 4],
  i_gid: [28, 4],
  i_mtime: [32, 8],
  i_mtime_nsec: [40, 4],
  i_nlink: [44, 4],
  i_reserved2: [48, 16],
} as const satisfies FieldTable;
export const EXTENDED_INODE_BYTES = 64;

/**
 * struct erofs_xattr_ibody_header: 12 bytes, then h_shared_count u32 shared xattr ids, then
 * inline entries. i_xattr_icount = 1 + (body bytes - 12) / 4 (erofs_xattr_ibody_size()).
 */
export const XATTR_IBODY_HEADER_FIELDS = {
  h_name_filter: [0, 4],
  h_shared_count: [4, 1],
  h_reserved2: [5, 7],
} as const satisfies FieldTable;
export const XATTR_IBODY_HEADER_BYTES = 12;

/** struct erofs_xattr_entry: 4 bytes, then the name suffix and the value; padded to 4 bytes. */
export const XATTR_ENTRY_FIELDS = {
  e_name_len: [0, 1],
  e_name_index: [1, 1],
  e_value_size: [2, 2],
} as const satisfies FieldTable;
export const XATTR_ENTRY_HEADER_BYTES = 4;
export const XATTR_ALIGN_BYTES = 4;

/** Name indexes (erofs_fs.h "Name indexes"); POSIX ACLs have an empty name suffix. */
export const XATTR_INDEX_USER = 1;
export const XATTR_INDEX_POSIX_ACL_ACCESS = 2;
export const XATTR_INDEX_POSIX_ACL_DEFAULT = 3;
export const XATTR_INDEX_TRUSTED = 4;
export const XATTR_INDEX_SECURITY = 6;

/** struct erofs_dirent: 12 bytes, packed. Names follow all dirents of a block, unterminated. */
export const DIRENT_FIELDS = {
  nid: [0, 8],
  nameoff: [8, 2],
  file_type: [10, 1],
  reserved: [11, 1],
} as const satisfies FieldTable;
export const DIRENT_BYTES = 12;

/** EROFS_NAME_LEN. */
export const MAX_NAME_BYTES = 255;

/** Directory entry file types: the generic FT_* values (erofs_fs.h says they must match). */
export const FILE_TYPE = {
  file: 1,
  dir: 2,
  chardev: 3,
  blockdev: 4,
  fifo: 5,
  socket: 6,
  symlink: 7,
} as const;

/**
 * Compression (erofs_fs.h): a file is cut into logical clusters of one block; each physical
 * cluster holds the compressed form of one or more whole logical clusters. Algorithm ids as in
 * available_compr_algs and h_algorithmtype.
 */
export const COMPRESSION_ALGORITHM = { lz4: 0, deflate: 2, zstd: 3 } as const;

/**
 * The configuration record after the superblock: __le16 size, then struct z_erofs_lz4_cfgs
 * (14 bytes: __le16 max_distance, __le16 max_pclusterblks) or z_erofs_{deflate,zstd}_cfgs
 * (6 bytes).
 */
export const COMPRESSION_CONFIG_BYTES = { lz4: 14, deflate: 6, zstd: 6 } as const;

/** struct z_erofs_map_header: 8 bytes at the inode end rounded up to 8, then 8 reserved bytes, then the indexes. */
export const MAP_HEADER_FIELDS = {
  h_reserved1: [0, 2],
  h_idata_size: [2, 2],
  h_advise: [4, 2],
  h_algorithmtype: [6, 1],
  h_clusterbits: [7, 1],
} as const satisfies FieldTable;
export const MAP_HEADER_BYTES = 8;
export const MAP_HEADER_ALIGN_BYTES = 8;
/** Between the map header and the first full index (Z_EROFS_FULL_INDEX_START). */
export const FULL_INDEX_GAP_BYTES = 8;
/** Z_EROFS_ADVISE_BIG_PCLUSTER_1: HEAD1 physical clusters may span several blocks. */
export const ADVISE_BIG_PCLUSTER_1 = 0x2;

/** struct z_erofs_lcluster_index: 8 bytes per logical cluster. */
export const LCLUSTER_INDEX_FIELDS = {
  di_advise: [0, 2],
  di_clusterofs: [2, 2],
  blkaddr: [4, 4],
  delta0: [4, 2],
  delta1: [6, 2],
} as const satisfies FieldTable;
export const LCLUSTER_INDEX_BYTES = 8;
export const LCLUSTER_TYPE_PLAIN = 0;
export const LCLUSTER_TYPE_HEAD1 = 1;
export const LCLUSTER_TYPE_NONHEAD = 2;
/** On the first NONHEAD of a physical cluster, delta[0] holds this flag and the cluster's block count. */
export const LI_D0_CBLKCNT = 1 << 11;
