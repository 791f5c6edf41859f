/**
 * GPT on-disk structures (UEFI 2.10 §5.3): field tables with offsets and lengths in bytes.
 * All integers little-endian; GUIDs mixed-endian (lib/core/guid.ts).
 */

/** GPT header, 92 bytes (UEFI Table 5-5). */
export const HEADER = {
  signature: [0, 8],
  revision: [8, 4],
  headerSize: [12, 4],
  headerCrc32: [16, 4],
  reserved: [20, 4],
  myLba: [24, 8],
  alternateLba: [32, 8],
  firstUsableLba: [40, 8],
  lastUsableLba: [48, 8],
  diskGuid: [56, 16],
  partitionEntryLba: [72, 8],
  numberOfPartitionEntries: [80, 4],
  sizeOfPartitionEntry: [84, 4],
  partitionEntryArrayCrc32: [88, 4],
} as const;
export const HEADER_SIZE = 92;
export const HEADER_SIGNATURE = "EFI PART";
export const HEADER_REVISION = 0x0001_0000;

/** GPT partition entry, 128 bytes (UEFI Table 5-6). EndingLBA is inclusive. */
export const ENTRY = {
  partitionTypeGuid: [0, 16],
  uniquePartitionGuid: [16, 16],
  startingLba: [32, 8],
  endingLba: [40, 8],
  attributes: [48, 8],
  partitionName: [56, 72],
} as const;
export const ENTRY_SIZE = 128;
/** The name field holds 36 UTF-16 code units (72 bytes), NUL-padded, no terminator when full. */
export const LABEL_MAX_UTF16_UNITS = 36;

/** libfdisk (and so systemd-repart) always writes 128 entries: a 16 KiB entry array. */
export const ENTRY_COUNT = 128;
export const ENTRY_ARRAY_BYTES = ENTRY_COUNT * ENTRY_SIZE;

/** Protective MBR partition record at byte 446 of LBA 0 (UEFI Table 5-4). */
export const MBR = {
  bootIndicator: [446, 1],
  startingChs: [447, 3],
  osType: [450, 1],
  endingChs: [451, 3],
  startingLba: [454, 4],
  sizeInLba: [458, 4],
  signature: [510, 2],
} as const;
export const MBR_PROTECTIVE_OS_TYPE = 0xee;

/**
 * Geometry of a GPT disk of `totalSectors` sectors, as libfdisk lays out a new table:
 * primary header at LBA 1, entry array from LBA 2, first usable LBA aligned to 1 MiB
 * (libfdisk's default grain, hence repart's first partition at 1 MiB; right after the entry
 * array on disks up to 4 MiB), backup entry array just before the backup header in the last LBA.
 */
export interface GptGeometry {
  readonly sectorSize: number;
  readonly totalSectors: number;
  readonly entryArraySectors: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  readonly backupEntriesLba: number;
  readonly backupHeaderLba: number;
}

export const FIRST_USABLE_ALIGNMENT_BYTES = 1024 * 1024;
/** libfdisk (topology_get_grain) drops the 1 MiB grain on disks of at most 4 × 1 MiB. */
export const SMALL_DISK_BYTES = 4 * FIRST_USABLE_ALIGNMENT_BYTES;

/**
 * `firstUsableLba` overrides the computed value: when an existing table is rewritten (e.g.
 * moved to the end of a grown image), libfdisk keeps the first usable LBA it had.
 */
export function gptGeometry(sectorSize: number, totalSectors: number, firstUsableLba?: number): GptGeometry {
  const entryArraySectors = ENTRY_ARRAY_BYTES / sectorSize;
  const small = totalSectors * sectorSize <= SMALL_DISK_BYTES;
  const backupHeaderLba = totalSectors - 1;
  const backupEntriesLba = backupHeaderLba - entryArraySectors;
  return {
    sectorSize,
    totalSectors,
    entryArraySectors,
    firstUsableLba: firstUsableLba ?? (small ? 2 + entryArraySectors : FIRST_USABLE_ALIGNMENT_BYTES / sectorSize),
    lastUsableLba: backupEntriesLba - 1,
    backupEntriesLba,
    backupHeaderLba,
  };
}

/** Smallest disk that can hold both GPT copies with all 128 entries plus one usable sector. */
export function minimumGptSectors(sectorSize: number): number {
  return 2 * (1 + ENTRY_ARRAY_BYTES / sectorSize) + 2;
}
