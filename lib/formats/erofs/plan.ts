/**
 * planErofs: the whole erofs layout from a tree, before any byte is written. Pure: no clock,
 * no I/O; file contents are only referenced (their sizes come from the tree).
 *
 * Image layout (4 KiB blocks):
 *   block 0     [0, 1024) zero, superblock at 1024 (128 bytes), rest zero
 *   data area   each inode's whole data blocks, in inode order, from block 1
 *   meta area   from meta_blkaddr: inodes (best fit into blocks), each followed by its xattr
 *               body and inline tail; nid = (offset − meta_blkaddr × 4096) / 32
 *   xattr area  shared xattr entries (xattr_blkaddr), when any value is used by ≥ 2 inodes
 * Data comes first so the writer reads every file once, front to back, keeping the small
 * inline tails (< 4 KiB each, bounded in total) for the meta area that follows.
 * Compressed files (options.compressed, from compressErofsFiles) take their physical clusters'
 * blocks in the data area instead, and their meta record carries the map header and one
 * index per logical cluster instead of an inline tail.
 */
import { utf8 } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { normalizeGuid, guidToBytes } from "../../core/guid.js";
import { alignUp } from "../../core/int.js";
import type { DirNode, TreeNode } from "../../tree/tree.js";
import { countLinks, fullMode } from "../../tree/tree.js";
import { layoutDirectory, type DirectoryLayout } from "./dir.js";
import type { CompressedFile, ErofsCompressedData } from "./compress.js";
import { compressedIndexBytes, inodeCoreBytes } from "./encode.js";
import { planInodes, type InodeRecord } from "./inodes.js";
import {
  BLOCK_SIZE_BYTES,
  DATALAYOUT_COMPRESSED_FULL,
  DATALAYOUT_FLAT_INLINE,
  DATALAYOUT_FLAT_PLAIN,
  FILE_TYPE,
  INODE_SLOT_BYTES,
  NULL_BLOCK_ADDRESS,
} from "./layout.js";
import { encodeXattr, MAX_SHARED_PER_INODE, xattrBodyBytes, type EncodedXattr } from "./xattrs.js";

export interface ErofsOptions {
  /** Filesystem UUID (dashed or 32 hex digits), e.g. repart's derived fs UUID. */
  readonly uuid: string;
  /** Volume label, at most 15 bytes of UTF-8 (mkfs.erofs -L's limit). */
  readonly label?: string;
  /** Superblock build time; compact inodes inherit it as their mtime. Default 0. */
  readonly sourceDateEpoch?: number;
  /** compressErofsFiles' result for this tree: those files are stored compressed. */
  readonly compressed?: ErofsCompressedData;
}

export interface PlannedInode {
  readonly node: TreeNode;
  /** First path that reaches the node, for messages. */
  readonly path: string;
  readonly ino: number;
  readonly nid: number;
  /** Byte offset of the inode core in the image (meta_blkaddr × 4096 + nid × 32). */
  readonly offsetBytes: number;
  readonly extended: boolean;
  readonly dataLayout: number;
  readonly mode: number;
  readonly nlink: number;
  readonly sizeBytes: number;
  /** i_u: raw_blkaddr (or NULL_BLOCK_ADDRESS) for files, dirs, symlinks; encoded rdev for devices. */
  readonly union: number;
  readonly sharedXattrIds: readonly number[];
  readonly inlineXattrs: readonly EncodedXattr[];
  readonly xattrBodyBytes: number;
  /** Bytes of data stored right after the xattr body (FLAT_INLINE), 0 otherwise. */
  readonly tailBytes: number;
  /** First data block, NULL_BLOCK_ADDRESS when there is none. */
  readonly dataBlockAddress: number;
  readonly dataBlocks: number;
  readonly directory: DirectoryLayout | undefined;
  /** Compressed files: their physical clusters, from dataBlockAddress on. */
  readonly compressed: CompressedFile | undefined;
  /** Bytes at offsetBytes: inode core, xattr body, then the inline tail or the compression indexes. */
  readonly recordBytes: number;
}

export interface ErofsPlan {
  readonly sizeBytes: number;
  readonly blocks: number;
  readonly rootNid: number;
  readonly buildTimeSeconds: number;
  readonly uuid: Uint8Array;
  readonly volumeName: Uint8Array;
  /** In inode order (= ino − 1): ascending dataBlockAddress for those with data; offsets are best fit. */
  readonly inodes: readonly PlannedInode[];
  /** The data area is [DATA_START_BLOCK, metaBlockAddress). */
  readonly metaBlockAddress: number;
  /** End of the meta area (block aligned). */
  readonly metaEndBytes: number;
  readonly xattrBlockAddress: number;
  readonly sharedXattrs: readonly EncodedXattr[];
  readonly compression: ErofsCompressedData | undefined;
}

/** Block 0 holds only the superblock; data starts right after it. */
export const DATA_START_BLOCK = 1;

const MAX_LABEL_BYTES = 15;
/** Block addresses and the block count are __le32. */
const MAX_BLOCKS = 0xffffffff;

export function planErofs(tree: DirNode, options: ErofsOptions): ErofsPlan {
  const uuidText = normalizeGuid(options.uuid);
  if (!uuidText) fail(ErrorCode.Format, `erofs uuid: "${options.uuid}" is not a UUID`, "give a UUID like 01234567-89ab-cdef-0123-456789abcdef");
  const volumeName = utf8(options.label ?? "");
  if (volumeName.length > MAX_LABEL_BYTES || volumeName.includes(0)) {
    fail(ErrorCode.Format, `erofs label: "${options.label}" is ${volumeName.length} bytes (at most ${MAX_LABEL_BYTES}, no NUL)`, "use a shorter label");
  }
  const buildTimeSeconds = options.sourceDateEpoch ?? 0;
  if (!Number.isSafeInteger(buildTimeSeconds) || buildTimeSeconds < 0) {
    fail(ErrorCode.Format, `erofs sourceDateEpoch: ${buildTimeSeconds} is not a non-negative integer`, "set SOURCE_DATE_EPOCH to whole seconds");
  }

  const records = planInodes(tree);
  const links = countLinks(tree);
  const shared = chooseSharedXattrs(records);

  const drafts = records.map((record, index) => draftInode(record, index, links, shared, buildTimeSeconds, options.compressed?.files.get(record.node)));

  let nextBlock = DATA_START_BLOCK;
  const data = drafts.map((draft) => {
    const hasData = draft.record.node.kind === "file" || draft.record.node.kind === "dir" || draft.record.node.kind === "symlink";
    const dataBlocks = !hasData ? 0 : draft.compressed ? draft.compressed.blocks : draft.tailBytes > 0 ? Math.floor(draft.sizeBytes / BLOCK_SIZE_BYTES) : Math.ceil(draft.sizeBytes / BLOCK_SIZE_BYTES);
    const dataBlockAddress = dataBlocks > 0 ? nextBlock : NULL_BLOCK_ADDRESS;
    nextBlock += dataBlocks;
    return { hasData, dataBlocks, dataBlockAddress };
  });
  const metaBlockAddress = nextBlock;
  const placed = placeMetadata(drafts);
  const metaEndBytes = (metaBlockAddress + placed.blocks) * BLOCK_SIZE_BYTES;
  const sharedBytes = shared.list.reduce((total, xattr) => total + xattr.entryBytes, 0);
  const xattrBlockAddress = sharedBytes > 0 ? metaEndBytes / BLOCK_SIZE_BYTES : 0;
  const blocks = alignUp(metaEndBytes + sharedBytes, BLOCK_SIZE_BYTES) / BLOCK_SIZE_BYTES;
  if (blocks > MAX_BLOCKS) {
    fail(ErrorCode.Size, `erofs: the image needs ${blocks} blocks of 4096 bytes (at most ${MAX_BLOCKS})`, "split the tree over several partitions");
  }

  const inodes: PlannedInode[] = drafts.map((draft, index) => {
    const node = draft.record.node;
    const { hasData, dataBlocks, dataBlockAddress } = data[index]!;
    return {
      node,
      path: draft.record.path,
      ino: index + 1,
      nid: placed.offsets[index]! / INODE_SLOT_BYTES,
      offsetBytes: metaBlockAddress * BLOCK_SIZE_BYTES + placed.offsets[index]!,
      extended: draft.extended,
      dataLayout: draft.compressed ? DATALAYOUT_COMPRESSED_FULL : draft.tailBytes > 0 ? DATALAYOUT_FLAT_INLINE : DATALAYOUT_FLAT_PLAIN,
      mode: fullMode(node),
      nlink: draft.nlink,
      sizeBytes: draft.sizeBytes,
      // i_u: compressed_blocks for compressed files (their indexes hold the addresses).
      union: draft.compressed ? draft.compressed.blocks : hasData ? dataBlockAddress : draft.deviceNumber,
      sharedXattrIds: draft.sharedXattrIds,
      inlineXattrs: draft.inlineXattrs,
      xattrBodyBytes: draft.xattrBodyBytes,
      tailBytes: draft.tailBytes,
      dataBlockAddress,
      dataBlocks,
      directory: draft.directory,
      compressed: draft.compressed,
      recordBytes: draft.metaBytes + draft.tailBytes,
    };
  });

  return {
    sizeBytes: blocks * BLOCK_SIZE_BYTES,
    blocks,
    rootNid: inodes[0]!.nid,
    buildTimeSeconds,
    uuid: guidToBytes(uuidText),
    volumeName,
    inodes,
    metaBlockAddress,
    metaEndBytes,
    xattrBlockAddress,
    sharedXattrs: shared.list,
    compression: options.compressed,
  };
}

interface SharedXattrs {
  readonly list: EncodedXattr[];
  /** key → shared xattr id (its offset in the shared area / 4). */
  readonly ids: Map<string, number>;
  readonly encoded: EncodedXattr[][];
}

/**
 * An identical (name, value) pair on two or more inodes is stored once in the shared area
 * and referenced by a 4-byte id: entries are at least 8 bytes, so sharing never costs more.
 * Sorted by key so the area does not depend on walk order.
 */
function chooseSharedXattrs(records: readonly InodeRecord[]): SharedXattrs {
  const encoded = records.map((record) => record.node.meta.xattrs.map((xattr) => encodeXattr(xattr, record.path || "/")));
  const counts = new Map<string, { xattr: EncodedXattr; count: number }>();
  for (const list of encoded) {
    for (const xattr of list) {
      const entry = counts.get(xattr.key);
      if (entry) entry.count++;
      else counts.set(xattr.key, { xattr, count: 1 });
    }
  }
  const list = [...counts.values()].filter((entry) => entry.count >= 2).map((entry) => entry.xattr);
  list.sort((left, right) => (left.key < right.key ? -1 : left.key > right.key ? 1 : 0));
  const ids = new Map<string, number>();
  let offsetBytes = 0;
  for (const xattr of list) {
    ids.set(xattr.key, offsetBytes / 4);
    offsetBytes += xattr.entryBytes;
  }
  return { list, ids, encoded };
}

interface InodeDraft {
  readonly record: InodeRecord;
  readonly extended: boolean;
  readonly nlink: number;
  readonly sizeBytes: number;
  readonly deviceNumber: number;
  readonly sharedXattrIds: number[];
  readonly inlineXattrs: EncodedXattr[];
  readonly xattrBodyBytes: number;
  /** Inode core + xattr body (+ the compression indexes of a compressed file). */
  readonly metaBytes: number;
  /** Tail stored inline (FLAT_INLINE): size % block size when it fits one block with the inode, else 0. */
  readonly tailBytes: number;
  readonly directory: DirectoryLayout | undefined;
  readonly compressed: CompressedFile | undefined;
}

function draftInode(record: InodeRecord, index: number, links: Map<TreeNode, number>, shared: SharedXattrs, buildTimeSeconds: number, compressed: CompressedFile | undefined): InodeDraft {
  const node = record.node;
  const where = record.path || "/";
  const sharedXattrIds: number[] = [];
  const inlineXattrs: EncodedXattr[] = [];
  for (const xattr of shared.encoded[index]!) {
    const id = shared.ids.get(xattr.key);
    if (id !== undefined && sharedXattrIds.length < MAX_SHARED_PER_INODE) sharedXattrIds.push(id);
    else inlineXattrs.push(xattr);
  }
  const bodyBytes = xattrBodyBytes(sharedXattrIds.length, inlineXattrs, where);

  let directory: DirectoryLayout | undefined;
  let nlink = links.get(node) ?? 1;
  let sizeBytes = 0;
  if (node.kind === "dir") {
    const children = node.entries.map((entry, childIndex) => ({ nameBytes: entry.nameBytes, inodeIndex: record.childIndexes[childIndex]!, fileType: FILE_TYPE[entry.node.kind] }));
    directory = layoutDirectory(children, index, record.parentIndex, FILE_TYPE.dir);
    sizeBytes = directory.sizeBytes;
    nlink = 2 + node.entries.filter((entry) => entry.node.kind === "dir").length;
  } else if (node.kind === "file") {
    sizeBytes = node.size;
  } else if (node.kind === "symlink") {
    sizeBytes = record.symlinkTarget!.length;
  }

  const meta = node.meta;
  const extended = meta.uid > 0xffff || meta.gid > 0xffff || sizeBytes >= 2 ** 32 || nlink > 0xffff || meta.mtime !== buildTimeSeconds;
  const inodeBytes = inodeCoreBytes(extended) + bodyBytes;
  const metaBytes = compressed ? inodeBytes + compressedIndexBytes(inodeBytes, Math.ceil(sizeBytes / BLOCK_SIZE_BYTES)) : inodeBytes;
  const tail = sizeBytes % BLOCK_SIZE_BYTES;
  const hasData = node.kind === "file" || node.kind === "dir" || node.kind === "symlink";
  const tailBytes = hasData && !compressed && tail > 0 && metaBytes + tail <= BLOCK_SIZE_BYTES ? tail : 0;
  return {
    record,
    extended,
    nlink,
    sizeBytes,
    deviceNumber: record.deviceNumber,
    sharedXattrIds,
    inlineXattrs,
    xattrBodyBytes: bodyBytes,
    metaBytes,
    tailBytes,
    directory,
    compressed,
  };
}

/**
 * Places every inode record (core + xattr body + inline tail) inside one block when it fits
 * in one: the kernel requires inline data not to cross a block boundary
 * (erofs_map_blocks_flat), and whole records keep every reader simple. Blocks are filled best
 * fit, like mkfs.erofs's bucketed buffer manager: each partly used block sits in a bucket by
 * its free 32-byte slots, and a record takes the block with the least room that still holds
 * it, else opens a new block. Records larger than a block (huge xattrs, never with a tail)
 * start on a fresh block and run on. The first slot stays empty so that no inode has nid 0
 * (the root would otherwise get inode number 0, which userspace treats as "no inode").
 * Offsets are relative to the start of the meta area.
 */
function placeMetadata(drafts: readonly InodeDraft[]): { offsets: number[]; blocks: number } {
  const slotsPerBlock = BLOCK_SIZE_BYTES / INODE_SLOT_BYTES;
  const buckets: number[][] = Array.from({ length: slotsPerBlock + 1 }, () => []);
  // Bit `free` is set while buckets[free] is not empty: the best fit is the lowest set bit ≥ slots.
  const nonEmpty = new Uint32Array(Math.ceil((slotsPerBlock + 1) / 32));
  const usedSlots: number[] = [];
  const release = (block: number): void => {
    const free = slotsPerBlock - usedSlots[block]!;
    if (free === 0) return;
    buckets[free]!.push(block);
    nonEmpty[free >>> 5]! |= 1 << (free & 31);
  };
  const bestFit = (slots: number): number | undefined => {
    for (let word = slots >>> 5; word < nonEmpty.length; word++) {
      const bits = word === slots >>> 5 ? nonEmpty[word]! & (~0 << (slots & 31)) : nonEmpty[word]!;
      if (bits === 0) continue;
      const free = word * 32 + 31 - Math.clz32(bits & -bits);
      const bucket = buckets[free]!;
      const block = bucket.pop();
      if (bucket.length === 0) nonEmpty[word]! &= ~(1 << (free & 31));
      return block;
    }
    return undefined;
  };
  usedSlots.push(1);
  release(0);
  const offsets: number[] = [];
  for (const draft of drafts) {
    const recordBytes = draft.metaBytes + draft.tailBytes;
    const slots = Math.ceil(recordBytes / INODE_SLOT_BYTES);
    let block: number | undefined;
    if (slots <= slotsPerBlock) {
      block = bestFit(slots);
      if (block === undefined) {
        block = usedSlots.length;
        usedSlots.push(0);
      }
      offsets.push(block * BLOCK_SIZE_BYTES + usedSlots[block]! * INODE_SLOT_BYTES);
      usedSlots[block]! += slots;
      release(block);
    } else {
      const first = usedSlots.length;
      const spanned = Math.ceil(slots / slotsPerBlock);
      for (let index = 0; index < spanned; index++) usedSlots.push(slotsPerBlock);
      usedSlots[first + spanned - 1] = slots - (spanned - 1) * slotsPerBlock;
      release(first + spanned - 1);
      offsets.push(first * BLOCK_SIZE_BYTES);
    }
  }
  return { offsets, blocks: usedSlots.length };
}
