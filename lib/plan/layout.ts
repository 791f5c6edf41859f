/**
 * planLayout(): definitions (+ an existing table) → every partition's slot, offset, size,
 * UUID, label and flags, before a byte is written. It runs repart's phases in repart's order:
 * match existing partitions to definitions, derive UUIDs and labels, size verity hashes,
 * determine --size=auto, allocate with priority dropping, grow by weight, place.
 */
import { ErrorCode, fail } from "../core/errors.js";
import { alignDown, alignUp } from "../core/int.js";
import { formatSize } from "../core/size.js";
import type { GptEntry } from "../formats/gpt/encode.js";
import { gptGeometry, minimumGptSectors } from "../formats/gpt/layout.js";
import { describePartitionType, GPT_FLAG, knowsGrowFileSystem, knowsNoAuto, knowsReadOnly, type PartitionType } from "../formats/gpt/types.js";
import { Allocator, AllocationError, type AllocationPartition } from "./allocate.js";
import { isReadOnlyFormat, type PartitionDefinition } from "./definition.js";
import { defaultLabel, deriveDiskGuid, deriveFilesystemUuid, derivePartitionUuid, deriveVerityUuid, deriveVeritySalt } from "./ids.js";
import { NULL_GUID } from "../core/guid.js";
import { repartVerityHashSizeBytes } from "../formats/verity/plan.js";

export interface ExistingTable {
  readonly sectorSize: number;
  readonly totalSectors: number;
  readonly firstUsableLba: number;
  readonly diskGuid: string;
  readonly entries: readonly GptEntry[];
}

export interface LayoutRequest {
  readonly definitions: readonly PartitionDefinition[];
  readonly seed: Uint8Array;
  readonly sectorSize: number;
  /** Bytes (rounded up to 4096 like --size=), "auto", or undefined to keep the existing size. */
  readonly size: number | "auto" | undefined;
  /** Present when repartitioning an existing GPT image (not --empty=force/create). */
  readonly existing: ExistingTable | undefined;
  /** Current size of the image file in bytes (0 for a new file). */
  readonly currentSizeBytes: number;
  /** Bytes each definition's content needs (CopyBlocks= file, built filesystem), by definition index. */
  readonly contentSizes: ReadonlyMap<number, number>;
  /** Filesystem sector size: repart's default verity block size (4096 unless --sector-size=). */
  readonly filesystemSectorSize: number;
  /**
   * Reproduce systemd-repart v257 exactly: it hands libfdisk the attribute bits as decimal
   * numbers, and libfdisk rejects numbers below 48 (it wants "RequiredPartition" etc.), so a
   * Flags= value with any of bits 0–47 set loses all attribute bits.
   */
  readonly repartAttributeQuirk?: boolean;
}

export interface PlannedPartition {
  /** Index into request.definitions, or undefined for an existing partition no definition matched. */
  readonly definitionIndex: number | undefined;
  readonly definition: PartitionDefinition | undefined;
  readonly type: PartitionType;
  readonly slot: number;
  readonly offsetBytes: number;
  readonly sizeBytes: number;
  readonly paddingBytes: number;
  /** Final UUID, except verity data/hash partitions without explicit UUID: see uuidFromRootHash. */
  readonly uuid: string;
  /** The seed-derived UUID (fs UUIDs derive from it even when the final one comes from the root hash). */
  readonly derivedUuid: string;
  readonly uuidFromRootHash: boolean;
  readonly filesystemUuid: string;
  readonly label: string;
  readonly attributes: bigint;
  readonly exists: boolean;
  /** Existing partition whose size grows. */
  readonly grows: boolean;
  readonly verityDataBlockSize: number;
  readonly verityHashBlockSize: number;
}

export interface Layout {
  readonly sectorSize: number;
  /** Set when an existing table's first usable LBA is kept. */
  readonly firstUsableLba: number | undefined;
  readonly grainBytes: number;
  readonly diskSizeBytes: number;
  readonly diskGuid: string;
  readonly fromScratch: boolean;
  /** Partitions written to the table, in definition order (existing foreign ones last). */
  readonly partitions: readonly PlannedPartition[];
  /** Definitions dropped for lack of space (by priority). */
  readonly dropped: readonly PartitionDefinition[];
  readonly veritySalt: Uint8Array;
  readonly verityUuid: string;
}

interface Candidate {
  definitionIndex: number | undefined;
  definition: PartitionDefinition | undefined;
  type: PartitionType;
  existing: GptEntry | undefined;
  existingPaddingBytes: number;
}

export function planLayout(request: LayoutRequest): Layout {
  const sectorSize = request.sectorSize;
  const grainBytes = Math.max(4096, sectorSize);
  const candidates = matchExisting(request);

  const diskGuid = request.existing && request.existing.diskGuid !== NULL_GUID ? request.existing.diskGuid : deriveDiskGuid(request.seed);
  const identities = acquireIdentities(candidates, request.seed);
  const minimumHashSizes = verityHashMinimums(candidates, request);

  let diskSizeBytes = request.size === "auto" || request.size === undefined ? request.currentSizeBytes : Math.max(request.size, request.currentSizeBytes);
  const allocationFor = (totalSectors: number): { allocator: Allocator; partitions: AllocationPartition[] } => {
    const existingPaddings = existingPaddingBytes(candidates, request, totalSectors, grainBytes);
    const partitions = candidates.map((candidate, index): AllocationPartition => {
      const definition = candidate.definition;
      const content = candidate.definitionIndex === undefined ? undefined : request.contentSizes.get(candidate.definitionIndex);
      return {
        managed: definition !== undefined,
        priority: definition?.priority ?? 0,
        weight: definition?.weight ?? 0,
        paddingWeight: definition?.paddingWeight ?? 0,
        sizeMinBytes: minimumHashSizes.get(index) ?? definition?.sizeMinBytes,
        sizeMaxBytes: definition?.sizeMaxBytes,
        paddingMinBytes: definition?.paddingMinBytes,
        paddingMaxBytes: definition?.paddingMaxBytes,
        contentSizeBytes: content,
        formatted: definition?.format !== undefined,
        readOnlyFormatOrVerity: definition !== undefined && (isReadOnlyFormat(definition.format) || definition.verity !== "off"),
        isVeritySignature: candidate.type.designator === "root-verity-sig" || candidate.type.designator === "usr-verity-sig" || definition?.verity === "signature",
        siblings: siblingIndexes(candidates, index),
        existing: candidate.existing
          ? { offsetBytes: candidate.existing.firstLba * sectorSize, sizeBytes: (candidate.existing.lastLba - candidate.existing.firstLba + 1) * sectorSize, paddingBytes: existingPaddings[index]! }
          : undefined,
      };
    });
    const allocator = new Allocator(partitions, grainBytes);
    const geometry = gptGeometry(sectorSize, totalSectors, request.existing?.firstUsableLba);
    allocator.setFreeAreas(alignUp(geometry.firstUsableLba * sectorSize, grainBytes), alignDown((geometry.lastUsableLba + 1) * sectorSize, grainBytes));
    return { allocator, partitions };
  };

  if (request.size === "auto") {
    const probe = allocationFor(Math.max(minimumGptSectors(sectorSize), Math.floor(diskSizeBytes / sectorSize)));
    diskSizeBytes = Math.max(diskSizeBytes, probe.allocator.autoSizeBytes());
  }
  const totalSectors = Math.floor(diskSizeBytes / sectorSize);
  if (totalSectors < minimumGptSectors(sectorSize)) {
    const needed = minimumGptSectors(sectorSize) * sectorSize;
    fail(ErrorCode.Size, `image size ${formatSize(diskSizeBytes)} is too small for a GPT with ${sectorSize}-byte sectors (needs at least ${formatSize(needed)})`, "give a larger size or size=auto");
  }
  const { allocator } = allocationFor(totalSectors);
  try {
    allocator.allocate();
  } catch (error) {
    if (!(error instanceof AllocationError)) throw error;
    return fail(ErrorCode.Size, `can't fit requested partitions into available free space (${formatSize(error.largestFreeAreaBytes)}), refusing; the minimal image size is ${formatSize(error.autoSizeBytes)}`, `use size "auto" or at least ${error.autoSizeBytes} bytes`);
  }
  allocator.grow();
  const { placements, numberingOrder } = allocator.place();

  const usedSlots = new Set(candidates.filter((candidate) => candidate.existing).map((candidate) => candidate.existing!.slot));
  const partitions: PlannedPartition[] = [];
  const dropped: PartitionDefinition[] = [];
  const slots = new Map<number, number>();
  candidates.forEach((candidate, index) => {
    if (candidate.existing) slots.set(index, candidate.existing.slot);
  });
  for (const index of numberingOrder) {
    let slot = 0;
    while (usedSlots.has(slot)) slot++;
    usedSlots.add(slot);
    slots.set(index, slot);
  }
  if (usedSlots.size > 128) fail(ErrorCode.Layout, `${usedSlots.size} partitions do not fit the 128 GPT entries`, "use fewer partitions");

  candidates.forEach((candidate, index) => {
    const placement = placements[index]!;
    if (placement.dropped) {
      dropped.push(candidate.definition!);
      return;
    }
    const identity = identities[index]!;
    const definition = candidate.definition;
    const blockSizes = {
      verityDataBlockSize: definition?.verityDataBlockSizeBytes ?? request.filesystemSectorSize,
      verityHashBlockSize: definition?.verityHashBlockSizeBytes ?? request.filesystemSectorSize,
    };
    partitions.push({
      definitionIndex: candidate.definitionIndex,
      definition,
      type: candidate.type,
      slot: slots.get(index)!,
      offsetBytes: placement.offsetBytes,
      sizeBytes: placement.sizeBytes,
      paddingBytes: placement.paddingBytes,
      ...identity,
      attributes: candidate.existing ? candidate.existing.attributes : applyQuirk(mergeFlags(definition!, candidate.type), request.repartAttributeQuirk ?? false),
      exists: candidate.existing !== undefined,
      grows: candidate.existing !== undefined && placement.sizeBytes !== (candidate.existing.lastLba - candidate.existing.firstLba + 1) * sectorSize,
      ...blockSizes,
    });
  });
  return {
    sectorSize,
    firstUsableLba: request.existing?.firstUsableLba,
    grainBytes,
    diskSizeBytes: totalSectors * sectorSize,
    diskGuid,
    fromScratch: request.existing === undefined,
    partitions,
    dropped,
    veritySalt: deriveVeritySalt(request.seed),
    verityUuid: deriveVerityUuid(request.seed),
  };
}

/**
 * Labels and seed-derived UUIDs of each definition, before sizes exist: filesystems need
 * their UUID and label to be planned, and planning must come before placement.
 */
export function definitionIdentities(request: Pick<LayoutRequest, "definitions" | "existing" | "seed">): Map<number, { label: string; filesystemUuid: string; uuid: string }> {
  const candidates = matchExisting(request);
  const identities = acquireIdentities(candidates, request.seed);
  const result = new Map<number, { label: string; filesystemUuid: string; uuid: string }>();
  candidates.forEach((candidate, index) => {
    if (candidate.definitionIndex !== undefined) result.set(candidate.definitionIndex, identities[index]!);
  });
  return result;
}

/** Existing partitions go to the first unmatched definition of their type; the rest are "foreign" and kept. */
function matchExisting(request: Pick<LayoutRequest, "definitions" | "existing">): Candidate[] {
  const candidates: Candidate[] = request.definitions.map((definition, definitionIndex) => ({ definitionIndex, definition, type: definition.type, existing: undefined, existingPaddingBytes: 0 }));
  const existingEntries = [...(request.existing?.entries ?? [])].sort((left, right) => left.slot - right.slot);
  for (const entry of existingEntries) {
    const match = candidates.find((candidate) => candidate.definition && !candidate.existing && candidate.type.uuid === entry.typeUuid);
    if (match) match.existing = entry;
    else candidates.push({ definitionIndex: undefined, definition: undefined, type: describePartitionType(entry.typeUuid), existing: entry, existingPaddingBytes: 0 });
  }
  return candidates;
}

/** repart's determine_current_padding(): free space after an existing partition, grain-aligned. */
function existingPaddingBytes(candidates: readonly Candidate[], request: LayoutRequest, totalSectors: number, grainBytes: number): number[] {
  const sectorSize = request.sectorSize;
  const starts = candidates.filter((candidate) => candidate.existing).map((candidate) => candidate.existing!.firstLba * sectorSize);
  const lastUsableEnd = (gptGeometry(sectorSize, totalSectors, request.existing?.firstUsableLba).lastUsableLba + 1) * sectorSize;
  return candidates.map((candidate) => {
    if (!candidate.existing) return 0;
    const end = (candidate.existing.lastLba + 1) * sectorSize;
    const later = starts.filter((start) => start >= end);
    const next = later.length > 0 ? Math.min(...later) : lastUsableEnd;
    return Math.max(0, alignDown(next, grainBytes) - alignUp(end, grainBytes));
  });
}

function acquireIdentities(candidates: readonly Candidate[], seed: Uint8Array): Array<Pick<PlannedPartition, "uuid" | "derivedUuid" | "uuidFromRootHash" | "filesystemUuid" | "label">> {
  const labels: string[] = [];
  return candidates.map((candidate, index) => {
    const definition = candidate.definition;
    const existing = candidate.existing;
    if (!definition) {
      labels.push(existing!.label);
      return { uuid: existing!.uuid, derivedUuid: existing!.uuid, uuidFromRootHash: false, filesystemUuid: deriveFilesystemUuid(existing!.uuid), label: existing!.label };
    }
    let uuid: string;
    let fromRootHash = false;
    if (existing && existing.uuid !== NULL_GUID) uuid = existing.uuid;
    else if (definition.uuid !== undefined) uuid = definition.uuid === "null" ? NULL_GUID : definition.uuid;
    else {
      const instance = candidates.slice(0, index).filter((other) => other.type.uuid === candidate.type.uuid).length;
      uuid = derivePartitionUuid(seed, candidate.type.uuid, instance);
      fromRootHash = definition.verity === "data" || definition.verity === "hash";
    }
    let label: string;
    if (existing && existing.label !== "") label = existing.label;
    else if (definition.label !== undefined) label = definition.label;
    else label = defaultLabel(candidate.type.name ?? "linux", labels);
    labels.push(label);
    return { uuid, derivedUuid: uuid, uuidFromRootHash: fromRootHash, filesystemUuid: deriveFilesystemUuid(uuid), label };
  });
}

/** repart's context_update_verity_size(): a hash partition without SizeMinBytes= is sized from its data partition's SizeMaxBytes=. */
function verityHashMinimums(candidates: readonly Candidate[], request: LayoutRequest): Map<number, number> {
  const minimums = new Map<number, number>();
  candidates.forEach((candidate, index) => {
    const definition = candidate.definition;
    if (!definition || definition.verity !== "hash" || candidate.existing) return;
    const data = candidates.find((other) => other.definition?.verity === "data" && other.definition.verityMatchKey === definition.verityMatchKey)?.definition;
    if (!data || data.sizeMaxBytes === undefined || definition.sizeMinBytes !== undefined) return;
    const dataBlock = definition.verityDataBlockSizeBytes ?? request.filesystemSectorSize;
    const hashBlock = definition.verityHashBlockSizeBytes ?? request.filesystemSectorSize;
    const estimate = repartVerityHashSizeBytes(data.sizeMaxBytes, hashBlock, dataBlock);
    if (definition.sizeMaxBytes === undefined || estimate <= definition.sizeMaxBytes) minimums.set(index, estimate);
  });
  return minimums;
}

function siblingIndexes(candidates: readonly Candidate[], index: number): number[] {
  const definition = candidates[index]!.definition;
  if (!definition || definition.verity === "off") return [];
  return candidates.flatMap((other, otherIndex) => (otherIndex !== index && other.definition?.verity !== "off" && other.definition?.verityMatchKey === definition.verityMatchKey ? [otherIndex] : []));
}

const LOW_ATTRIBUTE_BITS = (1n << 48n) - 1n;

function applyQuirk(flags: bigint, quirk: boolean): bigint {
  return quirk && (flags & LOW_ATTRIBUTE_BITS) !== 0n ? 0n : flags;
}

/** repart's partition_merge_flags(): Flags= with NoAuto=/ReadOnly=/GrowFileSystem= bits where the type knows them. */
export function mergeFlags(definition: PartitionDefinition, type: PartitionType): bigint {
  let flags = definition.flags ?? 0n;
  const set = (bit: bigint, value: boolean | undefined, knows: boolean): void => {
    if (value === undefined || !knows) return;
    flags = value ? flags | bit : flags & ~bit;
  };
  set(GPT_FLAG.noAuto, definition.noAuto, knowsNoAuto(type));
  set(GPT_FLAG.readOnly, definition.readOnly, knowsReadOnly(type));
  set(GPT_FLAG.growFileSystem, definition.growFileSystem, knowsGrowFileSystem(type));
  return flags;
}
