/**
 * planFat: everything about a FAT volume decided before a byte is written — names, geometry,
 * size and the cluster of every directory and file (rust-fatfs `determine_fs_layout`,
 * genimage "setup before generate"). Pure apart from reading the tree's sizes.
 *
 * Allocation is contiguous and in pre-order (a directory, then its entries in tree order,
 * recursing into subdirectories), so every chain in the FAT is a run of consecutive clusters
 * and the writer can emit FATs, directories and file data strictly front to back.
 */
import { ErrorCode, fail } from "../../core/errors.js";
import { alignDown, alignUp } from "../../core/int.js";
import { formatSize } from "../../core/size.js";
import type { DirNode, FileNode } from "../../tree/tree.js";
import { FAT32_MIN_CLUSTERS, fatGeometry, isRefusal, type FatGeometry, type FatType } from "./geometry.js";
import { DIRENT_SIZE, ROOT_CLUSTER_FAT32 } from "./layout.js";
import { assignShortNames, collisionKey, longNameEntryCount, longNameProblem, volumeLabel, type ShortName } from "./names.js";

export interface FatOptions {
  readonly tree: DirNode;
  /** Fixed partition size; when absent the smallest size that fits is chosen. */
  readonly sizeBytes?: number;
  /** Lower bound for the chosen size (repart's ESP minimum: 100 MiB, 260 MiB with 4K sectors). */
  readonly minSizeBytes?: number;
  /** The chosen size is a multiple of this (repart's grain, 4096). */
  readonly grainBytes?: number;
  /** Default 32: repart always runs `mkfs.vfat -F 32`. */
  readonly fatType?: FatType;
  readonly sectorSize: 512 | 4096;
  /** Partition label; mangled into the 11-byte volume label as repart does. */
  readonly label: string;
  /** BS_VolID (u32): the spine passes the first 4 bytes of the derived fs UUID. */
  readonly volumeId: number;
  /** Symlinks, devices, fifos and sockets cannot be stored on FAT: "error" (default) or "skip". */
  readonly unsupported?: "error" | "skip";
  /** Names the partition in messages, e.g. "partitions.esp". */
  readonly where?: string;
}

export interface PlannedEntry {
  readonly name: string;
  readonly path: string;
  readonly shortName: ShortName;
  /** Long-name entries before the short entry (0 when the short name says it all). */
  readonly longNameEntries: number;
  readonly node: DirNode | FileNode;
  /** Set by allocation: the directory's record, or undefined for files. */
  directory?: PlannedDirectory;
  firstCluster: number;
}

export interface PlannedDirectory {
  readonly path: string;
  readonly node: DirNode;
  readonly isRoot: boolean;
  readonly entries: PlannedEntry[];
  /** 32-byte slots used: ".", ".." (not in the root), volume label (root), long and short entries. */
  readonly slotCount: number;
  firstCluster: number;
  clusterCount: number;
  /** Cluster of the parent, 0 for the root (fatgen103: ".." of a root child points to 0). */
  parentCluster: number;
}

export type FatRun =
  | { readonly kind: "dir"; readonly firstCluster: number; readonly clusterCount: number; readonly directory: PlannedDirectory }
  | { readonly kind: "file"; readonly firstCluster: number; readonly clusterCount: number; readonly file: FileNode; readonly path: string };

export interface FatPlan {
  readonly sizeBytes: number;
  readonly geometry: FatGeometry;
  readonly volumeId: number;
  readonly volumeLabel: Uint8Array;
  readonly hasLabelEntry: boolean;
  readonly root: PlannedDirectory;
  /** In increasing cluster order, contiguous from cluster 2. */
  readonly runs: readonly FatRun[];
  readonly usedClusters: number;
  readonly freeClusters: number;
}

/** fatgen103: a directory holds at most 65536 32-byte entries (2 MiB). */
const MAX_DIRECTORY_SLOTS = 65536;
/** fatgen103: DIR_FileSize is 32 bits. */
const MAX_FILE_BYTES = 0xffff_ffff;
const DEFAULT_ROOT_ENTRIES_FAT16 = 512;

function joinPath(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}

function collectDirectory(node: DirNode, path: string, isRoot: boolean, hasLabel: boolean, options: FatOptions, where: string): PlannedDirectory {
  const kept: { name: string; node: DirNode | FileNode }[] = [];
  const seen = new Map<string, string>();
  for (const entry of node.entries) {
    const entryPath = joinPath(path, entry.name);
    if (entry.node.kind !== "dir" && entry.node.kind !== "file") {
      if (options.unsupported === "skip") continue;
      fail(ErrorCode.Tree, `${where}: /${entryPath} is a ${entry.node.kind}; FAT stores only files and directories`, "remove it from the tree or skip unsupported entries");
    }
    const problem = longNameProblem(entry.name);
    if (problem) fail(ErrorCode.Tree, `${where}: /${entryPath}: the name ${problem}`, "rename it");
    if (entry.node.kind === "file" && entry.node.size > MAX_FILE_BYTES) {
      fail(ErrorCode.Tree, `${where}: /${entryPath} is ${entry.node.size} bytes; FAT files hold at most 4 GiB − 1 (${MAX_FILE_BYTES} bytes)`, "split the file or use another file system");
    }
    const key = collisionKey(entry.name);
    const other = seen.get(key);
    if (other !== undefined) {
      fail(ErrorCode.Tree, `${where}: /${joinPath(path, other)} and /${entryPath} differ only in case, and FAT names are case-insensitive`, "rename one of them");
    }
    seen.set(key, entry.name);
    kept.push({ name: entry.name, node: entry.node });
  }
  const shortNames = assignShortNames(kept.map((entry) => entry.name));
  let slotCount = isRoot ? (hasLabel ? 1 : 0) : 2;
  const entries = kept.map((entry, index): PlannedEntry => {
    const shortName = shortNames[index]!;
    const longNameEntries = shortName.needsLongName ? longNameEntryCount(entry.name) : 0;
    slotCount += 1 + longNameEntries;
    return { name: entry.name, path: joinPath(path, entry.name), shortName, longNameEntries, node: entry.node, firstCluster: 0 };
  });
  if (slotCount > MAX_DIRECTORY_SLOTS) {
    fail(ErrorCode.Tree, `${where}: directory /${path} needs ${slotCount} directory entries; FAT allows ${MAX_DIRECTORY_SLOTS} per directory`, "spread its contents over subdirectories or use shorter names");
  }
  return { path, node, isRoot, entries, slotCount, firstCluster: 0, clusterCount: 0, parentCluster: 0 };
}

/** Names and directory sizes of the whole tree; depth-first with an explicit stack (deep trees are fine). */
function collectTree(options: FatOptions, hasLabel: boolean, where: string): PlannedDirectory {
  const root = collectDirectory(options.tree, "", true, hasLabel, options, where);
  const stack: PlannedDirectory[] = [root];
  while (stack.length > 0) {
    const directory = stack.pop()!;
    for (const entry of directory.entries) {
      if (entry.node.kind !== "dir") continue;
      entry.directory = collectDirectory(entry.node, entry.path, false, hasLabel, options, where);
      stack.push(entry.directory);
    }
  }
  return root;
}

function* directories(root: PlannedDirectory): Generator<PlannedDirectory> {
  const stack = [root];
  while (stack.length > 0) {
    const directory = stack.pop()!;
    yield directory;
    for (const entry of directory.entries) if (entry.directory) stack.push(entry.directory);
  }
}

/** What a tree needs from a volume of one FAT type; the count is computed once per cluster size tried. */
class Demand {
  private readonly clustersBySize = new Map<number, number>();
  private readonly fileSizes: number[] = [];
  private readonly directorySlots: number[] = [];
  readonly rootSlots: number;

  constructor(root: PlannedDirectory, readonly fatType: FatType) {
    this.rootSlots = root.slotCount;
    for (const directory of directories(root)) {
      // The FAT12/16 root lives in its own fixed area, not in clusters.
      if (!directory.isRoot || fatType === 32) this.directorySlots.push(directory.slotCount);
      for (const entry of directory.entries) if (entry.node.kind === "file") this.fileSizes.push(entry.node.size);
    }
  }

  /** Data clusters needed: every file rounded up, every directory at least one cluster. */
  clusters(clusterSizeBytes: number): number {
    const cached = this.clustersBySize.get(clusterSizeBytes);
    if (cached !== undefined) return cached;
    let total = 0;
    for (const size of this.fileSizes) total += Math.ceil(size / clusterSizeBytes);
    for (const slots of this.directorySlots) total += Math.max(1, Math.ceil((slots * DIRENT_SIZE) / clusterSizeBytes));
    this.clustersBySize.set(clusterSizeBytes, total);
    return total;
  }
}

function fits(geometry: FatGeometry, demand: Demand): boolean {
  if (geometry.fatType !== 32 && demand.rootSlots > geometry.rootEntryCount) return false;
  return demand.clusters(geometry.clusterSizeBytes) <= geometry.clusterCount;
}

/**
 * The smallest multiple of `grainBytes` ≥ `fromBytes` whose geometry holds the demand, or
 * undefined when none up to the FAT limit does. Steps one grain at a time, but jumps ahead by
 * the missing clusters, since a size that lacks k clusters cannot fit with fewer than k more —
 * less a safety margin: rounding the FAT to whole clusters can hand back two clusters, and
 * mkfs.fat's rounding of the volume down to whole tracks releases up to one track at once.
 */
function smallestFittingSize(demand: Demand, sectorSize: number, fromBytes: number, grainBytes: number): number | undefined {
  const fatType = demand.fatType;
  const maxBytes = 0xffff_ffff * sectorSize;
  let candidate = alignUp(Math.max(fromBytes, grainBytes), grainBytes);
  if (fatType === 32) {
    // Below this even an empty FAT32 lacks the 65525 clusters fatgen103 requires.
    const floorSectors = 32 + FAT32_MIN_CLUSTERS + 2 * Math.ceil(((FAT32_MIN_CLUSTERS + 2) * 4) / sectorSize);
    candidate = Math.max(candidate, alignDown(floorSectors * sectorSize, grainBytes));
  }
  while (candidate <= maxBytes) {
    const geometry = fatGeometry(candidate, sectorSize, fatType);
    if (!isRefusal(geometry)) {
      if (fits(geometry, demand)) return candidate;
      const missing = demand.clusters(geometry.clusterSizeBytes) - geometry.clusterCount;
      const safeBytes = (missing - 3) * geometry.clusterSizeBytes - geometry.sectorsPerTrack * sectorSize;
      candidate += Math.max(grainBytes, alignDown(safeBytes, grainBytes));
    } else {
      candidate += grainBytes;
    }
  }
  return undefined;
}

function allocate(root: PlannedDirectory, geometry: FatGeometry): { runs: FatRun[]; usedClusters: number } {
  const runs: FatRun[] = [];
  const clusterBytes = geometry.clusterSizeBytes;
  let next = ROOT_CLUSTER_FAT32;
  const take = (count: number): number => {
    const first = next;
    next += count;
    return first;
  };
  const directoryClusters = (directory: PlannedDirectory) => Math.max(1, Math.ceil((directory.slotCount * DIRENT_SIZE) / clusterBytes));
  if (geometry.fatType === 32) {
    root.clusterCount = directoryClusters(root);
    root.firstCluster = take(root.clusterCount);
    runs.push({ kind: "dir", firstCluster: root.firstCluster, clusterCount: root.clusterCount, directory: root });
  }
  // Pre-order with an explicit stack of entry iterators, so deep trees do not recurse.
  const stack: { directory: PlannedDirectory; index: number }[] = [{ directory: root, index: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const entry = frame.directory.entries[frame.index++];
    if (!entry) {
      stack.pop();
      continue;
    }
    if (entry.directory) {
      const directory = entry.directory;
      directory.clusterCount = directoryClusters(directory);
      directory.firstCluster = take(directory.clusterCount);
      directory.parentCluster = frame.directory.isRoot ? 0 : frame.directory.firstCluster;
      entry.firstCluster = directory.firstCluster;
      runs.push({ kind: "dir", firstCluster: directory.firstCluster, clusterCount: directory.clusterCount, directory });
      stack.push({ directory, index: 0 });
    } else if (entry.node.kind === "file" && entry.node.size > 0) {
      const clusterCount = Math.ceil(entry.node.size / clusterBytes);
      entry.firstCluster = take(clusterCount);
      runs.push({ kind: "file", firstCluster: entry.firstCluster, clusterCount, file: entry.node, path: entry.path });
    }
  }
  return { runs, usedClusters: next - ROOT_CLUSTER_FAT32 };
}

/**
 * BS_VolID as repart derives it: the first 4 bytes of the file system UUID read as a big-endian
 * number ("5739c63f-aa2f-…" → 0x5739C63F, shown by mtools/blkid as "5739-C63F"), which the
 * boot sector then stores little-endian like mkfs.fat's `-i 5739c63f`.
 */
export function volumeIdFromUuid(uuid: string): number {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) fail(ErrorCode.Spec, `file system UUID "${uuid}" is not a UUID`, "use the 8-4-4-4-12 hex form");
  return Number.parseInt(hex.slice(0, 8), 16);
}

export function planFat(options: FatOptions): FatPlan {
  const where = options.where ?? "vfat";
  const fatType = options.fatType ?? 32;
  const sectorSize = options.sectorSize;
  const grainBytes = options.grainBytes ?? 4096;
  if (sectorSize !== 512 && sectorSize !== 4096) fail(ErrorCode.Spec, `${where}: sector size ${sectorSize} is not supported`, "use 512 or 4096");
  if (grainBytes % sectorSize !== 0) fail(ErrorCode.Spec, `${where}: grain ${grainBytes} is not a multiple of the sector size ${sectorSize}`, "use a grain such as 4096");
  if (!Number.isInteger(options.volumeId) || options.volumeId < 0 || options.volumeId > 0xffff_ffff) {
    fail(ErrorCode.Spec, `${where}: volume ID ${options.volumeId} is not a 32-bit unsigned number`, "pass 0 … 0xFFFFFFFF");
  }
  const label = volumeLabel(options.label);
  const root = collectTree(options, !label.isEmpty, where);
  if (fatType !== 32 && root.slotCount > DEFAULT_ROOT_ENTRIES_FAT16) {
    fail(ErrorCode.Tree, `${where}: the root directory needs ${root.slotCount} entries, a FAT${fatType} root holds ${DEFAULT_ROOT_ENTRIES_FAT16}`, "move entries into a subdirectory or use FAT32");
  }
  const demand = new Demand(root, fatType);

  let sizeBytes: number;
  if (options.sizeBytes === undefined) {
    const found = smallestFittingSize(demand, sectorSize, options.minSizeBytes ?? 0, grainBytes);
    if (found === undefined) fail(ErrorCode.Size, `${where}: the tree does not fit in the largest FAT${fatType} volume`, "make the tree smaller");
    sizeBytes = found;
  } else {
    sizeBytes = options.sizeBytes;
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % sectorSize !== 0) {
      fail(ErrorCode.Size, `${where}: size ${sizeBytes} is not a positive multiple of the ${sectorSize}-byte sector size`, "round the partition size to whole sectors");
    }
  }
  const geometry = fatGeometry(sizeBytes, sectorSize, fatType);
  if (isRefusal(geometry) || !fits(geometry, demand)) {
    const needed = smallestFittingSize(demand, sectorSize, 0, grainBytes);
    const reason = isRefusal(geometry) ? geometry.refused : `the tree needs ${demand.clusters(geometry.clusterSizeBytes)} clusters of ${geometry.clusterSizeBytes} bytes, the volume has ${geometry.clusterCount}`;
    const need = needed === undefined ? "the tree does not fit in any FAT" + fatType + " volume" : `it needs at least ${needed} bytes (${formatSize(needed)})`;
    fail(ErrorCode.Size, `${where}: ${sizeBytes} bytes (${formatSize(sizeBytes)}) is too small for this FAT${fatType} volume: ${reason}; ${need}`, "enlarge the partition or leave its size unset");
  }
  const { runs, usedClusters } = allocate(root, geometry);
  return {
    sizeBytes,
    geometry,
    volumeId: options.volumeId,
    volumeLabel: label.bytes,
    hasLabelEntry: !label.isEmpty,
    root,
    runs,
    usedClusters,
    freeClusters: geometry.clusterCount - usedClusters,
  };
}
