/**
 * FAT volume geometry for a given size: FAT type, sectors per cluster, reserved sectors,
 * sectors per FAT, cluster count. Pure; follows mkfs.fat 4.2 (dosfstools `setup_tables` and
 * `establish_params`) so a volume we write has the geometry `mkfs.fat -F <type> -S <sector>`
 * would give the same size, and checks the result against the Microsoft FAT specification
 * ("Microsoft Extensible Firmware Initiative FAT32 File System Specification", fatgen103,
 * rev 1.03, section "FAT Type Determination").
 *
 * Size algebra (all counts in sectors; S = sector size in bytes, C = sectors per cluster,
 * F = number of FATs = 2, R = reserved sectors, D = root directory sectors, FAT12/16 only):
 *
 *   total = R + F·fatSectors + D + C·clusters + unused            (fatgen103 "FAT Data Structure")
 *   fatSectors ≥ ceil((clusters + 2) · bitsPerEntry / 8 / S)       (entries 0 and 1 are reserved)
 *
 * Solving for the largest cluster count with data = total − R − D:
 *   data·S ≥ clusters·C·S + F·(clusters + 2)·entryBytes
 *   clusters = floor((data·S + 2·F·entryBytes) / (C·S + F·entryBytes))
 * (mkfs.fat writes 2·F·entryBytes as `nr_fats * 8` for FAT32 and `nr_fats * 4` for FAT16; FAT12
 * uses 1.5-byte entries, so the equation is doubled to stay in integers). fatSectors is then
 * rounded up to a multiple of C (mkfs.fat aligns R, the FAT and D to the cluster size so that
 * clusters are aligned on the medium, unless the volume has ≤ 8192 sectors), and the cluster
 * count is recomputed from what is actually left, since rounding may have eaten a cluster.
 *
 * Legal cluster counts (fatgen103 "FAT Type Determination": the type is decided by the count
 * alone): FAT12 < 4085 ≤ FAT16 < 65525 ≤ FAT32. We use mkfs.fat 4.2's limits (below), which
 * sit inside those ranges, and additionally refuse FAT32 below 65525 clusters where
 * `mkfs.fat -F 32` only warns.
 */

export type FatType = 12 | 16 | 32;

export interface FatGeometry {
  readonly fatType: FatType;
  readonly sectorSizeBytes: number;
  /** Sectors the file system spans (BPB_TotSec16/32); ≤ 2^32 − 1, the rest of the partition stays unused. */
  readonly totalSectors: number;
  readonly sectorsPerCluster: number;
  readonly clusterSizeBytes: number;
  readonly reservedSectors: number;
  readonly fatCount: number;
  readonly sectorsPerFat: number;
  /** BPB_RootEntCnt: fixed root directory slots on FAT12/16, 0 on FAT32. */
  readonly rootEntryCount: number;
  readonly rootDirSectors: number;
  readonly firstDataSector: number;
  /** Data clusters, numbered 2 … clusterCount + 1. */
  readonly clusterCount: number;
  /** BPB_SecPerTrk / BPB_NumHeads as mkfs.fat sets them for a file (meaningless for LBA media). */
  readonly sectorsPerTrack: number;
  readonly heads: number;
}

/** Why a size cannot hold a FAT of the requested type (for the planner's messages). */
export interface GeometryRefusal {
  readonly refused: string;
}

/**
 * mkfs.fat 4.2 limits: FAT12 ≤ 4084 and FAT16 ≥ 4087 clusters (fatgen103 puts the boundary at
 * 4085, Windows' fastfat at 4087, so 4085/4086 are avoided); FAT16 ≤ 65524; FAT32 ≥ 65525
 * (fatgen103) and at most 0x0FFFFFF5 clusters, so the highest cluster number 0x0FFFFFF6 stays
 * below the BAD mark 0x0FFFFFF7 (the top 4 bits of a FAT32 entry are reserved).
 */
const MAX_CLUSTERS_12 = 4084;
const MAX_CLUSTERS_16 = 65524;
const MAX_CLUSTERS_32 = 0x0fff_fff5;
export const FAT16_MIN_CLUSTERS = 4087;
export const FAT32_MIN_CLUSTERS = 65525;
/** BPB_TotSec32 is 32 bits; mkfs.fat leaves anything beyond unused ("target too large"). */
const MAX_TOTAL_SECTORS = 0xffff_ffff;
/** mkfs.fat: at most 128 sectors per cluster when it picks the size itself. */
const MAX_SECTORS_PER_CLUSTER = 128;
const FAT_COUNT = 2;

/**
 * mkfs.fat 4.2's starting cluster size: FAT32 follows the Microsoft format table of fatgen103
 * ("FAT32 cluster size by volume size": ≤ 260 MB 0.5 KiB, ≤ 8 GB 4 KiB, ≤ 16 GB 8 KiB,
 * ≤ 32 GB 16 KiB, above 32 KiB), with the thresholds counted in sectors (260 MiB = 532480
 * sectors of 512 bytes) whatever the sector size. FAT12/16 start at 4 sectors and double.
 */
function initialSectorsPerCluster(fatType: FatType, sectors: number): number {
  if (fatType !== 32) return 4;
  if (sectors > 32 * 1024 * 1024 * 2) return 64;
  if (sectors > 16 * 1024 * 1024 * 2) return 32;
  if (sectors > 8 * 1024 * 1024 * 2) return 16;
  if (sectors > 260 * 1024 * 2) return 8;
  return 1;
}

/**
 * mkfs.fat 4.2 CHS values for a device without geometry (an image file): the SD card
 * specification's table below 524288 sectors, LBA-assist translation above.
 */
function chsGeometry(sectors: number): { heads: number; sectorsPerTrack: number } {
  if (sectors <= 524288) {
    const heads = sectors <= 32768 ? 2 : sectors <= 65536 ? 4 : sectors <= 262144 ? 8 : 16;
    return { heads, sectorsPerTrack: sectors <= 4096 ? 16 : 32 };
  }
  const heads = sectors <= 16 * 63 * 1024 ? 16 : sectors <= 32 * 63 * 1024 ? 32 : sectors <= 64 * 63 * 1024 ? 64 : sectors <= 128 * 63 * 1024 ? 128 : 255;
  return { heads, sectorsPerTrack: 63 };
}

function alignSectors(sectors: number, sectorsPerCluster: number, aligned: boolean): number {
  return aligned ? Math.ceil(sectors / sectorsPerCluster) * sectorsPerCluster : sectors;
}

interface Candidate {
  clusters: number;
  sectorsPerFat: number;
}

/** One iteration of mkfs.fat's search for a given type and cluster size; undefined = does not fit. */
function tryClusterSize(fatType: FatType, dataSectors: number, sectorSize: number, sectorsPerCluster: number, aligned: boolean): Candidate | undefined {
  if (dataSectors <= 0) return undefined;
  let clusters: number;
  let sectorsPerFat: number;
  let maxClusters: number;
  if (fatType === 12) {
    clusters = Math.floor((2 * (dataSectors * sectorSize + FAT_COUNT * 3)) / (2 * sectorsPerCluster * sectorSize + FAT_COUNT * 3));
    sectorsPerFat = alignSectors(Math.ceil(Math.floor(((clusters + 2) * 3 + 1) / 2) / sectorSize), sectorsPerCluster, aligned);
    clusters = Math.floor((dataSectors - FAT_COUNT * sectorsPerFat) / sectorsPerCluster);
    maxClusters = Math.min(Math.floor((sectorsPerFat * 2 * sectorSize) / 3), MAX_CLUSTERS_12);
    if (clusters > maxClusters) return undefined;
  } else if (fatType === 16) {
    clusters = Math.floor((dataSectors * sectorSize + FAT_COUNT * 4) / (sectorsPerCluster * sectorSize + FAT_COUNT * 2));
    sectorsPerFat = alignSectors(Math.ceil(((clusters + 2) * 2) / sectorSize), sectorsPerCluster, aligned);
    clusters = Math.floor((dataSectors - FAT_COUNT * sectorsPerFat) / sectorsPerCluster);
    maxClusters = Math.min(Math.floor((sectorsPerFat * sectorSize) / 2), MAX_CLUSTERS_16);
    if (clusters > maxClusters) return undefined;
  } else {
    clusters = Math.floor((dataSectors * sectorSize + FAT_COUNT * 8) / (sectorsPerCluster * sectorSize + FAT_COUNT * 4));
    sectorsPerFat = alignSectors(Math.ceil(((clusters + 2) * 4) / sectorSize), sectorsPerCluster, aligned);
    clusters = Math.floor((dataSectors - FAT_COUNT * sectorsPerFat) / sectorsPerCluster);
    maxClusters = Math.min(Math.floor((sectorsPerFat * sectorSize) / 4), MAX_CLUSTERS_32);
    if (clusters > maxClusters) return undefined;
  }
  return clusters > 0 ? { clusters, sectorsPerFat } : undefined;
}

/** The geometry mkfs.fat 4.2 picks for `sizeBytes`, or why that size cannot hold this FAT type. */
export function fatGeometry(sizeBytes: number, sectorSize: number, fatType: FatType): FatGeometry | GeometryRefusal {
  const partitionSectors = Math.floor(sizeBytes / sectorSize);
  const { heads, sectorsPerTrack } = chsGeometry(partitionSectors);
  // mkfs.fat 4.2: "Align number of sectors to be multiple of sectors per track, needed by DOS
  // and mtools" — the last partial track stays outside the file system.
  let totalSectors = Math.min(partitionSectors, MAX_TOTAL_SECTORS);
  totalSectors -= totalSectors % sectorsPerTrack;
  // mkfs.fat: FAT32 reserves 32 sectors (boot, FSInfo, backup boot at 6, room to grow); 12/16 one.
  const baseReserved = fatType === 32 ? 32 : 1;
  // mkfs.fat's default root directory for fixed disks: 512 entries (FAT12/16 only).
  const baseRootEntries = fatType === 32 ? 0 : 512;
  const baseRootDirSectors = Math.ceil((baseRootEntries * 32) / sectorSize);
  // mkfs.fat: "If the filesystem is 8192 sectors or less (floppy size), don't align".
  const aligned = totalSectors > 8192;

  let sectorsPerCluster = initialSectorsPerCluster(fatType, partitionSectors);
  let found: Candidate | undefined;
  for (; sectorsPerCluster <= MAX_SECTORS_PER_CLUSTER; sectorsPerCluster *= 2) {
    const afterReserved = totalSectors - alignSectors(baseReserved, sectorsPerCluster, aligned);
    const dataSectors = fatType === 32 ? afterReserved : afterReserved - alignSectors(baseRootDirSectors, sectorsPerCluster, aligned);
    found = tryClusterSize(fatType, dataSectors, sectorSize, sectorsPerCluster, aligned);
    // FAT16 below 4087 clusters would be read as FAT12: mkfs.fat tries larger clusters, which
    // only lower the count further, so that size has no FAT16.
    if (found && fatType === 16 && found.clusters < FAT16_MIN_CLUSTERS) found = undefined;
    if (found) break;
  }
  if (!found) return { refused: `${totalSectors} sectors of ${sectorSize} bytes give no legal FAT${fatType} cluster count with 1 to ${MAX_SECTORS_PER_CLUSTER} sectors per cluster` };
  // mkfs.fat -F 32 only warns below 65525 clusters; fatgen103 says such a volume is FAT16.
  if (fatType === 32 && found.clusters < FAT32_MIN_CLUSTERS) {
    return { refused: `FAT32 needs at least ${FAT32_MIN_CLUSTERS} clusters, ${totalSectors} sectors give ${found.clusters}` };
  }

  const reservedSectors = alignSectors(baseReserved, sectorsPerCluster, aligned);
  const rootDirSectors = alignSectors(baseRootDirSectors, sectorsPerCluster, aligned);
  const rootEntryCount = (rootDirSectors * sectorSize) / 32;
  const firstDataSector = reservedSectors + FAT_COUNT * found.sectorsPerFat + rootDirSectors;
  return {
    fatType,
    sectorSizeBytes: sectorSize,
    totalSectors,
    sectorsPerCluster,
    clusterSizeBytes: sectorsPerCluster * sectorSize,
    reservedSectors,
    fatCount: FAT_COUNT,
    sectorsPerFat: found.sectorsPerFat,
    rootEntryCount,
    rootDirSectors,
    firstDataSector,
    clusterCount: found.clusters,
    sectorsPerTrack,
    heads,
  };
}

export function isRefusal(value: FatGeometry | GeometryRefusal): value is GeometryRefusal {
  return "refused" in value;
}
