/**
 * The erofs writer's output side: whole chunks handed to a SequentialSink, the next chunk
 * filled while the previous one is being written, and the metadata window that assembles
 * inode records at the offsets the plan recorded.
 */
import type { SequentialSink } from "../../io/stream.js";

/**
 * Coalesces the image into writes of exactly `chunkBytes` (the last one shorter). Two buffers
 * alternate: at most one sink write is in flight, and the buffer it was given is not touched
 * until it resolves (the SequentialSink contract), so filling one chunk overlaps with writing
 * the other (file sinks write on libuv's thread pool). Reading large files on the pool too
 * (a ring of chunks filled out of order) measured slower: the second core is already busy
 * with those writes, V8's compiler threads and GC.
 */
export class ChunkedOutput {
  private filling: Uint8Array;
  private spare: Uint8Array;
  private filledBytes = 0;
  private flushedBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly sink: SequentialSink, private readonly chunkBytes: number) {
    this.filling = new Uint8Array(chunkBytes);
    this.spare = new Uint8Array(chunkBytes);
  }

  /** Bytes emitted so far, including those still in the current chunk. */
  get position(): number {
    return this.flushedBytes + this.filledBytes;
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.length; ) {
      const count = Math.min(bytes.length - done, this.chunkBytes - this.filledBytes);
      this.filling.set(bytes.subarray(done, done + count), this.filledBytes);
      this.filledBytes += count;
      done += count;
      if (this.filledBytes === this.chunkBytes) await this.handOver();
    }
  }

  /** Lets `fill` write `length` bytes in place, called once per contiguous run of the current chunk. */
  async fillInPlace(length: number, fill: (target: Uint8Array, doneBytes: number) => void): Promise<void> {
    for (let done = 0; done < length; ) {
      const count = Math.min(length - done, this.chunkBytes - this.filledBytes);
      fill(this.filling.subarray(this.filledBytes, this.filledBytes + count), done);
      this.filledBytes += count;
      done += count;
      if (this.filledBytes === this.chunkBytes) await this.handOver();
    }
  }

  async writeZeros(count: number): Promise<void> {
    for (let left = count; left > 0; ) {
      const run = Math.min(left, this.chunkBytes - this.filledBytes);
      this.filling.fill(0, this.filledBytes, this.filledBytes + run);
      this.filledBytes += run;
      left -= run;
      if (this.filledBytes === this.chunkBytes) await this.handOver();
    }
  }

  /** Writes what is left and waits for every write to finish. */
  async finish(): Promise<void> {
    if (this.filledBytes > 0) await this.handOver();
    await this.inFlight;
  }

  private async handOver(): Promise<void> {
    await this.inFlight;
    const chunk = this.filling.subarray(0, this.filledBytes);
    this.flushedBytes += this.filledBytes;
    this.filledBytes = 0;
    [this.filling, this.spare] = [this.spare, this.filling];
    this.inFlight = this.sink.write(chunk);
    // A failure surfaces at the next hand-over or in finish(); if the caller fails first for
    // another reason, this rejection must not count as unhandled.
    this.inFlight.catch(() => undefined);
  }
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
