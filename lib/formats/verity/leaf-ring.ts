/**
 * The level-0 work ring shared by the main thread and the hashing workers. Data and digests
 * live in SharedArrayBuffers, so handing out work costs an atomic compare-and-swap, not a
 * message: the main thread copies data into a slot and publishes it as unit n (slot n mod
 * slots); every thread, the main thread included, claims the oldest unclaimed unit, hashes it
 * in place (hash-blocks.ts) and marks its slot done. The main thread collects digests strictly
 * in unit order, so the tree never depends on which thread hashed what.
 *
 * Control words (Int32, all accessed atomically):
 * - PUBLISHED: units published so far; CLAIMED: units claimed so far (≤ PUBLISHED).
 * - EPOCH: bumped on every publish and on close; idle workers sleep on it, and reading it
 *   before looking for work means no wake-up is lost.
 * - CLOSING: 1 once no more units will come; idle workers then return.
 * - per slot: DONE (unit number + 1 once hashed) and COUNT (data blocks in the unit).
 */
import { hashLeafBatch, type LeafHashing } from "./hash-blocks.js";

/** Atomics.waitAsync (ES2024, in Node since 16) is missing from the TypeScript lib this project targets. */
interface AsyncWaiter {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

const PUBLISHED = 0;
const CLAIMED = 1;
const EPOCH = 2;
const CLOSING = 3;
const SLOT_WORDS_START = 4;

/** Everything a thread needs to attach to the ring; structured-cloneable, sent once per worker. */
export interface LeafRingShared extends LeafHashing {
  readonly slots: number;
  readonly unitBlocks: number;
  readonly control: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
  readonly digests: SharedArrayBuffer;
}

export class LeafRing {
  readonly slots: number;
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly digests: Uint8Array;
  private readonly unitDataBytes: number;
  private readonly unitDigestBytes: number;

  constructor(readonly shared: LeafRingShared) {
    this.slots = shared.slots;
    this.control = new Int32Array(shared.control);
    this.data = new Uint8Array(shared.data);
    this.digests = new Uint8Array(shared.digests);
    this.unitDataBytes = shared.headroomBytes + shared.unitBlocks * shared.blockSize;
    this.unitDigestBytes = shared.unitBlocks * shared.slotBytes;
  }

  static create(hashing: LeafHashing, slots: number, unitBlocks: number): LeafRing {
    const unitDataBytes = hashing.headroomBytes + unitBlocks * hashing.blockSize;
    return new LeafRing({
      ...hashing,
      slots,
      unitBlocks,
      control: new SharedArrayBuffer((SLOT_WORDS_START + 2 * slots) * 4),
      data: new SharedArrayBuffer(slots * unitDataBytes),
      digests: new SharedArrayBuffer(slots * unitBlocks * hashing.slotBytes),
    });
  }

  /** Where unit `unit`'s data blocks go (after its headroom); free once unit − slots is collected. */
  unitData(unit: number): Uint8Array {
    const start = (unit % this.slots) * this.unitDataBytes + this.shared.headroomBytes;
    return this.data.subarray(start, start + this.shared.unitBlocks * this.shared.blockSize);
  }

  /** Makes unit `unit` (the next one) with `blockCount` blocks available to every thread. */
  publish(unit: number, blockCount: number): void {
    Atomics.store(this.control, SLOT_WORDS_START + 2 * (unit % this.slots) + 1, blockCount);
    Atomics.store(this.control, PUBLISHED, unit + 1);
    this.wakeWorkers();
  }

  /** Published units no thread has claimed yet. */
  unclaimed(): number {
    return Atomics.load(this.control, PUBLISHED) - Atomics.load(this.control, CLAIMED);
  }

  /** Claims the oldest unclaimed unit, or returns undefined when there is none. */
  claim(): number | undefined {
    for (;;) {
      const next = Atomics.load(this.control, CLAIMED);
      if (next >= Atomics.load(this.control, PUBLISHED)) return undefined;
      if (Atomics.compareExchange(this.control, CLAIMED, next, next + 1) === next) return next;
    }
  }

  /** Hashes a claimed unit into its digest slot and marks it done. */
  hash(unit: number): void {
    const slot = unit % this.slots;
    const count = Atomics.load(this.control, SLOT_WORDS_START + 2 * slot + 1);
    const start = slot * this.unitDataBytes;
    const bytes = this.data.subarray(start, start + this.shared.headroomBytes + count * this.shared.blockSize);
    hashLeafBatch({ ...this.shared, count, bytes }, this.digests.subarray(slot * this.unitDigestBytes, (slot + 1) * this.unitDigestBytes));
    Atomics.store(this.control, SLOT_WORDS_START + 2 * slot, unit + 1);
    Atomics.notify(this.control, SLOT_WORDS_START + 2 * slot);
  }

  isDone(unit: number): boolean {
    return Atomics.load(this.control, SLOT_WORDS_START + 2 * (unit % this.slots)) === unit + 1;
  }

  /** Resolves once `unit` is hashed (by any thread); the main thread keeps serving its event loop meanwhile. */
  async untilDone(unit: number): Promise<void> {
    const index = SLOT_WORDS_START + 2 * (unit % this.slots);
    for (;;) {
      const value = Atomics.load(this.control, index);
      if (value === unit + 1) return;
      const wait = (Atomics as unknown as AsyncWaiter).waitAsync(this.control, index, value);
      if (wait.async) await wait.value;
    }
  }

  /** A copy of a done unit's digests; its slot may be refilled afterwards. */
  digestsOf(unit: number): Uint8Array {
    const slot = unit % this.slots;
    const count = Atomics.load(this.control, SLOT_WORDS_START + 2 * slot + 1);
    return this.digests.slice(slot * this.unitDigestBytes, slot * this.unitDigestBytes + count * this.shared.slotBytes);
  }

  /** No more units will be published: idle workers return from serve(). */
  close(): void {
    Atomics.store(this.control, CLOSING, 1);
    this.wakeWorkers();
  }

  /** A worker's loop: hash whatever is published, sleep when there is nothing, return on close. */
  serve(): void {
    for (;;) {
      const epoch = Atomics.load(this.control, EPOCH);
      const unit = this.claim();
      if (unit !== undefined) this.hash(unit);
      else if (Atomics.load(this.control, CLOSING) === 1) return;
      else Atomics.wait(this.control, EPOCH, epoch);
    }
  }

  private wakeWorkers(): void {
    Atomics.add(this.control, EPOCH, 1);
    Atomics.notify(this.control, EPOCH);
  }
}
