/**
 * StagedOutput: the FAT data area (directories, file contents, cluster slack) goes to the
 * sink in large chunks instead of one write per directory, file chunk or padding run. Two
 * staging buffers alternate: file contents are read straight into one (ByteSource.readInto, a
 * blocking read on this thread) while the other is being written by the sink (on libuv's
 * thread pool), so reading and writing overlap and no buffer is allocated per read.
 */
import type { ByteSource } from "../../io/source.js";
import type { SequentialSink } from "../../io/stream.js";

export class StagedOutput {
  private readonly buffers: readonly [Uint8Array, Uint8Array];
  private filling: 0 | 1 = 0;
  private fill = 0;
  /** The write of the other buffer, if one is running; it must finish before that buffer is refilled. */
  private writing: Promise<void> | undefined;

  constructor(private readonly sink: SequentialSink, chunkBytes: number) {
    this.buffers = [new Uint8Array(chunkBytes), new Uint8Array(chunkBytes)];
  }

  async append(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length; ) {
      const take = Math.min(bytes.length - offset, this.room());
      this.buffers[this.filling].set(bytes.subarray(offset, offset + take), this.fill);
      offset += take;
      await this.advance(take);
    }
  }

  async appendZeros(count: number): Promise<void> {
    for (let left = count; left > 0; ) {
      const take = Math.min(left, this.room());
      this.buffers[this.filling].fill(0, this.fill, this.fill + take);
      left -= take;
      await this.advance(take);
    }
  }

  /** Appends `length` bytes of `source` from `offset`; fails as the source does if it became shorter. */
  async appendFrom(source: ByteSource, offset: number, length: number): Promise<void> {
    for (let done = 0; done < length; ) {
      const take = Math.min(length - done, this.room());
      const target = this.buffers[this.filling].subarray(this.fill, this.fill + take);
      if (source.readInto !== undefined) source.readInto(offset + done, [target]);
      else target.set(await source.read(offset + done, take));
      done += take;
      await this.advance(take);
    }
  }

  /** Writes everything staged; the sink has all bytes once this resolves. */
  async flush(): Promise<void> {
    await this.writing;
    this.writing = undefined;
    if (this.fill > 0) await this.sink.write(this.buffers[this.filling].subarray(0, this.fill));
    this.fill = 0;
  }

  private room(): number {
    return this.buffers[this.filling].length - this.fill;
  }

  private async advance(count: number): Promise<void> {
    this.fill += count;
    if (this.room() > 0) return;
    await this.writing;
    const writing = this.sink.write(this.buffers[this.filling]);
    // A failure surfaces at the next await of `writing`; until then it must not count as an
    // unhandled rejection (which would end the process).
    writing.catch(() => undefined);
    this.writing = writing;
    this.filling = this.filling === 0 ? 1 : 0;
    this.fill = 0;
  }
}
