/**
 * Partition placement with systemd-repart v257's semantics, so a gptimg table equals the one
 * repart writes for the same definitions (repart.c context_allocate_partitions,
 * context_grow_partitions, context_place_partitions). All sizes are bytes.
 *
 * - Free areas: the space before the first partition and the space after each existing one.
 * - Allocation: first fit of each new partition (min size + min padding) into free areas
 *   sorted by available space, smallest first; when nothing fits, partitions of the highest
 *   priority > 0 are dropped (with their verity siblings) and allocation is retried.
 * - Growth: per free area, the span (area + the partition before it) is shared by weight in
 *   four phases (foreign, overcharge, undercharge, distribute); leftovers go to the preceding
 *   partition, then to anyone in the area below their maximum, and finally become padding.
 */
import { alignDown, alignUp } from "../core/int.js";

export const DEFAULT_MIN_SIZE_BYTES = 10 * 1024 * 1024;
export const HARD_MIN_SIZE_BYTES = 4096;
export const VERITY_SIG_SIZE_BYTES = 4 * HARD_MIN_SIZE_BYTES;
/** repart's GPT_METADATA_SIZE: space --size=auto reserves for the two tables (1044 KiB). */
export const GPT_METADATA_SIZE_BYTES = 1044 * 1024;
/** partition_new()'s default Weight=, which foreign partitions keep. */
const FOREIGN_WEIGHT = 1000;

export interface AllocationPartition {
  /** undefined = an existing partition no definition matched ("foreign"): never changed. */
  readonly managed: boolean;
  readonly priority: number;
  readonly weight: number;
  readonly paddingWeight: number;
  /** Configured SizeMinBytes / SizeMaxBytes / Padding… (undefined = unset). */
  readonly sizeMinBytes: number | undefined;
  readonly sizeMaxBytes: number | undefined;
  readonly paddingMinBytes: number | undefined;
  readonly paddingMaxBytes: number | undefined;
  /** Bytes the content needs (CopyBlocks= file, built filesystem, …), undefined if none. */
  readonly contentSizeBytes: number | undefined;
  /** A format is synthesized (minimum one grain even without content). */
  readonly formatted: boolean;
  readonly readOnlyFormatOrVerity: boolean;
  readonly isVeritySignature: boolean;
  /** Index of verity siblings (dropped together). */
  readonly siblings: readonly number[];
  /** Present when the partition is already on disk. */
  readonly existing: { offsetBytes: number; sizeBytes: number; paddingBytes: number } | undefined;
}

export interface AllocationResult {
  readonly placements: ReadonlyArray<{ dropped: boolean; offsetBytes: number; sizeBytes: number; paddingBytes: number }>;
  /** New partitions in the order repart numbers them (free areas smallest first, then list order). */
  readonly numberingOrder: readonly number[];
}

interface FreeArea {
  size: number;
  /** Index of the partition this area follows, or -1 for the area at the start. */
  after: number;
  allocated: number;
}

interface State {
  dropped: boolean;
  foreign: boolean;
  allocatedTo: FreeArea | undefined;
  paddingArea: FreeArea | undefined;
  newSize: number | undefined;
  newPadding: number | undefined;
  offset: number | undefined;
}

export class AllocationError extends Error {
  constructor(readonly largestFreeAreaBytes: number, readonly autoSizeBytes: number) {
    super("partitions do not fit");
  }
}

export class Allocator {
  private readonly states: State[];
  private areas: FreeArea[] = [];

  constructor(
    private readonly partitions: readonly AllocationPartition[],
    private readonly grainBytes: number,
  ) {
    this.states = partitions.map((partition) => ({ dropped: false, foreign: !partition.managed, allocatedTo: undefined, paddingArea: undefined, newSize: undefined, newPadding: undefined, offset: partition.existing?.offsetBytes }));
  }

  /**
   * repart's partition_foreignize(): an existing partition that is dropped for lack of space
   * (or has no definition) keeps its place and size, with priority 0, weight 1000 and no
   * padding settings — partition_new()'s defaults.
   */
  private weight(index: number): number {
    return this.states[index]!.foreign ? FOREIGN_WEIGHT : this.partitions[index]!.weight;
  }

  private paddingWeight(index: number): number {
    return this.states[index]!.foreign ? 0 : this.partitions[index]!.paddingWeight;
  }

  private priority(index: number): number {
    return this.states[index]!.foreign ? 0 : this.partitions[index]!.priority;
  }

  minSize(index: number): number {
    const partition = this.partitions[index]!;
    const state = this.states[index]!;
    if (state.foreign) return partition.existing!.sizeBytes;
    if (partition.isVeritySignature) return VERITY_SIG_SIZE_BYTES;
    let size = partition.existing ? partition.existing.sizeBytes : HARD_MIN_SIZE_BYTES;
    if (!partition.existing) {
      let needed = 0;
      if (partition.contentSizeBytes !== undefined) needed += alignUp(partition.contentSizeBytes, this.grainBytes);
      else if (partition.formatted) needed += this.grainBytes;
      size = Math.max(size, needed);
    }
    const configuredMin = partition.sizeMinBytes ?? (partition.readOnlyFormatOrVerity ? 1 : DEFAULT_MIN_SIZE_BYTES);
    return Math.max(alignUp(configuredMin, this.grainBytes), size);
  }

  maxSize(index: number): number {
    const partition = this.partitions[index]!;
    if (this.states[index]!.foreign) return partition.existing!.sizeBytes;
    if (partition.isVeritySignature) return VERITY_SIG_SIZE_BYTES;
    if (partition.sizeMaxBytes === undefined) return Number.POSITIVE_INFINITY;
    let max = alignDown(partition.sizeMaxBytes, this.grainBytes);
    if (partition.existing) max = Math.max(partition.existing.sizeBytes, max);
    return Math.max(this.minSize(index), max);
  }

  private minPadding(index: number): number {
    return this.states[index]!.foreign ? 0 : this.partitions[index]!.paddingMinBytes ?? 0;
  }

  private maxPadding(index: number): number {
    return this.states[index]!.foreign ? Number.POSITIVE_INFINITY : this.partitions[index]!.paddingMaxBytes ?? Number.POSITIVE_INFINITY;
  }

  minSizeWithPadding(index: number): number {
    const size = this.minSize(index) + this.minPadding(index);
    const existing = this.partitions[index]!.existing;
    if (existing) return alignUp(existing.offsetBytes + size, this.grainBytes) - existing.offsetBytes;
    return alignUp(size, this.grainBytes);
  }

  /** repart's determine_auto_size(): the image size that leaves no free space. */
  autoSizeBytes(): number {
    let sum = alignUp(GPT_METADATA_SIZE_BYTES, 4096);
    this.partitions.forEach((_, index) => {
      if (!this.states[index]!.dropped) sum += this.minSizeWithPadding(index);
    });
    return sum;
  }

  /**
   * Sets the free areas of the disk: `startBytes`/`endBytes` bound the usable area (already
   * aligned to the grain); existing partitions contribute the free space after them.
   */
  setFreeAreas(startBytes: number, endBytes: number): void {
    this.areas = [];
    const existing = this.partitions.map((partition, index) => ({ partition, index })).filter(({ partition }) => partition.existing);
    if (existing.length === 0) {
      if (endBytes > startBytes) this.areas.push({ size: endBytes - startBytes, after: -1, allocated: 0 });
    } else {
      const leftBoundary = alignDown(Math.min(...existing.map(({ partition }) => partition.existing!.offsetBytes)), this.grainBytes);
      for (const { partition, index } of existing) {
        if (partition.existing!.paddingBytes > 0) {
          const area: FreeArea = { size: partition.existing!.paddingBytes, after: index, allocated: 0 };
          this.states[index]!.paddingArea = area;
          this.areas.push(area);
        }
      }
      if (leftBoundary > startBytes) this.areas.push({ size: leftBoundary - startBytes, after: -1, allocated: 0 });
    }
    this.start = startBytes;
  }

  private start = 0;

  private areaAvailable(area: FreeArea): number {
    return area.size - area.allocated;
  }

  private areaCurrentEnd(area: FreeArea): number {
    if (area.after < 0) return this.areaAvailable(area);
    const existing = this.partitions[area.after]!.existing!;
    return alignUp(existing.offsetBytes + existing.sizeBytes, this.grainBytes) + this.areaAvailable(area);
  }

  private areaMinEnd(area: FreeArea): number {
    if (area.after < 0) return 0;
    const existing = this.partitions[area.after]!.existing!;
    return alignUp(existing.offsetBytes + this.minSizeWithPadding(area.after), this.grainBytes);
  }

  private areaAvailableForNew(area: FreeArea): number {
    return Math.max(0, this.areaCurrentEnd(area) - this.areaMinEnd(area));
  }

  private tryAllocate(): { fits: boolean; largest: number } {
    for (const area of this.areas) area.allocated = 0;
    // Stable sort, as repart's qsort happens to keep equal areas in insertion order only by
    // luck; ties are rare (they need two equally large free areas).
    this.areas.sort((left, right) => this.areaAvailableForNew(left) - this.areaAvailableForNew(right));
    const largest = this.areas.length === 0 ? 0 : this.areaAvailableForNew(this.areas[this.areas.length - 1]!);
    for (const area of this.areas) if (this.areaCurrentEnd(area) < this.areaMinEnd(area)) return { fits: false, largest };
    for (let index = 0; index < this.partitions.length; index++) {
      const state = this.states[index]!;
      if (state.dropped || state.foreign) continue;
      const required = this.minSizeWithPadding(index);
      const existing = this.partitions[index]!.existing;
      if (existing) {
        if (existing.sizeBytes + existing.paddingBytes < required) return { fits: false, largest };
        continue;
      }
      const area = this.areas.find((candidate) => this.areaAvailableForNew(candidate) >= required);
      if (!area) return { fits: false, largest };
      state.allocatedTo = area;
      area.allocated += required;
    }
    return { fits: true, largest };
  }

  private dropOnePriority(): boolean {
    let priority = 0;
    this.states.forEach((state, index) => {
      if (!state.dropped) priority = Math.max(priority, this.priority(index));
    });
    if (priority <= 0) return false;
    this.partitions.forEach((partition, index) => {
      if (this.priority(index) < priority) return;
      this.dropOrForeignize(index);
      for (const sibling of partition.siblings) this.dropOrForeignize(sibling);
    });
    return true;
  }

  private dropOrForeignize(index: number): void {
    const state = this.states[index]!;
    if (state.dropped || state.foreign) return;
    if (this.partitions[index]!.existing) {
      state.foreign = true;
    } else {
      state.dropped = true;
      state.allocatedTo = undefined;
    }
  }

  /** Runs allocation with priority dropping; throws AllocationError when nothing more can be dropped. */
  allocate(): void {
    for (;;) {
      for (const state of this.states) state.allocatedTo = undefined;
      const { fits, largest } = this.tryAllocate();
      if (fits) return;
      if (this.dropOnePriority()) continue;
      throw new AllocationError(largest, this.autoSizeBytes());
    }
  }

  isDropped(index: number): boolean {
    return this.states[index]!.dropped;
  }

  grow(): void {
    for (const area of this.areas) this.growArea(area);
    this.states.forEach((state, index) => {
      if (state.dropped) return;
      const existing = this.partitions[index]!.existing;
      if (!existing || state.paddingArea) return;
      state.newSize = existing.sizeBytes;
      state.newPadding = existing.paddingBytes;
    });
  }

  private inArea(index: number, area: FreeArea): boolean {
    const state = this.states[index]!;
    return state.allocatedTo === area || state.paddingArea === area;
  }

  private growArea(area: FreeArea): void {
    let weightSum = 0;
    this.partitions.forEach((_, index) => {
      if (this.inArea(index, area)) weightSum += this.weight(index) + this.paddingWeight(index);
    });
    let span = area.size;
    if (area.after >= 0) {
      const existing = this.partitions[area.after]!.existing!;
      span += alignUp(existing.offsetBytes + existing.sizeBytes, this.grainBytes) - existing.offsetBytes;
    }
    const budget = { span, weightSum };
    for (let phase = 0; phase < 4; ) {
      if (this.growPhase(area, phase, budget)) phase++;
    }
    if (budget.span > 0 && area.after >= 0) this.growOne(area, area.after, budget);
    if (budget.span > 0) {
      for (let index = 0; index < this.partitions.length && budget.span > 0; index++) this.growOne(area, index, budget);
    }
    if (budget.span > 0 && area.after >= 0) {
      const state = this.states[area.after]!;
      state.newPadding = state.newPadding! + budget.span;
    }
  }

  private charge(total: number, amount: number): number {
    return Math.max(0, total - alignUp(amount, this.grainBytes));
  }

  /** One pass of repart's context_grow_partitions_phase; returns false when it must restart. */
  private growPhase(area: FreeArea, phase: number, budget: { span: number; weightSum: number }): boolean {
    const FOREIGN = 0, OVERCHARGE = 1, UNDERCHARGE = 2, DISTRIBUTE = 3;
    let tryAgain = false;
    for (let index = 0; index < this.partitions.length; index++) {
      if (!this.inArea(index, area)) continue;
      const partition = this.partitions[index]!;
      const state = this.states[index]!;
      const weight = this.weight(index);
      const paddingWeight = this.paddingWeight(index);
      if (state.newSize === undefined) {
        const share = scaleByWeight(budget.span, weight, budget.weightSum);
        const minimum = this.minSize(index);
        const maximum = this.maxSize(index);
        let charge = false;
        if (phase === FOREIGN && state.foreign) {
          state.newSize = partition.existing!.sizeBytes;
          charge = true;
        } else if (phase === OVERCHARGE && minimum > share) {
          state.newSize = minimum;
          charge = tryAgain = true;
        } else if (phase === UNDERCHARGE && maximum < share) {
          state.newSize = maximum;
          charge = tryAgain = true;
        } else if (phase === DISTRIBUTE) {
          state.newSize = Math.min(Math.max(alignDown(share, this.grainBytes), minimum), maximum);
          charge = true;
        }
        if (charge) {
          budget.span = this.charge(budget.span, state.newSize!);
          budget.weightSum -= weight;
        }
      }
      if (state.newPadding === undefined) {
        const share = scaleByWeight(budget.span, paddingWeight, budget.weightSum);
        const minimum = this.minPadding(index);
        const maximum = this.maxPadding(index);
        let charge = false;
        if (phase === OVERCHARGE && minimum > share) {
          state.newPadding = minimum;
          charge = tryAgain = true;
        } else if (phase === UNDERCHARGE && maximum < share) {
          state.newPadding = maximum;
          charge = tryAgain = true;
        } else if (phase === DISTRIBUTE) {
          state.newPadding = Math.min(Math.max(alignDown(share, this.grainBytes), minimum), maximum);
          charge = true;
        }
        if (charge) {
          budget.span = this.charge(budget.span, state.newPadding!);
          budget.weightSum -= paddingWeight;
        }
      }
    }
    return !tryAgain;
  }

  private growOne(area: FreeArea, index: number, budget: { span: number }): void {
    if (budget.span === 0) return;
    const state = this.states[index]!;
    if (state.allocatedTo !== area || state.foreign) return;
    let size = alignDown(state.newSize! + budget.span, this.grainBytes);
    size = Math.max(size, state.newSize!);
    size = Math.min(size, this.maxSize(index));
    budget.span = this.charge(budget.span, size - state.newSize!);
    state.newSize = size;
  }

  /** repart's context_place_partitions(): offsets of new partitions, front to back per area. */
  place(): AllocationResult {
    const numberingOrder: number[] = [];
    for (const area of this.areas) {
      let start: number;
      if (area.after >= 0) {
        const state = this.states[area.after]!;
        start = this.partitions[area.after]!.existing!.offsetBytes + state.newSize! + state.newPadding!;
      } else {
        start = this.start;
      }
      start = alignUp(start, this.grainBytes);
      this.partitions.forEach((_, index) => {
        const state = this.states[index]!;
        if (state.allocatedTo !== area) return;
        state.offset = start;
        numberingOrder.push(index);
        start += state.newSize! + state.newPadding!;
      });
    }
    return {
      numberingOrder,
      placements: this.states.map((state) => ({
        dropped: state.dropped,
        offsetBytes: state.offset ?? 0,
        sizeBytes: state.newSize ?? 0,
        paddingBytes: state.newPadding ?? 0,
      })),
    };
  }
}

/** repart's scale_by_weight(): floor(value × weight / sum) without overflowing. */
export function scaleByWeight(value: number, weight: number, weightSum: number): number {
  if (weight === 0) return 0;
  if (weight === weightSum) return value;
  return Number((BigInt(value) * BigInt(weight)) / BigInt(weightSum));
}
