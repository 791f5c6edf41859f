/**
 * On-disk FAT structures as field tables (offset, length) named as in the Microsoft FAT
 * specification (fatgen103 "Boot Sector and BPB Structure", "FAT32 FSInfo Sector Structure",
 * "FAT Directory Structure", "FAT Long Directory Entries"), with pure encoders.
 *
 * An empty volume is byte-identical to `mkfs.fat --invariant -F <type> -S <sector> -i <id>
 * -n <label>` (4.2) except for two deliberate differences, both inside the boot sector:
 * BS_OEMName is "MSWIN4.1" (fatgen103's recommendation for compatibility) instead of
 * "mkfs.fat", and the boot code is a 4-byte stub instead of mkfs.fat's "This is not a bootable
 * disk" message. (Geometry differences: see geometry.ts — FAT32 below 65525 clusters is refused.)
 */
import { view } from "../../core/bytes.js";
import type { FatGeometry } from "./geometry.js";

type Field = readonly [offsetBytes: number, lengthBytes: number];

/** BPB fields common to FAT12/16/32 (fatgen103 "Boot Sector and BPB Structure"). */
export const BPB = {
  BS_jmpBoot: [0, 3],
  BS_OEMName: [3, 8],
  BPB_BytsPerSec: [11, 2],
  BPB_SecPerClus: [13, 1],
  BPB_RsvdSecCnt: [14, 2],
  BPB_NumFATs: [16, 1],
  BPB_RootEntCnt: [17, 2],
  BPB_TotSec16: [19, 2],
  BPB_Media: [21, 1],
  BPB_FATSz16: [22, 2],
  BPB_SecPerTrk: [24, 2],
  BPB_NumHeads: [26, 2],
  BPB_HiddSec: [28, 4],
  BPB_TotSec32: [32, 4],
} as const satisfies Record<string, Field>;

/** Extended BPB of FAT12/16, from offset 36. */
export const EBPB16 = {
  BS_DrvNum: [36, 1],
  BS_Reserved1: [37, 1],
  BS_BootSig: [38, 1],
  BS_VolID: [39, 4],
  BS_VolLab: [43, 11],
  BS_FilSysType: [54, 8],
  BootCode: [62, 448],
} as const satisfies Record<string, Field>;

/** Extended BPB of FAT32, from offset 36. */
export const EBPB32 = {
  BPB_FATSz32: [36, 4],
  BPB_ExtFlags: [40, 2],
  BPB_FSVer: [42, 2],
  BPB_RootClus: [44, 4],
  BPB_FSInfo: [48, 2],
  BPB_BkBootSec: [50, 2],
  BPB_Reserved: [52, 12],
  BS_DrvNum: [64, 1],
  BS_Reserved1: [65, 1],
  BS_BootSig: [66, 1],
  BS_VolID: [67, 4],
  BS_VolLab: [71, 11],
  BS_FilSysType: [82, 8],
  BootCode: [90, 420],
} as const satisfies Record<string, Field>;

/** The 0x55 0xAA signature at bytes 510–511 of the boot sector (and of FSInfo). */
export const BOOT_SIGNATURE: Field = [510, 2];

/** fatgen103 "FAT32 FSInfo Sector Structure and Backup Boot Sector". */
export const FSINFO = {
  FSI_LeadSig: [0, 4],
  FSI_Reserved1: [4, 480],
  FSI_StrucSig: [484, 4],
  FSI_Free_Count: [488, 4],
  FSI_Nxt_Free: [492, 4],
  FSI_Reserved2: [496, 12],
  FSI_TrailSig: [508, 4],
} as const satisfies Record<string, Field>;

/** fatgen103 "FAT 32 Byte Directory Entry Structure". */
export const DIRENT = {
  DIR_Name: [0, 11],
  DIR_Attr: [11, 1],
  DIR_NTRes: [12, 1],
  DIR_CrtTimeTenth: [13, 1],
  DIR_CrtTime: [14, 2],
  DIR_CrtDate: [16, 2],
  DIR_LstAccDate: [18, 2],
  DIR_FstClusHI: [20, 2],
  DIR_WrtTime: [22, 2],
  DIR_WrtDate: [24, 2],
  DIR_FstClusLO: [26, 2],
  DIR_FileSize: [28, 4],
} as const satisfies Record<string, Field>;

/** fatgen103 "FAT Long Directory Entries". */
export const LFN_DIRENT = {
  LDIR_Ord: [0, 1],
  LDIR_Name1: [1, 10],
  LDIR_Attr: [11, 1],
  LDIR_Type: [12, 1],
  LDIR_Chksum: [13, 1],
  LDIR_Name2: [14, 12],
  LDIR_FstClusLO: [26, 2],
  LDIR_Name3: [28, 4],
} as const satisfies Record<string, Field>;

export const DIRENT_SIZE = 32;
export const ATTR_READ_ONLY = 0x01;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
/** READ_ONLY | HIDDEN | SYSTEM | VOLUME_ID marks a long-name entry. */
export const ATTR_LONG_NAME = 0x0f;
/** fatgen103: the last (first on disk) long-name entry has 0x40 ORed into its ordinal. */
export const LAST_LONG_ENTRY = 0x40;
/** BPB_Media for fixed media; also the low byte of FAT[0]. */
export const MEDIA_FIXED = 0xf8;

/**
 * Boot code: "int 18h" (BIOS: boot failed, try the next device) then "jmp $". An ESP is never
 * booted through its boot sector; this only keeps a BIOS from running zeros.
 */
const BOOT_CODE = Uint8Array.of(0xcd, 0x18, 0xeb, 0xfe);

function put(target: Uint8Array, field: Field, bytes: Uint8Array): void {
  if (bytes.length > field[1]) throw new RangeError(`internal: ${bytes.length} bytes for a ${field[1]}-byte field`);
  target.set(bytes, field[0]);
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (character) => character.charCodeAt(0));
}

export interface BootSectorFields {
  readonly geometry: FatGeometry;
  readonly volumeId: number;
  /** 11 bytes, space padded. */
  readonly volumeLabel: Uint8Array;
}

/** One sector: boot sector with BPB and extended BPB (the backup at sector 6 is identical). */
export function encodeBootSector(fields: BootSectorFields): Uint8Array {
  const { geometry } = fields;
  const sector = new Uint8Array(geometry.sectorSizeBytes);
  const data = view(sector);
  const fat32 = geometry.fatType === 32;
  const extended = fat32 ? EBPB32 : EBPB16;
  // fatgen103 "BS_jmpBoot": EB xx 90, jumping over the BPB to the boot code.
  put(sector, BPB.BS_jmpBoot, Uint8Array.of(0xeb, extended.BootCode[0] - 2, 0x90));
  // fatgen103 recommends "MSWIN4.1" as the most compatible OEM name.
  put(sector, BPB.BS_OEMName, ascii("MSWIN4.1"));
  data.setUint16(BPB.BPB_BytsPerSec[0], geometry.sectorSizeBytes, true);
  data.setUint8(BPB.BPB_SecPerClus[0], geometry.sectorsPerCluster);
  data.setUint16(BPB.BPB_RsvdSecCnt[0], geometry.reservedSectors, true);
  data.setUint8(BPB.BPB_NumFATs[0], geometry.fatCount);
  data.setUint16(BPB.BPB_RootEntCnt[0], geometry.rootEntryCount, true);
  // mkfs.fat: the 16-bit count when the total fits, else 0 and the 32-bit field.
  if (geometry.totalSectors < 0x10000) data.setUint16(BPB.BPB_TotSec16[0], geometry.totalSectors, true);
  else data.setUint32(BPB.BPB_TotSec32[0], geometry.totalSectors, true);
  data.setUint8(BPB.BPB_Media[0], MEDIA_FIXED);
  if (!fat32) data.setUint16(BPB.BPB_FATSz16[0], geometry.sectorsPerFat, true);
  data.setUint16(BPB.BPB_SecPerTrk[0], geometry.sectorsPerTrack, true);
  data.setUint16(BPB.BPB_NumHeads[0], geometry.heads, true);
  // BPB_HiddSec stays 0: the volume is built as a file, as repart/mkfs.fat do on a loop device.
  if (fat32) {
    data.setUint32(EBPB32.BPB_FATSz32[0], geometry.sectorsPerFat, true);
    // BPB_ExtFlags 0: FAT mirroring on; BPB_FSVer 0.0.
    data.setUint32(EBPB32.BPB_RootClus[0], ROOT_CLUSTER_FAT32, true);
    data.setUint16(EBPB32.BPB_FSInfo[0], FSINFO_SECTOR, true);
    data.setUint16(EBPB32.BPB_BkBootSec[0], BACKUP_BOOT_SECTOR, true);
  }
  // BIOS drive 0x80 (hard disk) goes with media 0xF8, as mkfs.fat sets it.
  data.setUint8(extended.BS_DrvNum[0], 0x80);
  data.setUint8(extended.BS_BootSig[0], 0x29);
  data.setUint32(extended.BS_VolID[0], fields.volumeId >>> 0, true);
  put(sector, extended.BS_VolLab, fields.volumeLabel);
  put(sector, extended.BS_FilSysType, ascii(`FAT${geometry.fatType}   `));
  sector.set(BOOT_CODE, extended.BootCode[0]);
  sector[BOOT_SIGNATURE[0]] = 0x55;
  sector[BOOT_SIGNATURE[0] + 1] = 0xaa;
  return sector;
}

/** mkfs.fat (and fatgen103's recommendation): root directory in cluster 2, FSInfo in sector 1, backup boot in 6. */
export const ROOT_CLUSTER_FAT32 = 2;
export const FSINFO_SECTOR = 1;
export const BACKUP_BOOT_SECTOR = 6;

/** FSInfo sector; fatgen103 says both counts are hints, but fsck.fat checks the free count. */
export function encodeFsInfo(sectorSizeBytes: number, freeClusters: number, freeSearchHint: number): Uint8Array {
  const sector = new Uint8Array(sectorSizeBytes);
  const data = view(sector);
  data.setUint32(FSINFO.FSI_LeadSig[0], 0x41615252, true);
  data.setUint32(FSINFO.FSI_StrucSig[0], 0x61417272, true);
  data.setUint32(FSINFO.FSI_Free_Count[0], freeClusters, true);
  data.setUint32(FSINFO.FSI_Nxt_Free[0], freeSearchHint >>> 0, true);
  data.setUint32(FSINFO.FSI_TrailSig[0], 0xaa550000, true);
  return sector;
}

export interface DirentFields {
  readonly name: Uint8Array;
  readonly attributes: number;
  readonly caseBits: number;
  readonly firstCluster: number;
  readonly sizeBytes: number;
  readonly date: number;
  readonly time: number;
  /** DIR_CrtTimeTenth: 10 ms units 0–199, carrying the odd second FAT time cannot. */
  readonly timeHundredths: number;
}

export function encodeDirentInto(target: DataView, offsetBytes: number, fields: DirentFields): void {
  for (let index = 0; index < 11; index++) target.setUint8(offsetBytes + DIRENT.DIR_Name[0] + index, fields.name[index]!);
  target.setUint8(offsetBytes + DIRENT.DIR_Attr[0], fields.attributes);
  target.setUint8(offsetBytes + DIRENT.DIR_NTRes[0], fields.caseBits);
  target.setUint8(offsetBytes + DIRENT.DIR_CrtTimeTenth[0], fields.timeHundredths);
  target.setUint16(offsetBytes + DIRENT.DIR_CrtTime[0], fields.time, true);
  target.setUint16(offsetBytes + DIRENT.DIR_CrtDate[0], fields.date, true);
  target.setUint16(offsetBytes + DIRENT.DIR_LstAccDate[0], fields.date, true);
  target.setUint16(offsetBytes + DIRENT.DIR_FstClusHI[0], Math.floor(fields.firstCluster / 0x10000), true);
  target.setUint16(offsetBytes + DIRENT.DIR_WrtTime[0], fields.time, true);
  target.setUint16(offsetBytes + DIRENT.DIR_WrtDate[0], fields.date, true);
  target.setUint16(offsetBytes + DIRENT.DIR_FstClusLO[0], fields.firstCluster & 0xffff, true);
  target.setUint32(offsetBytes + DIRENT.DIR_FileSize[0], fields.sizeBytes, true);
}

/** Name character slots of a long-name entry: 5 in Name1, 6 in Name2, 2 in Name3. */
const LFN_SLOT_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/**
 * Long-name entry `ordinal` (1-based) of `name`: 13 UTF-16 code units, then a 0x0000
 * terminator if the name ends inside this entry, then 0xFFFF padding (fatgen103).
 */
export function encodeLongNameEntryInto(target: DataView, offsetBytes: number, name: string, ordinal: number, isLast: boolean, checksum: number): void {
  target.setUint8(offsetBytes + LFN_DIRENT.LDIR_Ord[0], ordinal | (isLast ? LAST_LONG_ENTRY : 0));
  target.setUint8(offsetBytes + LFN_DIRENT.LDIR_Attr[0], ATTR_LONG_NAME);
  target.setUint8(offsetBytes + LFN_DIRENT.LDIR_Type[0], 0);
  target.setUint8(offsetBytes + LFN_DIRENT.LDIR_Chksum[0], checksum);
  target.setUint16(offsetBytes + LFN_DIRENT.LDIR_FstClusLO[0], 0, true);
  const start = (ordinal - 1) * LFN_SLOT_OFFSETS.length;
  for (let slot = 0; slot < LFN_SLOT_OFFSETS.length; slot++) {
    const index = start + slot;
    const unit = index < name.length ? name.charCodeAt(index) : index === name.length ? 0x0000 : 0xffff;
    target.setUint16(offsetBytes + LFN_SLOT_OFFSETS[slot]!, unit, true);
  }
}
