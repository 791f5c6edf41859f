/**
 * Block compression on worker threads. compress() returns a promise per block; callers
 * consume those promises in submission order, so output bytes never depend on the number of
 * workers, and they bound memory by bounding the promises they hold.
 */
import { WorkerPool, workerScriptPath } from "../core/pool.js";
import type { CodecId } from "./codec.js";

export interface CompressJob {
  readonly codecId: CodecId;
  readonly level: number;
  /** Must own its whole ArrayBuffer: it is transferred to the worker. */
  readonly block: Uint8Array;
  /** Reply with the compressed stream even when it is not smaller (stream formats, not block formats). */
  readonly keepStream?: boolean;
}

export interface CompressReply {
  /** Compressed bytes, or the original block when compression did not make it smaller. */
  readonly bytes: Uint8Array;
  readonly compressed: boolean;
}

export class CompressionPool {
  private readonly pool: WorkerPool<CompressReply>;

  constructor(readonly codecId: CodecId, readonly level: number, readonly workers: number) {
    this.pool = new WorkerPool<CompressReply>(workerScriptPath(import.meta.url, "./worker.js"), Math.max(1, workers));
  }

  /** `block` is transferred: the caller must not use it afterwards. */
  compress(block: Uint8Array, keepStream = false): Promise<CompressReply> {
    const owned = block.byteOffset === 0 && block.byteLength === block.buffer.byteLength ? block : block.slice();
    const job: CompressJob = { codecId: this.codecId, level: this.level, block: owned, keepStream };
    return this.pool.submit(job, [owned.buffer as ArrayBuffer]);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
