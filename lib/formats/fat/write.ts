/**
 * writeFat: emits a planned FAT volume strictly front to back — reserved sectors (boot sector,
 * FSInfo, backup boot sector), the FATs, the FAT12/16 root directory, then every directory and
 * file in cluster order, then zeros up to the partition size. The data area goes through two
 * 4 MiB staging buffers (staging.ts) that file contents are read straight into; beyond those,
 * the only whole objects held in memory are directories (≤ 2 MiB each by the 65536-entry
 * limit) and one FAT chunk.
 */
import { view } from "../../core/bytes.js";
import { writeZeros, type SequentialSink } from "../../io/stream.js";
import type { Meta } from "../../tree/tree.js";
import {
  ATTR_ARCHIVE, ATTR_DIRECTORY, ATTR_READ_ONLY, ATTR_VOLUME_ID, BACKUP_BOOT_SECTOR, DIRENT_SIZE, FSINFO_SECTOR, MEDIA_FIXED,
  encodeBootSector, encodeDirentInto, encodeFsInfo, encodeLongNameEntryInto,
} from "./layout.js";
import { shortNameChecksum } from "./names.js";
import type { FatPlan, FatRun, PlannedDirectory } from "./plan.js";
import { StagedOutput } from "./staging.js";
import { fatTimestamp } from "./time.js";

/** The data area goes out in writes of this size (two such staging buffers are held). */
const STAGING_CHUNK_BYTES = 4 * 1024 * 1024;
/** FAT32 tables are streamed in slices of this many entries (1 MiB). */
const FAT32_ENTRIES_PER_CHUNK = 256 * 1024;

/**
 * fatgen103 "FAT Data Structure": entry 0 is the media byte with all other bits set, entry 1
 * all ones (for FAT32 that includes bits 27 "clean shutdown" and 26 "no disk errors"); any
 * value ≥ 0xFF8 / 0xFFF8 / 0x0FFFFFF8 ends a chain, and we use the lowest, as mkfs.fat does.
 */
function fatMarks(fatType: 12 | 16 | 32): { endOfChain: number; entry0: number; entry1: number } {
  if (fatType === 12) return { endOfChain: 0xff8, entry0: 0xf00 | MEDIA_FIXED, entry1: 0xfff };
  if (fatType === 16) return { endOfChain: 0xfff8, entry0: 0xff00 | MEDIA_FIXED, entry1: 0xffff };
  return { endOfChain: 0x0fff_fff8, entry0: 0x0fff_ff00 | MEDIA_FIXED, entry1: 0x0fff_ffff };
}

/**
 * FAT entries [first, first + count). Runs are contiguous, so every used cluster points to
 * the next one except the last of each run, which ends its chain; `runEnds` lists those last
 * clusters in increasing order (runs are in cluster order).
 */
function fatEntries(plan: FatPlan, first: number, count: number, runEnds: readonly number[]): Uint32Array {
  const entries = new Uint32Array(count);
  const marks = fatMarks(plan.geometry.fatType);
  const endUsed = Math.min(2 + plan.usedClusters, first + count);
  for (let cluster = Math.max(first, 2); cluster < endUsed; cluster++) entries[cluster - first] = cluster + 1;
  for (let index = firstAtLeast(runEnds, first); index < runEnds.length && runEnds[index]! < first + count; index++) {
    entries[runEnds[index]! - first] = marks.endOfChain;
  }
  if (first === 0 && count > 0) entries[0] = marks.entry0;
  if (first <= 1 && first + count > 1) entries[1 - first] = marks.entry1;
  return entries;
}

/** Index of the first element ≥ `value` in an ascending array (binary search). */
function firstAtLeast(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

async function writeFatTable(plan: FatPlan, sink: SequentialSink, runEnds: readonly number[]): Promise<void> {
  const { geometry } = plan;
  const tableBytes = geometry.sectorsPerFat * geometry.sectorSizeBytes;
  if (geometry.fatType === 32) {
    const totalEntries = tableBytes / 4;
    for (let first = 0; first < totalEntries; first += FAT32_ENTRIES_PER_CHUNK) {
      const count = Math.min(FAT32_ENTRIES_PER_CHUNK, totalEntries - first);
      // Only clusters 0 … clusterCount + 1 exist; entries beyond stay 0 (fatgen103).
      const entries = fatEntries(plan, first, Math.max(0, Math.min(count, geometry.clusterCount + 2 - first)), runEnds);
      const bytes = new Uint8Array(count * 4);
      const data = view(bytes);
      for (let index = 0; index < entries.length; index++) data.setUint32(index * 4, entries[index]!, true);
      await sink.write(bytes);
    }
    return;
  }
  // FAT12/16 tables are at most 128 KiB: built whole.
  const bytes = new Uint8Array(tableBytes);
  const data = view(bytes);
  const entries = fatEntries(plan, 0, geometry.clusterCount + 2, runEnds);
  for (let index = 0; index < entries.length; index++) {
    const value = entries[index]!;
    if (geometry.fatType === 16) data.setUint16(index * 2, value, true);
    else {
      // FAT12: two 12-bit entries share three bytes, the even one in the low bits.
      const offset = Math.floor((index * 3) / 2);
      if (index % 2 === 0) {
        bytes[offset] = value & 0xff;
        bytes[offset + 1] = (bytes[offset + 1]! & 0xf0) | (value >> 8);
      } else {
        bytes[offset] = (bytes[offset]! & 0x0f) | ((value & 0x0f) << 4);
        bytes[offset + 1] = value >> 4;
      }
    }
  }
  await sink.write(bytes);
}

const DOT_NAME = Uint8Array.from(".          ", (character) => character.charCodeAt(0));
const DOT_DOT_NAME = Uint8Array.from("..         ", (character) => character.charCodeAt(0));

function stamp(meta: Meta) {
  const { date, time, hundredths } = fatTimestamp(meta.mtime);
  return { date, time, timeHundredths: hundredths };
}

/** The bytes of one directory: label or "."/"..", then each entry's long-name slots and short entry. */
export function encodeDirectory(plan: FatPlan, directory: PlannedDirectory, sizeBytes: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  const data = view(bytes);
  let offset = 0;
  const own = stamp(directory.node.meta);
  if (directory.isRoot) {
    if (plan.hasLabelEntry) {
      // The label entry carries the root's time; its creation hundredths stay 0 as mkfs.fat writes them.
      encodeDirentInto(data, offset, { name: plan.volumeLabel, attributes: ATTR_VOLUME_ID, caseBits: 0, firstCluster: 0, sizeBytes: 0, ...own, timeHundredths: 0 });
      offset += DIRENT_SIZE;
    }
  } else {
    encodeDirentInto(data, offset, { name: DOT_NAME, attributes: ATTR_DIRECTORY, caseBits: 0, firstCluster: directory.firstCluster, sizeBytes: 0, ...own });
    encodeDirentInto(data, offset + DIRENT_SIZE, { name: DOT_DOT_NAME, attributes: ATTR_DIRECTORY, caseBits: 0, firstCluster: directory.parentCluster, sizeBytes: 0, ...own });
    offset += 2 * DIRENT_SIZE;
  }
  for (const entry of directory.entries) {
    const { shortName } = entry;
    if (entry.longNameEntries > 0) {
      const checksum = shortNameChecksum(shortName.bytes);
      // Long-name slots precede the short entry in reverse order, the last one flagged 0x40.
      for (let ordinal = entry.longNameEntries; ordinal >= 1; ordinal--) {
        encodeLongNameEntryInto(data, offset, entry.name, ordinal, ordinal === entry.longNameEntries, checksum);
        offset += DIRENT_SIZE;
      }
    }
    const isDirectory = entry.node.kind === "dir";
    const readOnly = (entry.node.meta.mode & 0o222) === 0 ? ATTR_READ_ONLY : 0;
    encodeDirentInto(data, offset, {
      name: shortName.bytes,
      attributes: isDirectory ? ATTR_DIRECTORY : ATTR_ARCHIVE | readOnly,
      caseBits: shortName.caseBits,
      firstCluster: entry.firstCluster,
      sizeBytes: entry.node.kind === "file" ? entry.node.size : 0,
      ...stamp(entry.node.meta),
    });
    offset += DIRENT_SIZE;
  }
  if (offset !== directory.slotCount * DIRENT_SIZE) throw new Error(`internal: directory /${directory.path} encoded ${offset / DIRENT_SIZE} of ${directory.slotCount} planned entries`);
  return bytes;
}

async function writeRun(plan: FatPlan, run: FatRun, output: StagedOutput): Promise<void> {
  const runBytes = run.clusterCount * plan.geometry.clusterSizeBytes;
  if (run.kind === "dir") {
    await output.append(encodeDirectory(plan, run.directory, runBytes));
    return;
  }
  await output.appendFrom(run.file.content, 0, run.file.size);
  await output.appendZeros(runBytes - run.file.size);
}

export async function writeFat(plan: FatPlan, sink: SequentialSink): Promise<void> {
  const start = sink.position;
  const { geometry } = plan;
  const sectorBytes = geometry.sectorSizeBytes;
  const at = (sector: number) => start + sector * sectorBytes;
  const bootSector = encodeBootSector({ geometry, volumeId: plan.volumeId, volumeLabel: plan.volumeLabel });

  await sink.write(bootSector);
  if (geometry.fatType === 32) {
    // FSI_Nxt_Free is only a hint; Linux reads it as the last allocated cluster and searches
    // from the one after (fat_alloc_clusters), and mkfs.fat writes it that way: 2 = the root.
    const lastAllocated = 1 + plan.usedClusters;
    const fsInfo = encodeFsInfo(sectorBytes, plan.freeClusters, lastAllocated);
    await writeZeros(sink, at(FSINFO_SECTOR) - sink.position);
    await sink.write(fsInfo);
    // The backup area at sector 6 copies boot sector and FSInfo in the same order (fatgen103
    // "FAT32 FSInfo Sector Structure and Backup Boot Sector"; mkfs.fat 4.2 and Windows do too).
    await writeZeros(sink, at(BACKUP_BOOT_SECTOR) - sink.position);
    await sink.write(bootSector);
    await sink.write(fsInfo);
  }
  await writeZeros(sink, at(geometry.reservedSectors) - sink.position);

  const runEnds = plan.runs.map((run) => run.firstCluster + run.clusterCount - 1);
  for (let copy = 0; copy < geometry.fatCount; copy++) await writeFatTable(plan, sink, runEnds);
  if (geometry.fatType !== 32) await sink.write(encodeDirectory(plan, plan.root, geometry.rootDirSectors * sectorBytes));
  if (sink.position !== at(geometry.firstDataSector)) throw new Error(`internal: FAT data area starts at byte ${sink.position - start}, planned ${geometry.firstDataSector * sectorBytes}`);

  const output = new StagedOutput(sink, STAGING_CHUNK_BYTES);
  let nextCluster = 2;
  for (const run of plan.runs) {
    if (run.firstCluster !== nextCluster) throw new Error(`internal: FAT run at cluster ${run.firstCluster}, expected ${nextCluster}`);
    await writeRun(plan, run, output);
    nextCluster += run.clusterCount;
  }
  await output.flush();
  await writeZeros(sink, start + plan.sizeBytes - sink.position);
  if (sink.position - start !== plan.sizeBytes) throw new Error(`internal: FAT volume wrote ${sink.position - start} bytes, planned ${plan.sizeBytes}`);
}
