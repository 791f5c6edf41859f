/**
 * MetadataWriter: the inode, directory, xattr and lookup tables are byte streams cut into
 * 8 KiB blocks, each compressed on its own and prefixed with a u16 length (bit 15 = stored
 * raw). References into such a stream are (block start relative to the table, offset in the
 * uncompressed block). As in backhand's MetadataWriter, position() hands out the reference
 * of the next byte from what has actually been written — the current block lands right after
 * the blocks already compressed — so no reference is ever predicted.
 */
import { view } from "../../core/bytes.js";
import type { Codec } from "../../compress/codec.js";
import { METADATA_BLOCK_BYTES, METADATA_UNCOMPRESSED_BIT } from "./layout.js";

export interface MetadataRef {
  /** Byte offset of the block's length header, relative to the start of this table. */
  readonly block: number;
  /** Offset inside the uncompressed block, 0..8191. */
  readonly offset: number;
}

/** The u64 form used by inode references: block << 16 | offset (squashfs_fs.h SQUASHFS_MKINODE). */
export function packRef(ref: MetadataRef): number {
  return ref.block * 0x10000 + ref.offset;
}

export class MetadataWriter {
  private readonly pending = new Uint8Array(METADATA_BLOCK_BYTES);
  private pendingBytes = 0;
  private readonly stored: Uint8Array[] = [];
  private storedBytes = 0;
  /** Start of every finished block, relative to the table (for lookup-table indexes). */
  readonly blockStarts: number[] = [];

  constructor(private readonly codec: Codec, private readonly level: number) {}

  /** Where the next written byte will be. */
  position(): MetadataRef {
    return { block: this.storedBytes, offset: this.pendingBytes };
  }

  private written = 0;

  /** Bytes written so far, uncompressed. */
  get uncompressedBytes(): number {
    return this.written;
  }

  write(bytes: Uint8Array): void {
    this.written += bytes.length;
    let done = 0;
    while (done < bytes.length) {
      const take = Math.min(bytes.length - done, METADATA_BLOCK_BYTES - this.pendingBytes);
      this.pending.set(bytes.subarray(done, done + take), this.pendingBytes);
      this.pendingBytes += take;
      done += take;
      // Flush as soon as a block is full, so position() never reports offset 8192.
      if (this.pendingBytes === METADATA_BLOCK_BYTES) this.flush();
    }
  }

  /** Flushes the partial last block and returns the whole table as stored on disk. */
  finish(): Uint8Array[] {
    if (this.pendingBytes > 0) this.flush();
    return this.stored;
  }

  private flush(): void {
    const block = this.pending.subarray(0, this.pendingBytes);
    const compressed = this.codec.compress(block, this.level);
    const useCompressed = compressed.length < block.length;
    const body = useCompressed ? compressed : block;
    const out = new Uint8Array(2 + body.length);
    view(out).setUint16(0, body.length | (useCompressed ? 0 : METADATA_UNCOMPRESSED_BIT), true);
    out.set(body, 2);
    this.blockStarts.push(this.storedBytes);
    this.stored.push(out);
    this.storedBytes += out.length;
    this.pendingBytes = 0;
  }
}
