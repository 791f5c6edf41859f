/**
 * Streaming dm-verity hash-tree builder (formats.md §3; hash type 1 as systemd-repart and
 * veritysetup write it).
 *
 * VerityHasher is a SequentialSink: the data partition's writer tees into it, so the tree is
 * built while the data is produced, never by reading the partition a second time. Writes of
 * any size are packed into batches of whole data blocks, each stored as a salt ‖ block record
 * so the digest input is contiguous; batches go to worker threads (lib/core/pool.ts) and their
 * digests are consumed in submission order, so the result does not depend on chunking or
 * worker count.
 *
 * Memory: level 0 (one digest slot per data block, 1/128 of the data for 4 KiB blocks and
 * sha256: 8 MiB per GiB) and the levels above it (1/128 of that again) are held in memory
 * until the hash image is written; the data itself is held only as in-flight batches
 * (batch size × 2 × workers, plus the salt in front of each block).
 *
 * A trailing partial data block is not covered, exactly as veritysetup does (formats.md
 * §3.2, VERIFIED); image partitions are block-aligned, so this only matters for odd inputs.
 */
import { ErrorCode, fail } from "../../core/errors.js";
import { isGuid } from "../../core/guid.js";
import { WorkerPool, workerScriptPath } from "../../core/pool.js";
import { alignUp } from "../../core/int.js";
import type { SequentialSink } from "../../io/stream.js";
import { writeZeros } from "../../io/stream.js";
import { hashBlocks, hashSaltedRecords, type HashJob, type HashReply } from "./hash-blocks.js";
import { MAX_SALT_BYTES } from "./layout.js";
import { checkVerityParameters, digestLayout, planVerity, type VerityAlgorithm, type VerityPlan } from "./plan.js";
import { encodeSuperblock } from "./superblock.js";

export interface VerityHasherParameters {
  readonly dataBlockSize: number;
  readonly hashBlockSize: number;
  readonly algorithm: VerityAlgorithm;
  /** repart: HMAC-SHA256(seed, "verity-salt"), 32 bytes (formats.md §2.1). */
  readonly salt: Uint8Array;
  /** Superblock UUID; repart: v4(HMAC-SHA256(seed, "verity-uuid")). */
  readonly uuid: string;
  /** Only type 1 (the kernel's normal format) is written. */
  readonly hashType: 1;
}

export interface VerityHasherOptions {
  /** Worker threads for level-0 hashing; output never depends on it. */
  readonly concurrency: number;
  /** Data bytes per worker job (rounded up to whole data blocks); default 2 MiB. */
  readonly batchBytes?: number;
}

export interface VerityResult {
  readonly rootHash: Uint8Array;
  readonly dataBlocks: number;
  readonly plan: VerityPlan;
  readonly hashImage: VerityHashImage;
}

const DEFAULT_BATCH_BYTES = 2 * 1024 * 1024;

export class VerityHasher implements SequentialSink {
  position = 0;
  private readonly slotBytes: number;
  /** Data bytes per batch (whole data blocks). */
  private readonly batchBytes: number;
  /** salt ‖ block: one record per data block in a batch buffer. */
  private readonly recordBytes: number;
  private batch: Uint8Array;
  /** Data bytes (not record bytes) in the current batch. */
  private batchFill = 0;
  /** Level-0 digest runs, in data order, as they come back from the workers. */
  private readonly leafRuns: Uint8Array[] = [];
  private readonly inFlight: Promise<HashReply>[] = [];
  /** Batch buffers the workers handed back; reusing them avoids faulting in fresh memory. */
  private readonly spareBatches: Uint8Array[] = [];
  private pool: WorkerPool<HashReply> | undefined;
  private finished = false;
  private result: VerityResult | undefined;

  constructor(readonly parameters: VerityHasherParameters, private readonly options: VerityHasherOptions) {
    checkVerityParameters(parameters);
    if (parameters.hashType !== 1) fail(ErrorCode.Verity, `verity.hashType: ${String(parameters.hashType)} is not supported`, "use hash type 1");
    if (parameters.salt.length > MAX_SALT_BYTES) fail(ErrorCode.Verity, `verity.salt: ${parameters.salt.length} bytes, at most ${MAX_SALT_BYTES} allowed`, "use a 32-byte salt");
    if (!isGuid(parameters.uuid)) fail(ErrorCode.Verity, `verity.uuid: "${parameters.uuid}" is not a UUID`, "use the dashed 8-4-4-4-12 form");
    this.slotBytes = digestLayout(parameters.hashBlockSize, parameters.algorithm).digestSlotBytes;
    this.batchBytes = alignUp(Math.max(options.batchBytes ?? DEFAULT_BATCH_BYTES, parameters.dataBlockSize), parameters.dataBlockSize);
    this.recordBytes = parameters.salt.length + parameters.dataBlockSize;
    this.batch = this.newBatch();
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.finished) throw new Error("internal: VerityHasher.write after finish");
    const { dataBlockSize } = this.parameters;
    const saltBytes = this.recordBytes - dataBlockSize;
    let offset = 0;
    while (offset < bytes.length) {
      // Copy up to the end of the current data block, into its record after the salt.
      const withinBlock = this.batchFill % dataBlockSize;
      const take = Math.min(bytes.length - offset, dataBlockSize - withinBlock);
      const recordStart = ((this.batchFill - withinBlock) / dataBlockSize) * this.recordBytes;
      this.batch.set(bytes.subarray(offset, offset + take), recordStart + saltBytes + withinBlock);
      this.batchFill += take;
      offset += take;
      if (this.batchFill === this.batchBytes) await this.dispatchFullBatch();
    }
    this.position += bytes.length;
  }

  /** Hashes what is left, builds the upper levels and returns the root hash and hash image. */
  async finish(): Promise<VerityResult> {
    if (this.finished) throw new Error("internal: VerityHasher.finish called twice");
    this.finished = true;
    try {
      const plan = planVerity(this.position, this.parameters);
      // The tail batch is small, so it is hashed here rather than shipped to a worker; a
      // trailing partial data block in it is left out (floor), as veritysetup does.
      const tail = hashSaltedRecords(this.parameters.algorithm, this.batch, this.recordBytes, Math.floor(this.batchFill / this.parameters.dataBlockSize), this.slotBytes);
      while (this.inFlight.length > 0) await this.collectOldest();
      this.leafRuns.push(tail);
      const levels = this.buildLevels(plan);
      const rootHash = levels.length === 0 ? tail.slice(0, plan.digestSizeBytes) : this.digestOf(levels[levels.length - 1]!);
      const superblock = encodeSuperblock({ ...this.parameters, dataBlocks: plan.dataBlocks });
      this.result = { rootHash, dataBlocks: plan.dataBlocks, plan, hashImage: new VerityHashImage(plan, superblock, levels) };
      return this.result;
    } finally {
      await this.close();
    }
  }

  /** Writes the hash device image (after finish()) front to back into `sink`. */
  async writeHashImage(sink: SequentialSink): Promise<void> {
    if (this.result === undefined) throw new Error("internal: VerityHasher.writeHashImage before finish");
    await this.result.hashImage.write(sink);
  }

  /** Stops the workers; finish() does this itself, callers use it when the build fails. */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await pool.close();
  }

  private async dispatchFullBatch(): Promise<void> {
    const job: HashJob = { algorithm: this.parameters.algorithm, recordBytes: this.recordBytes, count: this.batchBytes / this.parameters.dataBlockSize, slotBytes: this.slotBytes, records: this.batch };
    // Workers start on the first full batch, so small inputs never pay for thread start-up.
    this.pool ??= new WorkerPool<HashReply>(workerScriptPath(import.meta.url, "./hash-worker.js"), Math.max(1, this.options.concurrency));
    const reply = this.pool.submit(job, [this.batch.buffer as ArrayBuffer]);
    // A worker failure is reported when this reply is awaited in order; until then the
    // rejection must not count as unhandled (which would end the process).
    reply.catch(() => undefined);
    this.inFlight.push(reply);
    this.batch = this.spareBatches.pop() ?? this.newBatch();
    this.batchFill = 0;
    // Two batches per worker keep every worker busy while bounding memory.
    while (this.inFlight.length >= 2 * this.pool.size) await this.collectOldest();
  }

  private async collectOldest(): Promise<void> {
    const reply = await this.inFlight.shift()!;
    this.leafRuns.push(reply.digests);
    this.spareBatches.push(reply.records);
  }

  /** A batch buffer with the salt already in front of every record (workers never change it). */
  private newBatch(): Uint8Array {
    const records = this.batchBytes / this.parameters.dataBlockSize;
    const batch = new Uint8Array(records * this.recordBytes);
    for (let record = 0; record < records; record++) batch.set(this.parameters.salt, record * this.recordBytes);
    return batch;
  }

  /** Level 0 from the digest runs, then each level i+1 from the blocks of level i (§3.2). */
  private buildLevels(plan: VerityPlan): Uint8Array[] {
    const levels: Uint8Array[] = [];
    if (plan.levels.length === 0) return levels;
    const { hashBlockSize } = plan;
    const leaf = new Uint8Array(plan.levels[0]!.blockCount * hashBlockSize);
    let offset = 0;
    for (const run of this.leafRuns) {
      leaf.set(run, offset);
      offset += run.length;
    }
    this.leafRuns.length = 0;
    levels.push(leaf);
    for (let level = 1; level < plan.levels.length; level++) {
      const digests = hashBlocks(plan.algorithm, this.parameters.salt, levels[level - 1]!, hashBlockSize, this.slotBytes);
      const blocks = new Uint8Array(plan.levels[level]!.blockCount * hashBlockSize);
      blocks.set(digests, 0);
      levels.push(blocks);
    }
    return levels;
  }

  private digestOf(topLevel: Uint8Array): Uint8Array {
    const { algorithm, salt } = this.parameters;
    const digestSize = digestLayout(this.parameters.hashBlockSize, algorithm).digestSizeBytes;
    return hashBlocks(algorithm, salt, topLevel, topLevel.length, this.slotBytes).slice(0, digestSize);
  }
}

/** The hash device contents: superblock block, then the levels top first (formats.md §3.2). */
export class VerityHashImage {
  readonly sizeBytes: number;
  constructor(readonly plan: VerityPlan, readonly superblock: Uint8Array, private readonly levelsBottomUp: readonly Uint8Array[]) {
    this.sizeBytes = plan.hashImageSizeBytes;
  }

  /** Level `level` (0 = leaf) as stored on the device. */
  level(level: number): Uint8Array {
    return this.levelsBottomUp[level]!;
  }

  async write(sink: SequentialSink): Promise<void> {
    const start = sink.position;
    await sink.write(this.superblock);
    await writeZeros(sink, this.plan.superblockBlocks * this.plan.hashBlockSize - this.superblock.length);
    for (let level = this.levelsBottomUp.length - 1; level >= 0; level--) await sink.write(this.levelsBottomUp[level]!);
    if (sink.position - start !== this.sizeBytes) {
      throw new Error(`internal: verity hash image wrote ${sink.position - start} bytes, planned ${this.sizeBytes}`);
    }
  }
}
