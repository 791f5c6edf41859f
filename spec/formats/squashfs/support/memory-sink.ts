/**
 * Test-only BlockSink that keeps the image in memory and checks the writeSquashfs contract:
 * after the superblock region, writes arrive at strictly increasing, contiguous offsets, and
 * the superblock at the base offset is written last.
 */
import type { BlockSink } from "../../../../lib/io/sink.js";

export class CheckingMemorySink implements BlockSink {
  private buffer = new Uint8Array(1 << 20);
  private length = 0;
  private nextOffset: number;
  superblockWrites = 0;
  writesAfterSuperblock = 0;

  constructor(private readonly baseOffset: number, private readonly superblockBytes = 96) {
    this.nextOffset = baseOffset + superblockBytes;
  }

  async writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    if (offset === this.baseOffset) {
      if (bytes.length !== this.superblockBytes) throw new Error(`superblock write of ${bytes.length} bytes`);
      this.superblockWrites++;
    } else {
      if (offset !== this.nextOffset) throw new Error(`write at ${offset}, expected the next offset ${this.nextOffset}`);
      if (this.superblockWrites > 0) this.writesAfterSuperblock++;
      this.nextOffset += bytes.length;
    }
    const end = offset + bytes.length;
    if (end > this.buffer.length) {
      const grown = new Uint8Array(Math.max(end, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(bytes, offset);
    this.length = Math.max(this.length, end);
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}
