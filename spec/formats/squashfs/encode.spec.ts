/**
 * Known-answer vectors for the pure encoders (hand-assembled from squashfs_fs.h) and the
 * reference-recording rules of the metadata and directory writers.
 */
import { describe, expect, it } from "vitest";
import { concatBytes, toHex, utf8, view } from "../../../lib/core/bytes.js";
import { gzipCodec } from "../../../lib/compress/gzip.js";
import { noneCodec } from "../../../lib/compress/codec.js";
import { writeListing, type ListingEntry } from "../../../lib/formats/squashfs/directory.js";
import { encodeLdirInode, encodeRegInode, encodeSymlinkInode } from "../../../lib/formats/squashfs/inode.js";
import { INVALID_BLOCK, METADATA_BLOCK_BYTES } from "../../../lib/formats/squashfs/layout.js";
import { MetadataWriter, packRef } from "../../../lib/formats/squashfs/metadata.js";
import { encodeCompressorOptions, encodeSuperblock } from "../../../lib/formats/squashfs/superblock.js";
import { seededBytes } from "./support/synthetic-tree.js";

const header = { type: 2, mode: 0o644, uidIndex: 0, gidIndex: 1, mtime: 0x5f5e1000, inodeNumber: 7 };

describe("squashfs encoders", () => {
  it("superblock", () => {
    const bytes = encodeSuperblock({
      inodes: 2, mkfsTime: 0x01020304, blockSize: 131072, fragments: 1, compression: 1, flags: 0xc0, ids: 1,
      rootInodeRef: 0x1234, bytesUsed: 0x1000, idTableStart: 0xff8, xattrIdTableStart: INVALID_BLOCK,
      inodeTableStart: 0xf00, directoryTableStart: 0xf40, fragmentTableStart: 0xf80, lookupTableStart: 0xfc0,
    });
    expect(toHex(bytes)).toBe(
      "68737173" + "02000000" + "04030201" + "00000200" + "01000000" + "0100" + "1100" + "c000" + "0100" + "0400" + "0000" +
      "3412000000000000" + "0010000000000000" + "f80f000000000000" + "ffffffffffffffff" +
      "000f000000000000" + "400f000000000000" + "800f000000000000" + "c00f000000000000",
    );
  });

  it("compressor options blocks match mksquashfs 4.5 -Xcompression-level output", () => {
    // Bytes 96.. of `mksquashfs d i -comp gzip -Xcompression-level 6` and `-comp zstd -Xcompression-level 3`.
    expect(toHex(encodeCompressorOptions("gzip", 6))).toBe("0880" + "06000000" + "0f00" + "0000");
    expect(toHex(encodeCompressorOptions("zstd", 3))).toBe("0480" + "03000000");
  });

  it("regular file inode with a raw and a sparse block", () => {
    const bytes = encodeRegInode(header, { startBlock: 0x60, fileSize: 0x20001, fragment: 0xffffffff, fragmentOffset: 0, blockSizes: [0x1000005, 0] });
    expect(toHex(bytes)).toBe("0200a4010000010000105e5f07000000" + "60000000ffffffff0000000001000200" + "0500000100000000");
  });

  it("mode keeps permission bits only (kernels reject type bits)", () => {
    const bytes = encodeRegInode({ ...header, mode: 0o100644 }, { startBlock: 0, fileSize: 0, fragment: 0xffffffff, fragmentOffset: 0, blockSizes: [] });
    expect(view(bytes).getUint16(2, true)).toBe(0o644);
  });

  it("extended symlink puts the xattr index after the target", () => {
    const bytes = encodeSymlinkInode({ ...header, type: 10 }, { nlink: 2, target: utf8("ab"), xattr: 3 });
    expect(toHex(bytes.subarray(16))).toBe("02000000" + "02000000" + "6162" + "03000000");
  });

  it("extended directory with an index entry", () => {
    const bytes = encodeLdirInode({ ...header, type: 8 }, {
      nlink: 3, fileSize: 0x10003, startBlock: 0x20, offset: 0x10, parentInode: 9, xattr: 0xffffffff,
      index: [{ listingOffset: 8200, block: 0x2002, firstName: utf8("m") }],
    });
    expect(toHex(bytes.subarray(16))).toBe(
      "03000000" + "03000100" + "20000000" + "09000000" + "0100" + "1000" + "ffffffff" + "08200000" + "02200000" + "00000000" + "6d",
    );
  });
});

describe("MetadataWriter", () => {
  it("hands out references from what was written, and stores incompressible blocks raw", () => {
    const writer = new MetadataWriter(gzipCodec, 9);
    expect(writer.position()).toEqual({ block: 0, offset: 0 });
    writer.write(new Uint8Array(METADATA_BLOCK_BYTES));
    const afterZeros = writer.position();
    expect(afterZeros.offset).toBe(0);
    const [zeroBlock] = writer.finish();
    expect(afterZeros.block).toBe(zeroBlock!.length);
    expect(view(zeroBlock!).getUint16(0, true) & 0x8000).toBe(0);

    const raw = new MetadataWriter(gzipCodec, 9);
    raw.write(seededBytes(100, 1, false));
    const [rawBlock] = raw.finish();
    expect(view(rawBlock!).getUint16(0, true)).toBe(0x8000 | 100);
    expect(packRef({ block: 0x1234, offset: 0x56 })).toBe(0x12340056);
  });
});

describe("directory listings", () => {
  const entry = (name: string, inodeNumber: number, block = 0, offset = 0): ListingEntry => ({
    nameBytes: utf8(name), inodeNumber, inodeRef: { block, offset }, basicType: 2,
  });
  const headers = (bytes: Uint8Array): { count: number; block: number; base: number }[] => {
    const data = view(bytes);
    const found: { count: number; block: number; base: number }[] = [];
    for (let position = 0; position < bytes.length;) {
      const count = data.getUint32(position, true) + 1;
      found.push({ count, block: data.getUint32(position + 4, true), base: data.getUint32(position + 8, true) });
      position += 12;
      for (let index = 0; index < count; index++) position += 8 + data.getUint16(position + 6, true) + 1;
    }
    return found;
  };
  const listingBytes = (entries: ListingEntry[]): Uint8Array => {
    const writer = new MetadataWriter(noneCodec, 0);
    writeListing(writer, entries);
    // The none codec stores every block raw, so the bodies are the listing itself.
    const listing = concatBytes(writer.finish().map((block) => block.subarray(2)));
    expect(listing.length).toBe(writer.uncompressedBytes);
    return listing;
  };

  it("one header with s16 inode deltas for a simple run", () => {
    const bytes = listingBytes([entry("a", 5, 0, 0x10), entry("b", 6, 0, 0x30), entry("c", 4, 0, 0x50)]);
    expect(toHex(bytes)).toBe(
      "02000000" + "00000000" + "05000000" +
      "1000" + "0000" + "0200" + "0000" + "61" +
      "3000" + "0100" + "0200" + "0000" + "62" +
      "5000" + "ffff" + "0200" + "0000" + "63",
    );
  });

  it("starts a new header for a new inode block, an out-of-range delta and after 256 entries", () => {
    const entries = [entry("a", 1), entry("b", 2, 100), entry("c", 40_000, 100)];
    for (let index = 0; index < 300; index++) entries.push(entry(`d${String(index).padStart(3, "0")}`, 40_001 + index, 100));
    expect(headers(listingBytes(entries))).toEqual([
      { count: 1, block: 0, base: 1 },
      { count: 1, block: 100, base: 2 },
      { count: 256, block: 100, base: 40_000 },
      { count: 45, block: 100, base: 40_256 },
    ]);
  });

  it("indexes each header that starts in a new directory-table block, with its real block start", () => {
    const writer = new MetadataWriter(noneCodec, 0);
    writer.write(new Uint8Array(8000));
    const entries = Array.from({ length: 20 }, (_, index) => entry(`name-${String(index).padStart(14, "0")}`, index + 1));
    const listing = writeListing(writer, entries);
    expect(listing.start).toEqual({ block: 0, offset: 8000 });
    expect(listing.index).toHaveLength(1);
    const [index] = listing.index;
    // Stored raw, the first block takes 2 + 8192 bytes; the indexed header sits at the start
    // of the second block, where the kernel's (offset + index) % 8192 also points.
    expect(index!.block).toBe(2 + METADATA_BLOCK_BYTES);
    expect((listing.start.offset + index!.listingOffset) % METADATA_BLOCK_BYTES).toBeLessThan(28);
    expect(Math.floor((listing.start.offset + index!.listingOffset) / METADATA_BLOCK_BYTES)).toBe(1);
    expect(new TextDecoder().decode(index!.firstName)).toMatch(/^name-/);
  });
});
