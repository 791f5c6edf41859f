/**
 * Writes the inode table and the directory table in the planned order (see plan.ts): for a
 * directory, its subdirectories' contents first, then its entries' inodes, then its listing,
 * whose location and size go into the directory's own inode, written by its parent. Every
 * reference comes from MetadataWriter.position() at the moment the bytes are written.
 *
 * Basic forms are used unless a field needs the extended one: xattrs, a listing over 64 KiB
 * or with an index (ldir); hardlinks, sparse blocks, 4 GiB sizes or offsets (lreg).
 */
import { clampMtime } from "../../core/context.js";
import { utf8 } from "../../core/bytes.js";
import { encodeDeviceNumber, type DirNode, type TreeNode } from "../../tree/tree.js";
import type { FileData } from "./data.js";
import { writeListing, type ListingEntry, type WrittenListing } from "./directory.js";
import {
  encodeDevInode, encodeDirInode, encodeIpcInode, encodeLdirInode, encodeLregInode, encodeRegInode, encodeSymlinkInode,
  extendedType, type InodeHeader,
} from "./inode.js";
import { DIR_SIZE_BIAS, INODE_TYPE, INVALID_INDEX } from "./layout.js";
import { MetadataWriter, packRef, type MetadataRef } from "./metadata.js";
import type { InodePlan } from "./plan.js";
import type { XattrTableWriter } from "./xattr.js";

export interface InodeTables {
  readonly inodes: MetadataWriter;
  readonly directories: MetadataWriter;
  readonly rootRef: number;
  /** Packed inode reference of inode number n at index n - 1 (the export table). */
  readonly exportRefs: readonly number[];
}

export interface InodeContext {
  readonly plan: InodePlan;
  readonly fileData: Map<TreeNode, FileData>;
  readonly xattrs: XattrTableWriter;
  readonly sourceDateEpoch: number | undefined;
}

const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

export function writeInodeTables(root: DirNode, context: InodeContext, inodes: MetadataWriter, directories: MetadataWriter): InodeTables {
  const { plan } = context;
  const idIndex = new Map(plan.ids.map((id, index) => [id, index]));
  const refs = new Map<TreeNode, MetadataRef>();
  const exportRefs: number[] = new Array(plan.inodeCount).fill(0);

  const headerFor = (node: TreeNode, type: number): InodeHeader => {
    // squashfs stores mtimes as u32 seconds: earlier than 1970 or after 2106 cannot be kept.
    const mtime = Math.min(Math.max(clampMtime(node.meta.mtime, context.sourceDateEpoch), 0), U32_MAX);
    return { type, mode: node.meta.mode & 0o7777, uidIndex: idIndex.get(node.meta.uid)!, gidIndex: idIndex.get(node.meta.gid)!, mtime, inodeNumber: plan.numbers.get(node)! };
  };
  const put = (node: TreeNode, bytes: Uint8Array): void => {
    const ref = inodes.position();
    inodes.write(bytes);
    refs.set(node, ref);
    exportRefs[plan.numbers.get(node)! - 1] = packRef(ref);
  };

  const writeDirectoryInode = (directory: DirNode, listing: WrittenListing, parentInode: number): void => {
    const xattr = context.xattrs.indexFor(directory.meta.xattrs);
    const subdirectories = directory.entries.filter((entry) => entry.node.kind === "dir").length;
    const fields = {
      nlink: 2 + subdirectories,
      fileSize: listing.listingBytes + DIR_SIZE_BIAS,
      startBlock: listing.start.block,
      offset: listing.start.offset,
      parentInode,
    };
    if (xattr === undefined && listing.index.length === 0 && fields.fileSize <= U16_MAX) {
      put(directory, encodeDirInode(headerFor(directory, INODE_TYPE.dir), fields));
    } else {
      put(directory, encodeLdirInode(headerFor(directory, INODE_TYPE.ldir), { ...fields, xattr: xattr ?? INVALID_INDEX, index: listing.index }));
    }
  };

  const writeLeafInode = (node: Exclude<TreeNode, DirNode>): void => {
    const xattr = context.xattrs.indexFor(node.meta.xattrs);
    const nlink = plan.links.get(node) ?? 1;
    switch (node.kind) {
      case "file": {
        const data = context.fileData.get(node)!;
        const fields = { startBlock: data.startBlock, fileSize: node.size, fragment: data.fragmentIndex, fragmentOffset: data.fragmentOffset, blockSizes: data.blockSizes };
        const basic = xattr === undefined && nlink === 1 && data.sparseBytes === 0 && data.startBlock <= U32_MAX && node.size <= U32_MAX;
        put(node, basic
          ? encodeRegInode(headerFor(node, INODE_TYPE.file), fields)
          : encodeLregInode(headerFor(node, INODE_TYPE.lfile), { ...fields, sparseBytes: data.sparseBytes, nlink, xattr: xattr ?? INVALID_INDEX }));
        return;
      }
      case "symlink":
        put(node, encodeSymlinkInode(headerFor(node, typeFor(INODE_TYPE.symlink, xattr)), { nlink, target: utf8(node.target), xattr }));
        return;
      case "chardev":
      case "blockdev": {
        const basicType = node.kind === "chardev" ? INODE_TYPE.chardev : INODE_TYPE.blockdev;
        put(node, encodeDevInode(headerFor(node, typeFor(basicType, xattr)), { nlink, rdev: encodeDeviceNumber(node.major, node.minor), xattr }));
        return;
      }
      case "fifo":
      case "socket": {
        const basicType = node.kind === "fifo" ? INODE_TYPE.fifo : INODE_TYPE.socket;
        put(node, encodeIpcInode(headerFor(node, typeFor(basicType, xattr)), { nlink, xattr }));
        return;
      }
    }
  };

  /** Writes a directory's subtree and listing; returns the listing for the parent to use. */
  const writeDirectory = (directory: DirNode): WrittenListing => {
    const listings = new Map<DirNode, WrittenListing>();
    for (const entry of directory.entries) if (entry.node.kind === "dir") listings.set(entry.node, writeDirectory(entry.node));
    const selfNumber = plan.numbers.get(directory)!;
    for (const entry of directory.entries) {
      if (refs.has(entry.node)) continue;
      if (entry.node.kind === "dir") writeDirectoryInode(entry.node, listings.get(entry.node)!, selfNumber);
      else writeLeafInode(entry.node);
    }
    const listingEntries: ListingEntry[] = directory.entries.map((entry) => ({
      nameBytes: entry.nameBytes,
      inodeNumber: plan.numbers.get(entry.node)!,
      inodeRef: refs.get(entry.node)!,
      basicType: BASIC_TYPE[entry.node.kind],
    }));
    return writeListing(directories, listingEntries);
  };

  const rootListing = writeDirectory(root);
  // mksquashfs gives the root directory the parent number inode_count + 1.
  writeDirectoryInode(root, rootListing, plan.inodeCount + 1);
  return { inodes, directories, rootRef: packRef(refs.get(root)!), exportRefs };
}

const BASIC_TYPE: Record<TreeNode["kind"], number> = {
  dir: INODE_TYPE.dir,
  file: INODE_TYPE.file,
  symlink: INODE_TYPE.symlink,
  chardev: INODE_TYPE.chardev,
  blockdev: INODE_TYPE.blockdev,
  fifo: INODE_TYPE.fifo,
  socket: INODE_TYPE.socket,
};

function typeFor(basicType: number, xattr: number | undefined): number {
  return xattr === undefined ? basicType : extendedType(basicType);
}
