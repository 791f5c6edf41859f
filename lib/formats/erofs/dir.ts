/**
 * Directory contents: the sorted dirent list ("." and ".." included) and its split into
 * blocks. Readers binary-search a directory by the first name of each block and then within
 * the block (fs/erofs/namei.c), so the whole list, dots included, is in memcmp order.
 */
import { compareBytes } from "../../core/bytes.js";
import { BLOCK_SIZE_BYTES, DIRENT_BYTES } from "./layout.js";

export interface DirectoryItem {
  readonly nameBytes: Uint8Array;
  /** Index of the target in the plan's inode list. */
  readonly inodeIndex: number;
  readonly fileType: number;
}

export interface DirectoryLayout {
  /** Items of each block, in order; every block but the last is stored as a full block. */
  readonly blocks: readonly (readonly DirectoryItem[])[];
  /** i_size: full blocks × block size + bytes used in the last block. */
  readonly sizeBytes: number;
}

const DOT = new Uint8Array([0x2e]);
const DOT_DOT = new Uint8Array([0x2e, 0x2e]);

/**
 * Sorts the items with "." and "..", then fills blocks greedily: an entry costs 12 bytes of
 * dirent plus its name, and a block takes entries while they fit in 4096 bytes (as
 * mkfs.erofs's erofs_prepare_dir_file does).
 */
export function layoutDirectory(children: readonly DirectoryItem[], selfIndex: number, parentIndex: number, directoryType: number): DirectoryLayout {
  const items: DirectoryItem[] = [
    { nameBytes: DOT, inodeIndex: selfIndex, fileType: directoryType },
    { nameBytes: DOT_DOT, inodeIndex: parentIndex, fileType: directoryType },
    ...children,
  ];
  items.sort((left, right) => compareBytes(left.nameBytes, right.nameBytes));
  const blocks: DirectoryItem[][] = [];
  let current: DirectoryItem[] = [];
  let usedBytes = 0;
  for (const item of items) {
    const cost = DIRENT_BYTES + item.nameBytes.length;
    if (usedBytes + cost > BLOCK_SIZE_BYTES) {
      blocks.push(current);
      current = [];
      usedBytes = 0;
    }
    current.push(item);
    usedBytes += cost;
  }
  blocks.push(current);
  return { blocks, sizeBytes: (blocks.length - 1) * BLOCK_SIZE_BYTES + usedBytes };
}
