/**
 * The veritysetup superblock (cryptsetup lib/verity/verity.c `struct verity_sb`; formats.md
 * §3.1): 512 bytes at the start of the hash device, integers little-endian. The kernel never
 * reads it; veritysetup, systemd-dissect and `gptimg verify` use it to find the parameters.
 * Each field: [offset, length] in bytes.
 */
export const SUPERBLOCK_FIELDS = {
  signature: [0x000, 8],
  version: [0x008, 4],
  hashType: [0x00c, 4],
  uuid: [0x010, 16],
  algorithm: [0x020, 32],
  dataBlockSize: [0x040, 4],
  hashBlockSize: [0x044, 4],
  dataBlocks: [0x048, 8],
  saltSize: [0x050, 2],
  padding1: [0x052, 6],
  salt: [0x058, 256],
  padding2: [0x158, 168],
} as const satisfies Record<string, readonly [number, number]>;

/** "verity\0\0" */
export const SUPERBLOCK_SIGNATURE = new Uint8Array([0x76, 0x65, 0x72, 0x69, 0x74, 0x79, 0x00, 0x00]);

/** The only superblock version libcryptsetup writes or accepts. */
export const SUPERBLOCK_VERSION = 1;

/** Longest salt the superblock holds (the salt field's length). */
export const MAX_SALT_BYTES = SUPERBLOCK_FIELDS.salt[1];
