/**
 * GPT reader for `inspect`, `verify` and `repart` on existing images. It never throws on
 * bad bytes: every problem becomes a finding, and whatever could be read is returned.
 * Header checks follow UEFI §5.3.2 "GPT header validation".
 */
import { getU64LE, view } from "../../core/bytes.js";
import { crc32 } from "../../core/crc32.js";
import { guidFromGptBytes, NULL_GUID } from "../../core/guid.js";
import type { ByteSource } from "../../io/source.js";
import type { GptEntry } from "./encode.js";
import { ENTRY, ENTRY_SIZE, HEADER, HEADER_SIGNATURE, HEADER_SIZE, LABEL_MAX_UTF16_UNITS, MBR, MBR_PROTECTIVE_OS_TYPE } from "./layout.js";

export interface Finding {
  readonly severity: "error" | "warning";
  readonly message: string;
}

export interface DecodedHeader {
  readonly myLba: number;
  readonly alternateLba: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  readonly diskGuid: string;
  readonly partitionEntryLba: number;
  readonly numberOfPartitionEntries: number;
  readonly sizeOfPartitionEntry: number;
  readonly entryArrayCrc32: number;
}

export interface DecodedGpt {
  readonly sectorSize: number;
  readonly totalSectors: number;
  readonly header: DecodedHeader;
  readonly entries: readonly GptEntry[];
  readonly findings: readonly Finding[];
}

export interface GptProbe {
  readonly gpt: DecodedGpt | undefined;
  readonly findings: readonly Finding[];
  /** Whether LBA 0 has an MBR signature (a GPT disk or an MBR-partitioned one). */
  readonly hasMbr: boolean;
}

const MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024;

/** Reads the GPT of an image, trying 512- and 4096-byte sectors (or only `sectorSize` if given). */
export async function readGpt(source: ByteSource, sectorSize?: number): Promise<GptProbe> {
  const findings: Finding[] = [];
  const head = await source.read(0, Math.min(source.size, 8192));
  const hasMbr = head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa;
  const candidates = sectorSize ? [sectorSize] : [512, 4096];
  for (const candidate of candidates) {
    if (head.length < candidate * 2) continue;
    if (!isSignature(head.subarray(candidate, candidate + 8))) continue;
    const gpt = await decodeAt(source, candidate, head);
    return { gpt, findings: gpt.findings, hasMbr };
  }
  findings.push({ severity: "error", message: source.size < 1024 ? `image is only ${source.size} bytes: too small for a GPT` : "no GPT header (\"EFI PART\") at LBA 1 for 512- or 4096-byte sectors" });
  return { gpt: undefined, findings, hasMbr };
}

function isSignature(bytes: Uint8Array): boolean {
  return String.fromCharCode(...bytes) === HEADER_SIGNATURE;
}

async function decodeAt(source: ByteSource, sectorSize: number, head: Uint8Array): Promise<DecodedGpt> {
  const findings: Finding[] = [];
  const totalSectors = Math.floor(source.size / sectorSize);
  if (source.size % sectorSize !== 0) findings.push({ severity: "warning", message: `image size ${source.size} is not a multiple of the ${sectorSize}-byte sector size` });
  checkProtectiveMbr(head, totalSectors, findings);

  const primarySector = head.subarray(sectorSize, sectorSize * 2);
  const header = decodeHeader(primarySector, "primary", findings);
  if (header.myLba !== 1) findings.push({ severity: "error", message: `primary header MyLBA is ${header.myLba}, expected 1` });

  const entryBytes = header.numberOfPartitionEntries * header.sizeOfPartitionEntry;
  let entries: GptEntry[] = [];
  if (header.sizeOfPartitionEntry < ENTRY_SIZE || header.sizeOfPartitionEntry % 8 !== 0 || entryBytes > MAX_ENTRY_ARRAY_BYTES || entryBytes === 0) {
    findings.push({ severity: "error", message: `implausible entry array: ${header.numberOfPartitionEntries} entries of ${header.sizeOfPartitionEntry} bytes` });
  } else if (!Number.isSafeInteger(header.partitionEntryLba) || (header.partitionEntryLba + 0) * sectorSize + entryBytes > source.size) {
    findings.push({ severity: "error", message: `entry array at LBA ${header.partitionEntryLba} lies beyond the end of the image` });
  } else {
    const array = await source.read(header.partitionEntryLba * sectorSize, entryBytes);
    if (crc32(array) !== header.entryArrayCrc32) findings.push({ severity: "error", message: "primary entry array CRC32 mismatch" });
    entries = decodeEntries(array, header.sizeOfPartitionEntry, findings);
    await checkBackup(source, sectorSize, totalSectors, header, array, findings);
  }
  checkEntries(entries, header, findings);
  return { sectorSize, totalSectors, header, entries, findings };
}

function checkProtectiveMbr(head: Uint8Array, totalSectors: number, findings: Finding[]): void {
  if (head[MBR.signature[0]] !== 0x55 || head[MBR.signature[0] + 1] !== 0xaa) {
    findings.push({ severity: "warning", message: "LBA 0 has no MBR signature (55 AA): no protective MBR" });
    return;
  }
  if (head[MBR.osType[0]] !== MBR_PROTECTIVE_OS_TYPE) {
    findings.push({ severity: "warning", message: `first MBR record has type 0x${head[MBR.osType[0]]!.toString(16)}, not the protective 0xEE (hybrid MBR?)` });
    return;
  }
  const size = view(head).getUint32(MBR.sizeInLba[0], true);
  const expected = Math.min(totalSectors - 1, 0xffff_ffff);
  if (size !== expected) findings.push({ severity: "warning", message: `protective MBR covers ${size} sectors, the disk has ${expected} after LBA 0` });
}

function decodeHeader(sector: Uint8Array, which: string, findings: Finding[]): DecodedHeader {
  const source = view(sector);
  const headerSize = source.getUint32(HEADER.headerSize[0], true);
  if (!isSignature(sector.subarray(0, 8))) findings.push({ severity: "error", message: `${which} header has no "EFI PART" signature` });
  if (headerSize < HEADER_SIZE || headerSize > sector.length) {
    findings.push({ severity: "error", message: `${which} header size ${headerSize} is out of range` });
  } else {
    const copy = Uint8Array.from(sector.subarray(0, headerSize));
    view(copy).setUint32(HEADER.headerCrc32[0], 0, true);
    if (crc32(copy) !== source.getUint32(HEADER.headerCrc32[0], true)) findings.push({ severity: "error", message: `${which} header CRC32 mismatch` });
  }
  return {
    myLba: getU64LE(source, HEADER.myLba[0]),
    alternateLba: getU64LE(source, HEADER.alternateLba[0]),
    firstUsableLba: getU64LE(source, HEADER.firstUsableLba[0]),
    lastUsableLba: getU64LE(source, HEADER.lastUsableLba[0]),
    diskGuid: guidFromGptBytes(sector.subarray(HEADER.diskGuid[0], HEADER.diskGuid[0] + 16)),
    partitionEntryLba: getU64LE(source, HEADER.partitionEntryLba[0]),
    numberOfPartitionEntries: source.getUint32(HEADER.numberOfPartitionEntries[0], true),
    sizeOfPartitionEntry: source.getUint32(HEADER.sizeOfPartitionEntry[0], true),
    entryArrayCrc32: source.getUint32(HEADER.partitionEntryArrayCrc32[0], true),
  };
}

export function decodeLabel(bytes: Uint8Array): string {
  const source = view(bytes);
  let label = "";
  for (let index = 0; index < LABEL_MAX_UTF16_UNITS; index++) {
    const unit = source.getUint16(index * 2, true);
    if (unit === 0) break;
    label += String.fromCharCode(unit);
  }
  return label;
}

function decodeEntries(array: Uint8Array, entrySize: number, findings: Finding[]): GptEntry[] {
  const entries: GptEntry[] = [];
  const count = Math.floor(array.length / entrySize);
  for (let slot = 0; slot < count; slot++) {
    const bytes = array.subarray(slot * entrySize, slot * entrySize + ENTRY_SIZE);
    const typeUuid = guidFromGptBytes(bytes.subarray(ENTRY.partitionTypeGuid[0], ENTRY.partitionTypeGuid[0] + 16));
    if (typeUuid === NULL_GUID) continue;
    const source = view(bytes);
    const firstLba = getU64LE(source, ENTRY.startingLba[0]);
    const lastLba = getU64LE(source, ENTRY.endingLba[0]);
    if (!Number.isSafeInteger(firstLba) || !Number.isSafeInteger(lastLba)) {
      findings.push({ severity: "error", message: `partition ${slot + 1}: LBA beyond 2^53` });
      continue;
    }
    entries.push({
      slot,
      typeUuid,
      uuid: guidFromGptBytes(bytes.subarray(ENTRY.uniquePartitionGuid[0], ENTRY.uniquePartitionGuid[0] + 16)),
      firstLba,
      lastLba,
      attributes: source.getBigUint64(ENTRY.attributes[0], true),
      label: decodeLabel(bytes.subarray(ENTRY.partitionName[0], ENTRY.partitionName[0] + 72)),
    });
  }
  return entries;
}

async function checkBackup(source: ByteSource, sectorSize: number, totalSectors: number, primary: DecodedHeader, primaryArray: Uint8Array, findings: Finding[]): Promise<void> {
  const backupLba = primary.alternateLba;
  if (!Number.isSafeInteger(backupLba) || backupLba >= totalSectors) {
    findings.push({ severity: "error", message: `backup header LBA ${primary.alternateLba} lies beyond the end of the image (${totalSectors} sectors)` });
    return;
  }
  if (backupLba !== totalSectors - 1) {
    findings.push({ severity: "warning", message: `backup header at LBA ${backupLba}, not at the last LBA ${totalSectors - 1} (image grown or truncated?)` });
  }
  const backupFindings: Finding[] = [];
  const backup = decodeHeader(await source.read(backupLba * sectorSize, sectorSize), "backup", backupFindings);
  findings.push(...backupFindings);
  if (backupFindings.length > 0) return;
  if (backup.myLba !== backupLba || backup.alternateLba !== 1) findings.push({ severity: "error", message: "backup header MyLBA/AlternateLBA do not point back to the primary" });
  if (backup.diskGuid !== primary.diskGuid || backup.firstUsableLba !== primary.firstUsableLba || backup.lastUsableLba !== primary.lastUsableLba) {
    findings.push({ severity: "error", message: "backup header disagrees with the primary (disk GUID or usable LBAs)" });
  }
  const bytes = primaryArray.length;
  if (!Number.isSafeInteger(backup.partitionEntryLba) || backup.partitionEntryLba * sectorSize + bytes > source.size) {
    findings.push({ severity: "error", message: "backup entry array lies beyond the end of the image" });
    return;
  }
  const backupArray = await source.read(backup.partitionEntryLba * sectorSize, bytes);
  if (crc32(backupArray) !== backup.entryArrayCrc32) findings.push({ severity: "error", message: "backup entry array CRC32 mismatch" });
  else if (backup.entryArrayCrc32 !== primary.entryArrayCrc32) findings.push({ severity: "error", message: "backup entry array differs from the primary" });
}

function checkEntries(entries: readonly GptEntry[], header: DecodedHeader, findings: Finding[]): void {
  const sorted = [...entries].sort((left, right) => left.firstLba - right.firstLba);
  for (const entry of sorted) {
    const name = `partition ${entry.slot + 1}`;
    if (entry.lastLba < entry.firstLba) findings.push({ severity: "error", message: `${name}: ends (LBA ${entry.lastLba}) before it starts (LBA ${entry.firstLba})` });
    if (entry.firstLba < header.firstUsableLba || entry.lastLba > header.lastUsableLba) {
      findings.push({ severity: "error", message: `${name}: LBAs ${entry.firstLba}-${entry.lastLba} outside the usable range ${header.firstUsableLba}-${header.lastUsableLba}` });
    }
  }
  for (let index = 1; index < sorted.length; index++) {
    const previous = sorted[index - 1]!;
    const current = sorted[index]!;
    if (current.firstLba <= previous.lastLba) findings.push({ severity: "error", message: `partitions ${previous.slot + 1} and ${current.slot + 1} overlap` });
  }
  // Shared UUIDs make /dev/disk/by-partuuid ambiguous but the table is still readable; the
  // all-zero UUID means "unset" (repart UUID=null) and may repeat.
  const seen = new Map<string, number>();
  for (const entry of entries) {
    if (entry.uuid === NULL_GUID) continue;
    const other = seen.get(entry.uuid);
    if (other !== undefined) findings.push({ severity: "warning", message: `partitions ${other + 1} and ${entry.slot + 1} share the UUID ${entry.uuid}` });
    seen.set(entry.uuid, entry.slot);
  }
}
