/**
 * The erofs writer's output side: whole chunks handed to a SequentialSink in order while the
 * next ones are filled, and the metadata window that assembles inode records at the offsets
 * the plan recorded.
 */
import type { SequentialSink } from "../../io/stream.js";

/**
 * Coalesces the image into writes of exactly `chunkBytes` (the last one shorter), filled in a
 * ring of chunk buffers. A chunk goes to the sink once it is full and every fill into it has
 * finished; writes stay one at a time and in order, and a buffer is not touched until its
 * write resolves (the SequentialSink contract). So blocking fills of one chunk overlap with
 * fills on libuv's thread pool into the next ones and with the sink writing earlier ones.
 */
export class ChunkedOutput {
  private readonly ring: Uint8Array[];
  /** Per ring slot: settles when the chunk last filled there has been written. */
  private readonly released: Promise<void>[];
  private slot = 0;
  private filledBytes = 0;
  private flushedBytes = 0;
  /** Fills into the current chunk that finish later. */
  private pendingFills: Promise<void>[] = [];
  private lastWrite: Promise<void> = Promise.resolve();

  constructor(private readonly sink: SequentialSink, private readonly chunkBytes: number, ringChunks: number) {
    this.ring = Array.from({ length: Math.max(2, ringChunks) }, () => new Uint8Array(chunkBytes));
    this.released = this.ring.map(() => Promise.resolve());
  }

  /** Bytes emitted so far, including those still in the current chunk. */
  get position(): number {
    return this.flushedBytes + this.filledBytes;
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length; ) {
      const count = Math.min(bytes.length - done, this.chunkBytes - this.filledBytes);
      this.ring[this.slot]!.set(bytes.subarray(done, done + count), this.filledBytes);
      this.filledBytes += count;
      done += count;
      if (this.filledBytes === this.chunkBytes) await this.handOver();
    }
  }

  /**
   * Lets `fill` write `length` bytes in place, called once per contiguous run of the current
   * chunk. A fill that returns a promise may finish later; its chunk is written after it.
   */
  async fillInPlace(length: number, fill: (target: Uint8Array, doneBytes: number) => void | Promise<void>): Promise<void> {
    for (let done = 0; done < length; ) {
      const count = Math.min(length - done, this.chunkBytes - this.filledBytes);
      const pending = fill(this.ring[this.slot]!.subarray(this.filledBytes, this.filledBytes + count), done);
      if (pending) this.pendingFills.push(guarded(pending));
      this.filledBytes += count;
      done += count;
      if (this.filledBytes === this.chunkBytes) await this.handOver();
    }
  }

  async writeZeros(count: number): Promise<void> {
    for (let left = count; left > 0; ) {
      const run = Math.min(left, this.chunkBytes - this.filledBytes);
      this.ring[this.slot]!.fill(0, this.filledBytes, this.filledBytes + run);
      this.filledBytes += run;
      left -= run;
      if (this.filledBytes === this.chunkBytes) await this.handOver();
    }
  }

  /** Writes what is left and waits for every fill and write to finish. */
  async finish(): Promise<void> {
    if (this.filledBytes > 0) await this.handOver();
    await this.lastWrite;
  }

  private async handOver(): Promise<void> {
    const chunk = this.ring[this.slot]!.subarray(0, this.filledBytes);
    const written = Promise.all([this.lastWrite, ...this.pendingFills]).then(() => this.sink.write(chunk));
    this.lastWrite = guarded(written);
    this.released[this.slot] = this.lastWrite;
    this.pendingFills = [];
    this.flushedBytes += this.filledBytes;
    this.filledBytes = 0;
    this.slot = (this.slot + 1) % this.ring.length;
    await this.released[this.slot];
  }
}

/**
 * A failure surfaces where the promise is awaited (a later hand-over or finish()); if the
 * caller fails first for another reason, it must not count as unhandled.
 */
function guarded<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Assembles [startBytes, endBytes) from pieces put at increasing offsets, a window at a time. */
export class MetadataWindow {
  private readonly window: Uint8Array;

  constructor(private readonly output: ChunkedOutput, private windowStart: number, private readonly endBytes: number, private readonly windowBytes: number) {
    this.window = new Uint8Array(windowBytes);
  }

  async put(offset: number, bytes: Uint8Array): Promise<void> {
    if (offset < this.windowStart || offset + bytes.length > this.endBytes) {
      throw new Error(`internal: erofs metadata piece at ${offset} (+${bytes.length}) is outside [${this.windowStart}, ${this.endBytes})`);
    }
    let done = 0;
    while (done < bytes.length) {
      const at = offset + done - this.windowStart;
      if (at >= this.windowBytes) {
        await this.emitWindow();
        continue;
      }
      const count = Math.min(bytes.length - done, this.windowBytes - at);
      this.window.set(bytes.subarray(done, done + count), at);
      done += count;
    }
  }

  async finish(): Promise<void> {
    while (this.windowStart < this.endBytes) await this.emitWindow();
  }

  private async emitWindow(): Promise<void> {
    const length = Math.min(this.windowBytes, this.endBytes - this.windowStart);
    // ChunkedOutput copies, so the window is reused.
    await this.output.write(this.window.subarray(0, length));
    this.window.fill(0);
    this.windowStart += this.windowBytes;
  }
}
