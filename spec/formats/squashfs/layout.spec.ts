/**
 * The field tables in lib/formats/squashfs/layout.ts against the sizes of the structures in
 * the kernel's squashfs_fs.h: every field inside its structure, no overlaps, no gaps.
 */
import { describe, expect, it } from "vitest";
import * as layout from "../../../lib/formats/squashfs/layout.js";
import type { FieldTable } from "../../../lib/formats/squashfs/layout.js";

const tables: [string, FieldTable, number, number][] = [
  // name, table, first byte covered, structure size (squashfs_fs.h)
  ["super_block", layout.SUPERBLOCK, 0, 96],
  ["base_inode", layout.BASE_INODE, 0, 16],
  ["dir_inode", layout.DIR_INODE, 16, 32],
  ["ldir_inode", layout.LDIR_INODE, 16, 40],
  ["reg_inode", layout.REG_INODE, 16, 32],
  ["lreg_inode", layout.LREG_INODE, 16, 56],
  ["symlink_inode", layout.SYMLINK_INODE, 16, 24],
  ["dev_inode", layout.DEV_INODE, 16, 24],
  ["ipc_inode", layout.IPC_INODE, 16, 20],
  ["dir_header", layout.DIR_HEADER, 0, 12],
  ["dir_entry", layout.DIR_ENTRY, 0, 8],
  ["dir_index", layout.DIR_INDEX, 0, 12],
  ["fragment_entry", layout.FRAGMENT_ENTRY, 0, 16],
  ["xattr_entry", layout.XATTR_ENTRY, 0, 4],
  ["xattr_val", layout.XATTR_VALUE, 0, 4],
  ["xattr_id", layout.XATTR_ID, 0, 16],
  ["xattr_id_table", layout.XATTR_ID_TABLE, 0, 16],
];

describe("squashfs layout tables", () => {
  for (const [name, table, start, size] of tables) {
    it(`${name} fields tile bytes ${start}..${size} exactly`, () => {
      const fields = Object.entries(table).sort((left, right) => left[1][0] - right[1][0]);
      let expected = start;
      for (const [field, [offset, length]] of fields) {
        expect(offset, `${name}.${field} offset`).toBe(expected);
        expect([1, 2, 4, 8], `${name}.${field} length`).toContain(length);
        expected = offset + length;
      }
      expect(expected).toBe(size);
    });
  }

  it("named sizes agree with the tables", () => {
    expect(layout.SUPERBLOCK_BYTES).toBe(96);
    expect(layout.DIR_INODE_BYTES).toBe(32);
    expect(layout.LDIR_INODE_BYTES).toBe(40);
    expect(layout.REG_INODE_BYTES).toBe(32);
    expect(layout.LREG_INODE_BYTES).toBe(56);
    expect(layout.LDEV_INODE_BYTES).toBe(layout.LDEV_XATTR_OFFSET + 4);
    expect(layout.LIPC_INODE_BYTES).toBe(layout.LIPC_XATTR_OFFSET + 4);
    expect(layout.INODE_TYPE.ldir).toBe(layout.INODE_TYPE.dir + layout.EXTENDED_TYPE_OFFSET);
    expect(layout.INODE_TYPE.lsocket).toBe(layout.INODE_TYPE.socket + layout.EXTENDED_TYPE_OFFSET);
  });
});
