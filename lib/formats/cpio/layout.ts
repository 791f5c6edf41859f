/**
 * The "new ASCII" (newc, magic 070701) cpio header, as the kernel's initramfs unpacker reads it
 * (Documentation/driver-api/early-userspace/buffer-format.rst; init/initramfs.c do_header):
 * 110 ASCII bytes, thirteen 8-digit hexadecimal fields after the 6-byte magic. The name (with
 * its NUL) follows and is padded so that header + name is a multiple of 4; file data is padded
 * to a multiple of 4 as well.
 */
export const CPIO_NEWC_MAGIC = "070701";

/** [offset, length] of each field in the 110-byte header. */
export const CPIO_NEWC_HEADER = {
  magic: [0, 6],
  ino: [6, 8],
  mode: [14, 8],
  uid: [22, 8],
  gid: [30, 8],
  nlink: [38, 8],
  mtime: [46, 8],
  filesize: [54, 8],
  devmajor: [62, 8],
  devminor: [70, 8],
  rdevmajor: [78, 8],
  rdevminor: [86, 8],
  namesize: [94, 8],
  check: [102, 8],
} as const satisfies Record<string, readonly [number, number]>;

export const CPIO_NEWC_HEADER_BYTES = 110;

/** Header + name and file data are each padded to this many bytes (buffer-format.rst). */
export const CPIO_ALIGNMENT_BYTES = 4;

/** The name of the last entry of every archive. */
export const CPIO_TRAILER_NAME = "TRAILER!!!";

/** Every numeric field is 8 hex digits, so it holds at most 2^32 - 1. */
export const CPIO_FIELD_MAX = 0xffffffff;
