/**
 * Pure GPT encoder: protective MBR, primary header + entry array, backup entry array +
 * header, with their CRC32s (UEFI §5.3.2: header CRC over HeaderSize bytes with the CRC
 * field zeroed; entry array CRC over NumberOfPartitionEntries × SizeOfPartitionEntry).
 */
import { ascii, setU64LE, view } from "../../core/bytes.js";
import { crc32 } from "../../core/crc32.js";
import { guidToGptBytes } from "../../core/guid.js";
import { ENTRY, ENTRY_ARRAY_BYTES, ENTRY_COUNT, ENTRY_SIZE, HEADER, HEADER_REVISION, HEADER_SIGNATURE, HEADER_SIZE, LABEL_MAX_UTF16_UNITS, MBR, MBR_PROTECTIVE_OS_TYPE, gptGeometry, type GptGeometry } from "./layout.js";

export interface GptEntry {
  /** Slot in the entry array (0-based; the Linux device is slot + 1). */
  readonly slot: number;
  readonly typeUuid: string;
  readonly uuid: string;
  readonly firstLba: number;
  /** Inclusive. */
  readonly lastLba: number;
  readonly attributes: bigint;
  readonly label: string;
}

export interface GptTable {
  readonly sectorSize: number;
  readonly totalSectors: number;
  /** Keep an existing table's first usable LBA (default: libfdisk's choice for a new table). */
  readonly firstUsableLba?: number;
  readonly diskGuid: string;
  readonly entries: readonly GptEntry[];
}

export interface EncodedGpt {
  readonly geometry: GptGeometry;
  /** LBA 0 through the end of the primary entry array. */
  readonly primary: Uint8Array;
  /** Backup entry array followed by the backup header sector. */
  readonly backup: Uint8Array;
  readonly backupOffsetBytes: number;
}

export function encodeLabel(label: string): Uint8Array {
  const out = new Uint8Array(LABEL_MAX_UTF16_UNITS * 2);
  const target = view(out);
  for (let index = 0; index < label.length && index < LABEL_MAX_UTF16_UNITS; index++) {
    target.setUint16(index * 2, label.charCodeAt(index), true);
  }
  return out;
}

export function encodeEntryArray(entries: readonly GptEntry[]): Uint8Array {
  const out = new Uint8Array(ENTRY_ARRAY_BYTES);
  for (const entry of entries) {
    if (entry.slot < 0 || entry.slot >= ENTRY_COUNT) throw new RangeError(`GPT slot ${entry.slot} out of range`);
    const base = entry.slot * ENTRY_SIZE;
    const target = view(out);
    out.set(guidToGptBytes(entry.typeUuid), base + ENTRY.partitionTypeGuid[0]);
    out.set(guidToGptBytes(entry.uuid), base + ENTRY.uniquePartitionGuid[0]);
    setU64LE(target, base + ENTRY.startingLba[0], entry.firstLba);
    setU64LE(target, base + ENTRY.endingLba[0], entry.lastLba);
    target.setBigUint64(base + ENTRY.attributes[0], entry.attributes, true);
    out.set(encodeLabel(entry.label), base + ENTRY.partitionName[0]);
  }
  return out;
}

interface HeaderFields {
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  partitionEntryLba: number;
  entryArrayCrc32: number;
}

export function encodeHeader(fields: HeaderFields, sectorSize: number): Uint8Array {
  const out = new Uint8Array(sectorSize);
  const target = view(out);
  out.set(ascii(HEADER_SIGNATURE), HEADER.signature[0]);
  target.setUint32(HEADER.revision[0], HEADER_REVISION, true);
  target.setUint32(HEADER.headerSize[0], HEADER_SIZE, true);
  setU64LE(target, HEADER.myLba[0], fields.myLba);
  setU64LE(target, HEADER.alternateLba[0], fields.alternateLba);
  setU64LE(target, HEADER.firstUsableLba[0], fields.firstUsableLba);
  setU64LE(target, HEADER.lastUsableLba[0], fields.lastUsableLba);
  out.set(guidToGptBytes(fields.diskGuid), HEADER.diskGuid[0]);
  setU64LE(target, HEADER.partitionEntryLba[0], fields.partitionEntryLba);
  target.setUint32(HEADER.numberOfPartitionEntries[0], ENTRY_COUNT, true);
  target.setUint32(HEADER.sizeOfPartitionEntry[0], ENTRY_SIZE, true);
  target.setUint32(HEADER.partitionEntryArrayCrc32[0], fields.entryArrayCrc32, true);
  target.setUint32(HEADER.headerCrc32[0], crc32(out.subarray(0, HEADER_SIZE)), true);
  return out;
}

/** Protective MBR (UEFI §5.2.3): one 0xEE record covering the disk, capped at 2^32-1 sectors. */
export function encodeProtectiveMbr(sectorSize: number, totalSectors: number): Uint8Array {
  const out = new Uint8Array(sectorSize);
  const target = view(out);
  out.set([0x00, 0x02, 0x00], MBR.startingChs[0]);
  out[MBR.osType[0]] = MBR_PROTECTIVE_OS_TYPE;
  out.set([0xff, 0xff, 0xff], MBR.endingChs[0]);
  target.setUint32(MBR.startingLba[0], 1, true);
  target.setUint32(MBR.sizeInLba[0], Math.min(totalSectors - 1, 0xffff_ffff), true);
  out[MBR.signature[0]] = 0x55;
  out[MBR.signature[0] + 1] = 0xaa;
  return out;
}

export function encodeGpt(table: GptTable): EncodedGpt {
  const geometry = gptGeometry(table.sectorSize, table.totalSectors, table.firstUsableLba);
  const entries = encodeEntryArray(table.entries);
  const entryArrayCrc32 = crc32(entries);
  const common = { firstUsableLba: geometry.firstUsableLba, lastUsableLba: geometry.lastUsableLba, diskGuid: table.diskGuid, entryArrayCrc32 };
  const primaryHeader = encodeHeader({ ...common, myLba: 1, alternateLba: geometry.backupHeaderLba, partitionEntryLba: 2 }, table.sectorSize);
  const backupHeader = encodeHeader({ ...common, myLba: geometry.backupHeaderLba, alternateLba: 1, partitionEntryLba: geometry.backupEntriesLba }, table.sectorSize);

  const primary = new Uint8Array((2 + geometry.entryArraySectors) * table.sectorSize);
  primary.set(encodeProtectiveMbr(table.sectorSize, table.totalSectors), 0);
  primary.set(primaryHeader, table.sectorSize);
  primary.set(entries, 2 * table.sectorSize);

  const backup = new Uint8Array((geometry.entryArraySectors + 1) * table.sectorSize);
  backup.set(entries, 0);
  backup.set(backupHeader, geometry.entryArraySectors * table.sectorSize);
  return { geometry, primary, backup, backupOffsetBytes: geometry.backupEntriesLba * table.sectorSize };
}
