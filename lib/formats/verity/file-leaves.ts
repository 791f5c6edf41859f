/**
 * Level 0 of a dm-verity tree for data that already sits in a file (a partition of an image
 * being verified, an image file to protect, as `veritysetup format` takes it). With no
 * producer to keep pace with, every thread — the main thread and concurrency − 1 workers —
 * reads its own work from the file into a buffer of its own and hashes it there: no ring,
 * no copy between threads.
 *
 * Work goes out in runs of 512 KiB, claimed with one atomic add, so the main thread starts at
 * once and the workers join as they come up, and no thread idles at the end. The run is
 * small enough that the bytes the kernel just copied are still in the core's L2 cache (1 MiB
 * on the bench host) when the hash reads them: 4 MiB runs cost ~30 % more CPU with two
 * threads. Digests land in their block's slot of one shared array, so the result never
 * depends on which thread hashed what.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { ErrorCode, fail } from "../../core/errors.js";
import { WorkerPool, workerScriptPath } from "../../core/pool.js";
import { hashLeafBatch, type LeafHashing } from "./hash-blocks.js";

/** Everything a thread needs for its share; structured-cloneable, sent once per worker. */
export interface FileLeavesJob extends LeafHashing {
  readonly path: string;
  readonly description: string;
  /** Byte offset of data block 0 in the file. */
  readonly startBytes: number;
  readonly blockCount: number;
  readonly runBlocks: number;
  /** Int32 [next unclaimed run]. */
  readonly control: SharedArrayBuffer;
  /** blockCount × slotBytes (at least), digest k at k × slotBytes. */
  readonly digests: SharedArrayBuffer;
}

/** Default data bytes per run of work (rounded down to whole blocks, at least one). */
export const DEFAULT_RUN_BYTES = 512 * 1024;
const NEXT_RUN = 0;
/** Runs the main thread hashes between two turns of its event loop: ~8 MiB, a few ms. */
const MAIN_THREAD_SLICE_RUNS = 16;

/**
 * The level-0 digests of `blockCount` data blocks starting `startBytes` into the file at
 * `path`, in an array of `digestBytes` (≥ blockCount × slotBytes; the rest stays zero).
 */
export async function hashFileLeaves(
  file: { readonly path: string; readonly description: string; readonly startBytes: number },
  blockCount: number,
  hashing: LeafHashing,
  digestBytes: number,
  options: { readonly concurrency: number; readonly runBytes?: number },
): Promise<Uint8Array> {
  const runBlocks = Math.max(1, Math.floor((options.runBytes ?? DEFAULT_RUN_BYTES) / hashing.blockSize));
  const job: FileLeavesJob = { ...hashing, ...file, blockCount, runBlocks, control: new SharedArrayBuffer(4), digests: new SharedArrayBuffer(digestBytes) };
  const runs = Math.ceil(blockCount / runBlocks);
  const workers = Math.min(Math.max(0, options.concurrency - 1), runs - 1);
  const pool = workers > 0 ? new WorkerPool<string>(workerScriptPath(import.meta.url, "./hash-worker.js"), workers) : undefined;
  try {
    const shares = pool ? Array.from({ length: workers }, () => pool.submit({ file: job })) : [];
    // A worker's failure surfaces below, once the main thread has done its share.
    for (const share of shares) share.catch(() => undefined);
    try {
      const hasher = new FileRunHasher(job);
      try {
        // The main thread's share goes in slices, so its event loop (timers, signals, the
        // workers' replies) keeps running; the workers loop without a break.
        while (hasher.hashRuns(MAIN_THREAD_SLICE_RUNS)) await new Promise((resolve) => setImmediate(resolve));
      } finally {
        hasher.close();
      }
    } catch (error) {
      Atomics.store(new Int32Array(job.control), NEXT_RUN, runs);
      throw error;
    }
    await Promise.all(shares);
  } finally {
    await pool?.close();
  }
  // A plain copy: callers write these digests to sinks, which take no shared memory.
  return new Uint8Array(job.digests).slice();
}

/**
 * One thread's reader: its own descriptor and buffer. hashRuns() claims the next run, reads
 * it and hashes it, until every run is claimed or `runLimit` runs are done.
 */
export class FileRunHasher {
  private readonly control: Int32Array;
  private readonly digests: Uint8Array;
  private readonly buffer: Uint8Array;
  private readonly descriptor: number;

  constructor(private readonly job: FileLeavesJob) {
    this.control = new Int32Array(job.control);
    this.digests = new Uint8Array(job.digests);
    this.buffer = new Uint8Array(job.headroomBytes + job.runBlocks * job.blockSize);
    try {
      this.descriptor = openSync(job.path, "r");
    } catch (error) {
      fail(ErrorCode.Io, `${job.description}: cannot open for reading (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the file exists and is readable");
    }
  }

  /** Returns true when it stopped at `runLimit` (work may be left), false once no run is left. */
  hashRuns(runLimit = Infinity): boolean {
    const { job, buffer } = this;
    const { blockSize, slotBytes, headroomBytes, runBlocks, blockCount } = job;
    for (let runs = 0; runs < runLimit; runs++) {
      const first = Atomics.add(this.control, NEXT_RUN, 1) * runBlocks;
      if (first >= blockCount) return false;
      const count = Math.min(runBlocks, blockCount - first);
      const position = job.startBytes + first * blockSize;
      for (let filled = 0; filled < count * blockSize; ) {
        const bytesRead = readSync(this.descriptor, buffer, headroomBytes + filled, count * blockSize - filled, position + filled);
        if (bytesRead === 0) fail(ErrorCode.Input, `${job.description}: ends at byte ${position + filled}, the verity tree covers ${job.startBytes + blockCount * blockSize}`, "do not modify the file while gptimg reads it");
        filled += bytesRead;
      }
      hashLeafBatch({ ...job, count, bytes: buffer.subarray(0, headroomBytes + count * blockSize) }, this.digests.subarray(first * slotBytes, (first + count) * slotBytes));
    }
    return true;
  }

  close(): void {
    closeSync(this.descriptor);
  }
}
