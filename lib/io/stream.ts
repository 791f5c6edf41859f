/**
 * SequentialSink: the contract between format writers and the image writer. Writers emit
 * their bytes strictly front to back, with no gaps (zero runs are written as zeros; the file
 * sink below keeps them sparse). That lets the image writer place a partition at any offset,
 * lets dm-verity hash data while it is produced (no second read), and lets a spool capture
 * outputs whose size is known only after writing.
 */
import type { BlockSink } from "./sink.js";

export interface SequentialSink {
  /** Bytes written so far. */
  readonly position: number;
  write(bytes: Uint8Array): Promise<void>;
}

const ZERO_CHUNK = new Uint8Array(1024 * 1024);

/** Writes `count` zero bytes in bounded chunks. */
export async function writeZeros(sink: SequentialSink, count: number): Promise<void> {
  for (let left = count; left > 0; left -= ZERO_CHUNK.length) {
    await sink.write(left >= ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, left));
  }
}

/** Pads with zeros up to the next multiple of `alignment`. */
export async function padTo(sink: SequentialSink, alignment: number): Promise<void> {
  const remainder = sink.position % alignment;
  if (remainder !== 0) await writeZeros(sink, alignment - remainder);
}

/** A window of a BlockSink starting at `baseOffsetBytes`, refusing to write past `limitBytes`. */
export class OffsetSink implements SequentialSink {
  position = 0;
  constructor(private readonly target: BlockSink, readonly baseOffsetBytes: number, readonly limitBytes: number, readonly description: string) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (this.position + bytes.length > this.limitBytes) {
      throw new Error(`internal: ${this.description} wrote ${this.position + bytes.length} bytes into a ${this.limitBytes}-byte extent`);
    }
    await this.target.writeAt(this.baseOffsetBytes + this.position, bytes);
    this.position += bytes.length;
  }
}

/** Collects everything in memory; for tests and small outputs (headers, signatures). */
export class MemorySink implements SequentialSink {
  private readonly parts: Uint8Array[] = [];
  position = 0;

  async write(bytes: Uint8Array): Promise<void> {
    this.parts.push(Uint8Array.from(bytes));
    this.position += bytes.length;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.position);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

/** Sends every write to several sinks in order (e.g. the image and a verity hasher). */
export class TeeSink implements SequentialSink {
  position = 0;
  constructor(private readonly targets: readonly SequentialSink[]) {}

  async write(bytes: Uint8Array): Promise<void> {
    for (const target of this.targets) await target.write(bytes);
    this.position += bytes.length;
  }
}
