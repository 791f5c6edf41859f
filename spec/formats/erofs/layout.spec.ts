import { describe, expect, it } from "vitest";
import {
  COMPACT_INODE_BYTES,
  COMPACT_INODE_FIELDS,
  DIRENT_BYTES,
  DIRENT_FIELDS,
  EXTENDED_INODE_BYTES,
  EXTENDED_INODE_FIELDS,
  SUPERBLOCK_BYTES,
  SUPERBLOCK_FIELDS,
  XATTR_ENTRY_FIELDS,
  XATTR_ENTRY_HEADER_BYTES,
  XATTR_IBODY_HEADER_BYTES,
  XATTR_IBODY_HEADER_FIELDS,
  type FieldTable,
} from "../../../lib/formats/erofs/layout.js";

/** Sizes from the BUILD_BUG_ONs in erofs_fs.h: fields must tile the structure exactly. */
const TABLES: [string, FieldTable, number][] = [
  ["erofs_super_block", SUPERBLOCK_FIELDS, SUPERBLOCK_BYTES],
  ["erofs_inode_compact", COMPACT_INODE_FIELDS, COMPACT_INODE_BYTES],
  ["erofs_inode_extended", EXTENDED_INODE_FIELDS, EXTENDED_INODE_BYTES],
  ["erofs_xattr_ibody_header", XATTR_IBODY_HEADER_FIELDS, XATTR_IBODY_HEADER_BYTES],
  ["erofs_xattr_entry", XATTR_ENTRY_FIELDS, XATTR_ENTRY_HEADER_BYTES],
  ["erofs_dirent", DIRENT_FIELDS, DIRENT_BYTES],
];

describe("erofs field tables", () => {
  it.each(TABLES)("%s fields tile %d bytes without gaps or overlaps", (_name, table, size) => {
    const fields = Object.values(table).sort((left, right) => left[0] - right[0]);
    let cursor = 0;
    for (const [offset, length] of fields) {
      expect(offset).toBe(cursor);
      cursor += length;
    }
    expect(cursor).toBe(size);
  });

  it("matches the kernel's expected sizes", () => {
    expect([SUPERBLOCK_BYTES, COMPACT_INODE_BYTES, EXTENDED_INODE_BYTES, XATTR_IBODY_HEADER_BYTES, XATTR_ENTRY_HEADER_BYTES, DIRENT_BYTES]).toEqual([128, 32, 64, 12, 4, 12]);
  });
});
