/**
 * Directory listings (squashfs_fs.h struct squashfs_dir_header / squashfs_dir_entry /
 * squashfs_dir_index). Entries arrive sorted by name bytes. A run under one header may hold
 * at most 256 entries, all of whose inodes sit in one inode-table block, with inode numbers
 * within a signed 16-bit delta of the header's. A new header also starts whenever an entry
 * would begin in a later directory-table block than its header, and each such header gets an
 * index entry: the kernel's get_dir_index_using_name() then jumps straight to the block that
 * can hold a name, and computes the in-block offset as (listing start offset + index) % 8192.
 */
import { view } from "../../core/bytes.js";
import type { DirIndexEntry } from "./inode.js";
import {
  DIR_ENTRY, DIR_ENTRY_BYTES, DIR_HEADER, DIR_HEADER_BYTES, DIR_HEADER_MAX_ENTRIES, METADATA_BLOCK_BYTES,
} from "./layout.js";
import type { MetadataRef, MetadataWriter } from "./metadata.js";

export interface ListingEntry {
  readonly nameBytes: Uint8Array;
  readonly inodeNumber: number;
  /** Where the entry's inode was written in the inode table. */
  readonly inodeRef: MetadataRef;
  /** Basic inode type, even for extended inodes (the kernel maps it to d_type). */
  readonly basicType: number;
}

export interface WrittenListing {
  /** Where the listing starts in the directory table. */
  readonly start: MetadataRef;
  /** Listing bytes (headers and entries), without the +3 bias of the inode's file_size. */
  readonly listingBytes: number;
  readonly index: readonly DirIndexEntry[];
}

const S16_MIN = -32768;
const S16_MAX = 32767;

export function writeListing(writer: MetadataWriter, entries: readonly ListingEntry[]): WrittenListing {
  const start = writer.position();
  const index: DirIndexEntry[] = [];
  const blockOf = (listingOffset: number): number => Math.floor((start.offset + listingOffset) / METADATA_BLOCK_BYTES);
  let listingOffset = 0;
  let next = 0;
  while (next < entries.length) {
    const first = entries[next]!;
    const headerOffset = listingOffset;
    const headerBlock = blockOf(headerOffset);
    let count = 1;
    let end = headerOffset + DIR_HEADER_BYTES + DIR_ENTRY_BYTES + first.nameBytes.length;
    while (next + count < entries.length && count < DIR_HEADER_MAX_ENTRIES) {
      const candidate = entries[next + count]!;
      const delta = candidate.inodeNumber - first.inodeNumber;
      if (candidate.inodeRef.block !== first.inodeRef.block || delta < S16_MIN || delta > S16_MAX || blockOf(end) !== headerBlock) break;
      end += DIR_ENTRY_BYTES + candidate.nameBytes.length;
      count++;
    }
    const run = entries.slice(next, next + count);
    if (headerOffset > 0 && headerBlock !== blockOf(index.length > 0 ? index[index.length - 1]!.listingOffset : 0)) {
      index.push({ listingOffset: headerOffset, block: writer.position().block, firstName: first.nameBytes });
    }
    writer.write(encodeRun(run, end - headerOffset));
    listingOffset = end;
    next += count;
  }
  return { start, listingBytes: listingOffset, index };
}

/** One header and its entries; inode numbers are stored as deltas from the first entry's. */
function encodeRun(run: readonly ListingEntry[], sizeBytes: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  const data = view(bytes);
  const first = run[0]!;
  // count is stored off by one (0 means one entry).
  data.setUint32(DIR_HEADER["count"]![0], run.length - 1, true);
  data.setUint32(DIR_HEADER["start_block"]![0], first.inodeRef.block, true);
  data.setUint32(DIR_HEADER["inode_number"]![0], first.inodeNumber, true);
  let position = DIR_HEADER_BYTES;
  for (const entry of run) {
    data.setUint16(position + DIR_ENTRY["offset"]![0], entry.inodeRef.offset, true);
    data.setInt16(position + DIR_ENTRY["inode_number"]![0], entry.inodeNumber - first.inodeNumber, true);
    data.setUint16(position + DIR_ENTRY["type"]![0], entry.basicType, true);
    data.setUint16(position + DIR_ENTRY["size"]![0], entry.nameBytes.length - 1, true);
    bytes.set(entry.nameBytes, position + DIR_ENTRY_BYTES);
    position += DIR_ENTRY_BYTES + entry.nameBytes.length;
  }
  return bytes;
}
