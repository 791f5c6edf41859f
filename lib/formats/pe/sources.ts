/**
 * ByteSources composed from pieces, so a planned (and signed) UKI can be handed to the ESP
 * writer as a file whose bytes are produced on read: the kernel and initrds are streamed
 * from their own sources and never copied into one buffer.
 */
import type { ByteSource } from "../../io/source.js";

/** The pieces one after another. */
export class ConcatSource implements ByteSource {
  readonly size: number;
  private readonly starts: number[] = [];

  constructor(private readonly pieces: readonly ByteSource[], readonly description: string) {
    let offset = 0;
    for (const piece of pieces) {
      this.starts.push(offset);
      offset += piece.size;
    }
    this.size = offset;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`internal: read ${offset}+${length} outside ${this.description} (${this.size} bytes)`);
    }
    const out = new Uint8Array(length);
    let index = this.pieceAt(offset);
    let done = 0;
    while (done < length) {
      const piece = this.pieces[index]!;
      const within = offset + done - this.starts[index]!;
      const take = Math.min(piece.size - within, length - done);
      if (take > 0) out.set(await piece.read(within, take), done);
      done += Math.max(take, 0);
      index += 1;
    }
    return out;
  }

  /** Index of the last piece starting at or before `offset` that is not empty. */
  private pieceAt(offset: number): number {
    let low = 0;
    let high = this.pieces.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    while (low < this.pieces.length - 1 && this.starts[low]! + this.pieces[low]!.size <= offset) low += 1;
    return low;
  }
}

/** Bytes [start, start + size) of another source. */
export class SliceSource implements ByteSource {
  constructor(private readonly source: ByteSource, private readonly start: number, readonly size: number, readonly description = source.description) {
    if (start + size > source.size) throw new RangeError(`internal: slice ${start}+${size} outside ${source.description} (${source.size} bytes)`);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.source.read(this.start + offset, length);
  }
}
