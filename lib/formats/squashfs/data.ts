/**
 * The data area: file blocks and fragment blocks, written front to back in the order they
 * are submitted. Blocks are compressed by the worker pool; the results are consumed strictly
 * in submission order (squashfs-tools' to_order queue), so the bytes never depend on how many
 * workers run, and at most `maxInFlight` blocks are held at once, so memory stays at about
 * maxInFlight × 2 × blockSize whatever the tree size.
 *
 * Each file becomes floor(size / blockSize) full blocks plus a tail packed into a fragment
 * block (tail-end packing, as mksquashfs does by default). A full block of zeros is stored as
 * a sparse block (size word 0, no bytes). Files with identical contents share their blocks
 * and fragment (mksquashfs duplicate detection): only files whose size occurs more than once
 * are hashed, the hash is computed before the contents are compressed.
 */
import { createHash } from "node:crypto";
import { isAllZero } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import type { CompressReply } from "../../compress/pool.js";
import { BytesSource, FileSliceSource, sourceChunks, type ByteSource } from "../../io/source.js";
import type { BlockSink } from "../../io/sink.js";
import { DATA_UNCOMPRESSED_BIT, INVALID_INDEX } from "./layout.js";

export interface FileData {
  /** Image offset of the first block (sparse blocks take no room but still count). */
  startBlock: number;
  /** One size word per full block: on-disk bytes, | bit 24 when stored raw, 0 when sparse. */
  readonly blockSizes: number[];
  fragmentIndex: number;
  fragmentOffset: number;
  sparseBytes: number;
}

export interface FragmentEntry {
  startBlock: number;
  sizeWord: number;
}

interface Pending {
  readonly result: Promise<CompressReply> | undefined;
  readonly stored: (offsetBytes: number, sizeWord: number) => void;
}

export interface DataWriterOptions {
  readonly blockSize: number;
  readonly readChunkBytes: number;
  readonly maxInFlight: number;
  /** Compresses one block (transferring it); undefined stores blocks raw. */
  readonly compress: ((block: Uint8Array) => Promise<CompressReply>) | undefined;
}

export class DataWriter {
  readonly fragments: FragmentEntry[] = [];
  private readonly queue: Pending[] = [];
  private fragment: Uint8Array;
  private fragmentFill = 0;
  private readonly byContent = new Map<string, FileData>();

  /** `positionBytes` is relative to the image start; writes land at baseOffset + position. */
  constructor(private readonly out: BlockSink, private readonly baseOffset: number, public positionBytes: number, private readonly options: DataWriterOptions) {
    this.fragment = new Uint8Array(options.blockSize);
  }

  /** Streams one file's contents; `sizeShared` says another file has the same size. */
  async addFile(content: ByteSource, sizeBytes: number, sizeShared: boolean, path: string): Promise<FileData> {
    if (sizeBytes === 0) return { startBlock: 0, blockSizes: [], fragmentIndex: INVALID_INDEX, fragmentOffset: 0, sparseBytes: 0 };
    let source = content;
    if (sizeShared) {
      const { key, bytes } = await this.contentKey(content, sizeBytes, path);
      const earlier = this.byContent.get(key);
      if (earlier) return earlier;
      if (bytes) source = new BytesSource(bytes, content.description);
      const data = await this.store(source, sizeBytes, path);
      this.byContent.set(key, data);
      return data;
    }
    return this.store(source, sizeBytes, path);
  }

  /** Writes the last partial fragment and everything still in flight. */
  async finish(): Promise<void> {
    this.flushFragment();
    while (this.queue.length > 0) await this.drainOne();
  }

  private async store(source: ByteSource, sizeBytes: number, path: string): Promise<FileData> {
    const { blockSize } = this.options;
    const data: FileData = { startBlock: 0, blockSizes: [], fragmentIndex: INVALID_INDEX, fragmentOffset: 0, sparseBytes: 0 };
    let blockIndex = 0;
    for await (const block of blocksOf(source, sizeBytes, blockSize, this.options.readChunkBytes, path)) {
      if (block.length < blockSize) {
        await this.addTail(data, block);
        continue;
      }
      const index = blockIndex++;
      data.blockSizes.push(0);
      const stored = (offsetBytes: number, sizeWord: number): void => {
        if (index === 0) data.startBlock = offsetBytes;
        data.blockSizes[index] = sizeWord;
        if (sizeWord === 0) data.sparseBytes += blockSize;
      };
      await this.enqueue({ result: isAllZero(block) ? undefined : this.compress(block), stored });
    }
    return data;
  }

  private async addTail(data: FileData, tail: Uint8Array): Promise<void> {
    if (this.fragmentFill + tail.length > this.options.blockSize) this.flushFragment();
    this.fragment.set(tail, this.fragmentFill);
    // The fragment being filled is the next entry of the fragment table.
    data.fragmentIndex = this.fragments.length;
    data.fragmentOffset = this.fragmentFill;
    this.fragmentFill += tail.length;
    await this.drainWhileFull();
  }

  private flushFragment(): void {
    if (this.fragmentFill === 0) return;
    const block = this.fragment.slice(0, this.fragmentFill);
    const entry: FragmentEntry = { startBlock: 0, sizeWord: 0 };
    this.fragments.push(entry);
    this.fragmentFill = 0;
    this.queue.push({
      result: this.compress(block),
      stored: (offsetBytes, sizeWord) => {
        entry.startBlock = offsetBytes;
        entry.sizeWord = sizeWord;
      },
    });
  }

  private compress(block: Uint8Array): Promise<CompressReply> {
    if (!this.options.compress) return Promise.resolve({ bytes: block, compressed: false });
    const result = this.options.compress(block);
    // A failure is reported when the block is drained; if an earlier error ends the build
    // first, this keeps the abandoned promise from becoming an unhandled rejection.
    result.catch(() => undefined);
    return result;
  }

  private async enqueue(pending: Pending): Promise<void> {
    this.queue.push(pending);
    await this.drainWhileFull();
  }

  private async drainWhileFull(): Promise<void> {
    while (this.queue.length >= this.options.maxInFlight) await this.drainOne();
  }

  private async drainOne(): Promise<void> {
    const pending = this.queue.shift()!;
    if (!pending.result) {
      pending.stored(this.positionBytes, 0);
      return;
    }
    const reply = await pending.result;
    await this.out.writeAt(this.baseOffset + this.positionBytes, reply.bytes);
    pending.stored(this.positionBytes, reply.bytes.length | (reply.compressed ? 0 : DATA_UNCOMPRESSED_BIT));
    this.positionBytes += reply.bytes.length;
  }

  /**
   * sha-256 of the contents, keyed with the size. Files up to one block are kept in memory so
   * they are read once; larger ones are read again when stored.
   */
  private async contentKey(content: ByteSource, sizeBytes: number, path: string): Promise<{ key: string; bytes: Uint8Array | undefined }> {
    const hash = createHash("sha256");
    const keep = sizeBytes <= this.options.blockSize;
    const parts: Uint8Array[] = [];
    for await (const block of blocksOf(content, sizeBytes, this.options.blockSize, this.options.readChunkBytes, path)) {
      hash.update(block);
      if (keep) parts.push(block);
    }
    return { key: `${sizeBytes}:${hash.digest("hex")}`, bytes: keep ? parts[0] : undefined };
  }
}

/**
 * Re-cuts a source read in `readChunkBytes` pieces into blockSize buffers (the last one
 * shorter). Each buffer owns its memory, so it can be transferred to a worker: chunks of a
 * FileSliceSource are fresh buffers, so one that is exactly a block is passed on as it is;
 * anything else is copied.
 */
export async function* blocksOf(source: ByteSource, sizeBytes: number, blockSize: number, readChunkBytes: number, path: string): AsyncGenerator<Uint8Array> {
  if (source.size !== sizeBytes) changedSize(path, sizeBytes, source.size);
  const freshChunks = source instanceof FileSliceSource;
  let remaining = sizeBytes;
  let block: Uint8Array | undefined;
  let fill = 0;
  for await (const chunk of sourceChunks(source, readChunkBytes)) {
    if (chunk.length > remaining - fill) changedSize(path, sizeBytes, sizeBytes - remaining + fill + chunk.length);
    const wholeBlock = Math.min(blockSize, remaining);
    if (freshChunks && fill === 0 && chunk.length === wholeBlock && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) {
      remaining -= wholeBlock;
      yield chunk;
      continue;
    }
    let used = 0;
    while (used < chunk.length) {
      block ??= new Uint8Array(Math.min(blockSize, remaining));
      const take = Math.min(chunk.length - used, block.length - fill);
      block.set(chunk.subarray(used, used + take), fill);
      fill += take;
      used += take;
      if (fill === block.length) {
        remaining -= fill;
        yield block;
        block = undefined;
        fill = 0;
      }
    }
  }
  if (remaining !== 0) changedSize(path, sizeBytes, sizeBytes - remaining + fill);
}

function changedSize(path: string, expectedBytes: number, actualBytes: number): never {
  return fail(ErrorCode.Input, `${path}: changed size while gptimg read it (${expectedBytes} → ${actualBytes} bytes)`, "do not modify the input tree during a build");
}
