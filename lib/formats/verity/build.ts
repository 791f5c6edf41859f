/**
 * Streaming dm-verity hash-tree builder (formats.md §3; hash type 1 as systemd-repart and
 * veritysetup write it).
 *
 * VerityHasher is a SequentialSink: the data partition's writer tees into it, so the tree is
 * built while the data is produced, never by reading the partition a second time. Data goes
 * in units of whole blocks to a ring shared with concurrency − 1 worker threads (leaf-ring.ts,
 * started through lib/core/pool.ts): writes of any size are copied into it (one memcpy per
 * write) and published. Once the workers have enough units queued, the main thread hashes
 * whole units itself, straight from the writer's bytes when they hold one (not copied into the ring),
 * else from the ring. Digest runs stay in data order whoever computed them, so the result does
 * not depend on chunking or worker count.
 *
 * Memory: level 0 (one digest slot per data block, 1/128 of the data for 4 KiB blocks and
 * sha256: 8 MiB per GiB) and the levels above it (1/128 of that again) are held in memory
 * until the hash image is written; the data itself only in the ring (unit size × (8 ×
 * workers + 2), 5 MiB with one worker).
 *
 * Data that already sits in a file (a partition being verified, an image to protect, as
 * `veritysetup format` takes it) goes through hashVerityFile instead: every thread reads its
 * own share, nothing is copied between threads.
 *
 * A trailing partial data block is not covered, exactly as veritysetup does (formats.md
 * §3.2, VERIFIED); image partitions are block-aligned, so this only matters for odd inputs.
 */
import { ErrorCode, fail } from "../../core/errors.js";
import { isGuid } from "../../core/guid.js";
import { WorkerPool, workerScriptPath } from "../../core/pool.js";
import type { SequentialSink } from "../../io/stream.js";
import { writeZeros } from "../../io/stream.js";
import { hashFileLeaves } from "./file-leaves.js";
import { hashBlocks, leafHeadroomBytes, type LeafHashing } from "./hash-blocks.js";
import type { HashWorkerJob } from "./hash-worker.js";
import { LeafRing } from "./leaf-ring.js";
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
  /** Threads hashing level 0: the main thread and concurrency − 1 workers; output never depends on it. */
  readonly concurrency: number;
  /** Data bytes per unit of work (rounded up to whole data blocks); default 512 KiB. */
  readonly batchBytes?: number;
}

export interface VerityResult {
  readonly rootHash: Uint8Array;
  readonly dataBlocks: number;
  readonly plan: VerityPlan;
  readonly hashImage: VerityHashImage;
}

/** 512 KiB: ~0.4 ms of sha256 on one core, small enough to share the work out evenly. */
const DEFAULT_BATCH_BYTES = 512 * 1024;
/**
 * Published units left to each worker: ~1.6 ms of work at the default unit size, enough to
 * keep a worker busy while the main thread waits for its producer (e.g. a 4 MiB file read).
 */
const RESERVE_UNITS_PER_WORKER = 4;

export class VerityHasher implements SequentialSink {
  position = 0;
  private readonly slotBytes: number;
  private readonly unitBlocks: number;
  private readonly workers: number;
  /** Published units left to the workers before the main thread hashes any itself. */
  private readonly reserveUnits: number;
  private readonly zeroDigest: Uint8Array;
  private readonly ring: LeafRing;
  /** Data bytes in the unit being filled, which is unit number `published`. */
  private unitFill = 0;
  private published = 0;
  private collected = 0;
  /** Level-0 digest runs in data order; a published unit's place stays empty until it is collected. */
  private readonly leafRuns: (Uint8Array | undefined)[] = [];
  /** The places in leafRuns of the published units not collected yet, in unit order. */
  private readonly pendingRuns: number[] = [];
  private pool: WorkerPool<string> | undefined;
  /** The workers' jobs: they settle when the ring closes, or reject when a worker fails. */
  private workersStopped: Promise<unknown> | undefined;
  private finished = false;
  private result: VerityResult | undefined;

  constructor(readonly parameters: VerityHasherParameters, options: VerityHasherOptions) {
    const hashing = leafHashingOf(parameters);
    this.slotBytes = hashing.slotBytes;
    this.zeroDigest = hashing.zeroDigest;
    this.unitBlocks = Math.max(1, Math.ceil((options.batchBytes ?? DEFAULT_BATCH_BYTES) / parameters.dataBlockSize));
    this.workers = Math.max(0, options.concurrency - 1);
    this.reserveUnits = this.workers * RESERVE_UNITS_PER_WORKER;
    // Room for every worker's reserve, the unit being filled and as many again in progress.
    this.ring = LeafRing.create(hashing, 2 * (this.reserveUnits + 1), this.unitBlocks);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.finished) throw new Error("internal: VerityHasher.write after finish");
    const { algorithm, salt, dataBlockSize } = this.parameters;
    const unitDataBytes = this.unitBlocks * dataBlockSize;
    let offset = 0;
    while (offset < bytes.length) {
      if (this.unitFill === 0 && bytes.length - offset >= unitDataBytes && this.ring.unclaimed() >= this.reserveUnits) {
        // The workers have work queued: the main thread hashes a unit straight from the
        // producer's bytes, which saves copying it into the ring.
        this.leafRuns.push(hashBlocks(algorithm, salt, bytes.subarray(offset, offset + unitDataBytes), dataBlockSize, this.slotBytes, this.zeroDigest));
        offset += unitDataBytes;
        continue;
      }
      const take = Math.min(bytes.length - offset, unitDataBytes - this.unitFill);
      this.ring.unitData(this.published).set(bytes.subarray(offset, offset + take), this.unitFill);
      this.unitFill += take;
      offset += take;
      if (this.unitFill === unitDataBytes) await this.publishUnit(this.unitBlocks);
    }
    this.position += bytes.length;
  }

  /** Hashes what is left, builds the upper levels and returns the root hash and hash image. */
  async finish(): Promise<VerityResult> {
    if (this.finished) throw new Error("internal: VerityHasher.finish called twice");
    this.finished = true;
    try {
      const plan = planVerity(this.position, this.parameters);
      // A trailing partial data block is left out (floor), as veritysetup does.
      const tailBlocks = Math.floor(this.unitFill / this.parameters.dataBlockSize);
      if (tailBlocks > 0) await this.publishUnit(tailBlocks);
      while (this.collected < this.published) await this.collectOldest();
      this.result = completeTree(this.parameters, plan, this.leafDigests(plan));
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
    if (pool === undefined) return;
    this.ring.close();
    await this.workersStopped?.catch(() => undefined);
    await pool.close();
  }

  /**
   * Publishes the filled unit. Units up to RESERVE_UNITS_PER_WORKER per worker are left for
   * the workers; the main thread hashes any beyond that itself, so every thread hashes and
   * the main thread only waits when the ring is full.
   */
  private async publishUnit(blockCount: number): Promise<void> {
    // Workers start with the first unit, so inputs below one unit never pay for thread start-up.
    if (this.workers > 0 && this.pool === undefined) this.startWorkers();
    this.ring.publish(this.published, blockCount);
    this.pendingRuns.push(this.leafRuns.length);
    this.leafRuns.push(undefined);
    this.published++;
    this.unitFill = 0;
    while (this.ring.unclaimed() > this.reserveUnits) {
      const unit = this.ring.claim();
      if (unit === undefined) break;
      this.ring.hash(unit);
    }
    this.collect();
    // The slot of the unit to fill next is free once the unit `slots` before it is collected.
    while (this.published - this.collected >= this.ring.slots) await this.collectOldest();
  }

  private startWorkers(): void {
    const pool = new WorkerPool<string>(workerScriptPath(import.meta.url, "./hash-worker.js"), this.workers);
    this.pool = pool;
    this.workersStopped = Promise.all(Array.from({ length: this.workers }, () => pool.submit({ ring: this.ring.shared } satisfies HashWorkerJob)));
    // A worker failure is reported where the main thread waits on a unit; until then it must
    // not count as an unhandled rejection (which would end the process).
    this.workersStopped.catch(() => undefined);
  }

  private collect(): void {
    while (this.collected < this.published && this.ring.isDone(this.collected)) this.leafRuns[this.pendingRuns.shift()!] = this.ring.digestsOf(this.collected++);
  }

  /** Hashes an unclaimed unit if there is one, else waits until the oldest is done; then collects. */
  private async collectOldest(): Promise<void> {
    const unit = this.ring.claim();
    if (unit !== undefined) this.ring.hash(unit);
    else if (this.workersStopped === undefined) throw new Error(`internal: verity unit ${this.collected} was claimed but no worker runs`);
    else await Promise.race([this.ring.untilDone(this.collected), this.workersStopped]);
    this.collect();
  }

  /** Level 0 as one buffer: the digest runs back to back, padded to whole hash blocks. */
  private leafDigests(plan: VerityPlan): Uint8Array {
    const leaf = new Uint8Array(leafLevelBytes(plan));
    let offset = 0;
    for (const run of this.leafRuns) {
      leaf.set(run!, offset);
      offset += run!.length;
    }
    this.leafRuns.length = 0;
    return leaf;
  }
}

/**
 * The tree of data already in a file (`start` bytes into `path`, `size` bytes), as
 * `veritysetup format` builds it: every thread reads its own share (file-leaves.ts), so
 * nothing is copied between threads. Same result as a VerityHasher fed the same bytes.
 */
export async function hashVerityFile(
  file: { readonly path: string; readonly start: number; readonly size: number; readonly description: string },
  parameters: VerityHasherParameters,
  options: { readonly concurrency: number; readonly runBytes?: number },
): Promise<VerityResult> {
  const hashing = leafHashingOf(parameters);
  const plan = planVerity(file.size, parameters);
  const leaf = await hashFileLeaves({ path: file.path, description: file.description, startBytes: file.start }, plan.dataBlocks, hashing, leafLevelBytes(plan), options);
  return completeTree(parameters, plan, leaf);
}

/** Checks the parameters and derives how level 0 is hashed (digest slot, digest of a zero block). */
function leafHashingOf(parameters: VerityHasherParameters): LeafHashing {
  checkVerityParameters(parameters);
  if (parameters.hashType !== 1) fail(ErrorCode.Verity, `verity.hashType: ${String(parameters.hashType)} is not supported`, "use hash type 1");
  if (parameters.salt.length > MAX_SALT_BYTES) fail(ErrorCode.Verity, `verity.salt: ${parameters.salt.length} bytes, at most ${MAX_SALT_BYTES} allowed`, "use a 32-byte salt");
  if (!isGuid(parameters.uuid)) fail(ErrorCode.Verity, `verity.uuid: "${parameters.uuid}" is not a UUID`, "use the dashed 8-4-4-4-12 form");
  const { dataBlockSize, algorithm, salt } = parameters;
  const slotBytes = digestLayout(parameters.hashBlockSize, algorithm).digestSlotBytes;
  const zeroDigest = hashBlocks(algorithm, salt, new Uint8Array(dataBlockSize), dataBlockSize, slotBytes);
  return { algorithm, salt, headroomBytes: leafHeadroomBytes(salt), blockSize: dataBlockSize, slotBytes, zeroDigest };
}

/** Level 0 padded to whole hash blocks (one block even for a single data block). */
function leafLevelBytes(plan: VerityPlan): number {
  return Math.max(1, plan.levels[0]?.blockCount ?? 0) * plan.hashBlockSize;
}

/** From level 0 to the root hash, superblock and hash image (§3.2). */
function completeTree(parameters: VerityHasherParameters, plan: VerityPlan, leaf: Uint8Array): VerityResult {
  const { algorithm, salt } = parameters;
  const slotBytes = digestLayout(plan.hashBlockSize, algorithm).digestSlotBytes;
  // Level 0, then each level i+1 from the blocks of level i; none for a single data block.
  const levels: Uint8Array[] = [];
  if (plan.levels.length > 0) levels.push(leaf);
  for (let level = 1; level < plan.levels.length; level++) {
    const digests = hashBlocks(algorithm, salt, levels[level - 1]!, plan.hashBlockSize, slotBytes);
    const blocks = new Uint8Array(plan.levels[level]!.blockCount * plan.hashBlockSize);
    blocks.set(digests, 0);
    levels.push(blocks);
  }
  const top = levels.length === 0 ? leaf : hashBlocks(algorithm, salt, levels[levels.length - 1]!, plan.hashBlockSize, slotBytes);
  const rootHash = top.slice(0, plan.digestSizeBytes);
  const superblock = encodeSuperblock({ ...parameters, dataBlocks: plan.dataBlocks });
  return { rootHash, dataBlocks: plan.dataBlocks, plan, hashImage: new VerityHashImage(plan, superblock, levels) };
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
