/**
 * readFatTree: a FAT12/16/32 volume (mkfs.fat, mtools, Windows, gptimg's own writer) read back
 * into the tree model, for `gptimg update`, which rebuilds an ESP with entries added. Only the
 * boot sector, one FAT and the directories are read here; file contents stay on the volume and
 * are read along their cluster chains when a writer streams them.
 *
 * Damaged input (bad BPB, chains that loop, cross, leave the volume or end before the file
 * does) is a GptimgError; every walk is bounded by the cluster count, so none can hang.
 */
import { view } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import type { ByteSource } from "../../io/source.js";
import { TreeBuilder } from "../../tree/builder.js";
import type { DirNode, Meta } from "../../tree/tree.js";
import type { FatType } from "./geometry.js";
import { ATTR_DIRECTORY, ATTR_LONG_NAME, ATTR_VOLUME_ID, BOOT_SIGNATURE, BPB, DIRENT, DIRENT_SIZE, EBPB16, EBPB32, LAST_LONG_ENTRY, LFN_DIRENT } from "./layout.js";
import { collisionKey, LFN_UNITS_PER_ENTRY, shortNameChecksum } from "./names.js";

const HINT = "the FAT file system is damaged; check it with fsck.fat -n";
/** fatgen103 "FAT Directory Structure": at most 65536 entries, so 2 MiB (Linux FAT_MAX_DIR_SIZE). */
const MAX_DIRECTORY_BYTES = 65536 * DIRENT_SIZE;
/** fatgen103 "FAT Long Directory Entries": a 255-unit name needs 20 entries. */
const MAX_LONG_NAME_ENTRIES = 20;
/** fatgen103: (attr & ATTR_LONG_NAME_MASK) == ATTR_LONG_NAME marks a long-name entry. */
const ATTR_LONG_NAME_MASK = 0x3f;
/** DIR_NTRes bits (Windows NT, honoured by Linux and mtools): lowercase base / extension. */
const NT_LOWER_BASE = 0x08;
const NT_LOWER_EXTENSION = 0x10;
/** Short-name bytes ≥ 0x80 in code page 437, Linux's default `codepage=` for FAT. */
const CP437_HIGH = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

interface Volume {
  readonly source: ByteSource;
  readonly where: string;
  readonly fatType: FatType;
  /** BS_VolID, kept when a volume is rewritten. */
  readonly volumeId: number;
  readonly clusterSizeBytes: number;
  readonly clusterCount: number;
  readonly dataStartBytes: number;
  /** FAT12/16 fixed root directory region, or the FAT32 root cluster. */
  readonly rootRegion: { readonly offsetBytes: number; readonly sizeBytes: number } | { readonly cluster: number };
  /** FAT entry of each cluster 0 … clusterCount + 1, masked to 12/16/28 bits. */
  readonly next: Uint32Array;
  /** Every cluster handed to a file or directory, to catch loops and cross-links. */
  readonly claimed: Uint8Array;
}

/** Runs of consecutive clusters: [first cluster, count] pairs in file order. */
type ClusterRuns = readonly (readonly [number, number])[];

function damaged(where: string, what: string): never {
  return fail(ErrorCode.Image, `${where}: ${what}`, HINT);
}

/** fatgen103 "Boot Sector and BPB Structure" and "FAT Type Determination". */
async function openVolume(source: ByteSource, where: string): Promise<Volume> {
  if (source.size < 512) damaged(where, `${source.size} bytes is too small for a FAT boot sector`);
  const boot = await source.read(0, 512);
  const bpb = view(boot);
  const u8 = (field: readonly [number, number]) => bpb.getUint8(field[0]);
  const u16 = (field: readonly [number, number]) => bpb.getUint16(field[0], true);
  const u32 = (field: readonly [number, number]) => bpb.getUint32(field[0], true);
  if (u16(BOOT_SIGNATURE) !== 0xaa55) damaged(where, "no 0x55 0xAA boot signature at byte 510, not a FAT file system");
  const sectorSizeBytes = u16(BPB.BPB_BytsPerSec);
  const sectorsPerCluster = u8(BPB.BPB_SecPerClus);
  const reservedSectors = u16(BPB.BPB_RsvdSecCnt);
  const fatCount = u8(BPB.BPB_NumFATs);
  const rootEntryCount = u16(BPB.BPB_RootEntCnt);
  const totalSectors = u16(BPB.BPB_TotSec16) || u32(BPB.BPB_TotSec32);
  const sectorsPerFat = u16(BPB.BPB_FATSz16) || u32(EBPB32.BPB_FATSz32);
  if (![512, 1024, 2048, 4096].includes(sectorSizeBytes)) damaged(where, `BPB_BytsPerSec is ${sectorSizeBytes}, FAT allows 512, 1024, 2048 or 4096`);
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) damaged(where, `BPB_SecPerClus is ${sectorsPerCluster}, FAT needs a power of two up to 128`);
  if (reservedSectors === 0 || fatCount === 0 || totalSectors === 0 || sectorsPerFat === 0) damaged(where, "BPB_RsvdSecCnt, BPB_NumFATs, BPB_TotSec or BPB_FATSz is 0");
  // fatgen103: RootDirSectors = ceil(RootEntCnt * 32 / BytsPerSec); the data area follows the root.
  const rootDirSectors = Math.ceil((rootEntryCount * DIRENT_SIZE) / sectorSizeBytes);
  const firstDataSector = reservedSectors + fatCount * sectorsPerFat + rootDirSectors;
  if (firstDataSector >= totalSectors) damaged(where, `the data area starts at sector ${firstDataSector}, past the volume's ${totalSectors} sectors`);
  const volumeBytes = totalSectors * sectorSizeBytes;
  if (volumeBytes > source.size) damaged(where, `the BPB says ${volumeBytes} bytes but the partition holds only ${source.size} (truncated?)`);
  // fatgen103 "FAT Type Determination": the cluster count alone decides the type, < 4085 is
  // FAT12, < 65525 FAT16 (mkfs.fat and our writer avoid 4085/4086, which Windows reads as FAT16).
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  const fatType: FatType = clusterCount < 4085 ? 12 : clusterCount < 65525 ? 16 : 32;
  if ((fatType === 32) !== (u16(BPB.BPB_FATSz16) === 0) || (fatType === 32) !== (rootEntryCount === 0)) {
    damaged(where, `${clusterCount} clusters make it FAT${fatType}, but BPB_FATSz16/BPB_RootEntCnt are those of ${fatType === 32 ? "FAT12/16" : "FAT32"}`);
  }
  const entryCount = clusterCount + 2;
  const tableBytes = fatType === 12 ? Math.ceil((entryCount * 3) / 2) : entryCount * (fatType / 8);
  if (tableBytes > sectorsPerFat * sectorSizeBytes) damaged(where, `a FAT of ${sectorsPerFat} sectors cannot hold ${entryCount} FAT${fatType} entries`);
  // FAT32 BPB_ExtFlags: bit 7 = mirroring off, bits 0–3 = the one active FAT; else FAT 0 is current.
  const extFlags = fatType === 32 ? u16(EBPB32.BPB_ExtFlags) : 0;
  const activeFat = extFlags & 0x80 ? extFlags & 0x0f : 0;
  if (activeFat >= fatCount) damaged(where, `BPB_ExtFlags names FAT ${activeFat} of ${fatCount}`);
  const table = await source.read((reservedSectors + activeFat * sectorsPerFat) * sectorSizeBytes, tableBytes);
  const next = decodeFat(table, fatType, entryCount);
  const clusterSizeBytes = sectorsPerCluster * sectorSizeBytes;
  const rootRegion = fatType === 32
    ? { cluster: u32(EBPB32.BPB_RootClus) }
    : { offsetBytes: (firstDataSector - rootDirSectors) * sectorSizeBytes, sizeBytes: rootEntryCount * DIRENT_SIZE };
  const volumeId = u32(fatType === 32 ? EBPB32.BS_VolID : EBPB16.BS_VolID);
  return { source, where, fatType, volumeId, clusterSizeBytes, clusterCount, dataStartBytes: firstDataSector * sectorSizeBytes, rootRegion, next, claimed: new Uint8Array(entryCount) };
}

/** fatgen103 "FAT Data Structure": 12-bit entries pack two in three bytes; FAT32 uses only the low 28 bits. */
function decodeFat(table: Uint8Array, fatType: FatType, entryCount: number): Uint32Array {
  const next = new Uint32Array(entryCount);
  const data = view(table);
  for (let cluster = 0; cluster < entryCount; cluster++) {
    if (fatType === 32) next[cluster] = data.getUint32(cluster * 4, true) & 0x0fff_ffff;
    else if (fatType === 16) next[cluster] = data.getUint16(cluster * 2, true);
    else {
      const pair = data.getUint8(Math.floor((cluster * 3) / 2)) | (data.getUint8(Math.floor((cluster * 3) / 2) + 1) << 8);
      next[cluster] = cluster % 2 === 0 ? pair & 0xfff : pair >> 4;
    }
  }
  return next;
}

/**
 * Follows the chain from `first`, claiming each cluster, for at most `limit` clusters (or to its
 * end when `limit` is undefined); fails on a free, bad, reserved or out-of-range entry, on a
 * cluster already in use, and on a chain that ends before `limit`.
 */
function followChain(volume: Volume, first: number, limit: number | undefined, path: string): ClusterRuns {
  // fatgen103: any value ≥ 0xFF8 / 0xFFF8 / 0x0FFFFFF8 ends a chain; 0xFF7… marks a bad cluster.
  const endOfChain = volume.fatType === 12 ? 0xff8 : volume.fatType === 16 ? 0xfff8 : 0x0fff_fff8;
  const lastCluster = volume.clusterCount + 1;
  const runs: [number, number][] = [];
  let cluster = first;
  for (let length = 0; limit === undefined || length < limit; length++) {
    if (cluster < 2 || cluster > lastCluster) damaged(volume.where, `/${path}: cluster ${cluster} is outside the data area (2…${lastCluster})`);
    if (volume.claimed[cluster]) damaged(volume.where, `/${path}: cluster ${cluster} is used twice (a looped or cross-linked chain)`);
    volume.claimed[cluster] = 1;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === cluster) last[1]++;
    else runs.push([cluster, 1]);
    const value = volume.next[cluster]!;
    if (value >= endOfChain) {
      if (limit !== undefined && length + 1 < limit) damaged(volume.where, `/${path}: the cluster chain ends after ${length + 1} of ${limit} clusters`);
      break;
    }
    cluster = value;
  }
  return runs;
}

/** Reads `length` bytes at `offsetBytes` of the data described by `runs`. */
async function readRuns(volume: Volume, runs: ClusterRuns, offsetBytes: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let runStartBytes = 0;
  let done = 0;
  for (const [first, count] of runs) {
    if (done === length) break;
    const runBytes = count * volume.clusterSizeBytes;
    const position = offsetBytes + done - runStartBytes;
    if (position < runBytes) {
      const take = Math.min(runBytes - position, length - done);
      out.set(await volume.source.read(volume.dataStartBytes + (first - 2) * volume.clusterSizeBytes + position, take), done);
      done += take;
    }
    runStartBytes += runBytes;
  }
  return out;
}

/** A file's bytes, read lazily along its (already validated) cluster chain. */
class FatFileSource implements ByteSource {
  constructor(private readonly volume: Volume, private readonly runs: ClusterRuns, readonly size: number, readonly description: string) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.size)) fail(ErrorCode.Image, `${this.description}: read of ${length} bytes at ${offset} is past its ${this.size} bytes`);
    return readRuns(this.volume, this.runs, offset, length);
  }
}

/** fatgen103 "Date and Time Formats", read as UTC as time.ts writes them; an impossible date reads as 1980-01-01. */
function fatTimeToEpochSeconds(date: number, time: number): number {
  const year = 1980 + (date >> 9);
  const month = (date >> 5) & 0x0f;
  const day = date & 0x1f;
  if (month < 1 || month > 12 || day < 1 || day > 31) return Date.UTC(1980, 0, 1) / 1000;
  return Date.UTC(year, month - 1, day, time >> 11, Math.min((time >> 5) & 0x3f, 59), Math.min((time & 0x1f) * 2, 59)) / 1000;
}

/** A short-name character lowercased within its code page ("Ç" 0x80 → "ç" 0x87), as mtools and Linux display it. */
function lowerShortNameCharacter(character: string): string {
  const lower = character.toLowerCase();
  return /^[a-z]$/.test(lower) || CP437_HIGH.includes(lower) ? lower : character;
}

/** "README  TXT" → "README.TXT", with the NT lowercase bits applied and 0x05 read as 0xE5 (fatgen103 "DIR_Name[0]"). */
function shortNameText(name: Uint8Array, caseBits: number): string {
  const text = (bytes: Uint8Array, lower: boolean) => {
    let out = "";
    for (const byte of bytes) {
      const character = byte < 0x80 ? String.fromCharCode(byte) : CP437_HIGH[byte - 0x80]!;
      out += lower ? lowerShortNameCharacter(character) : character;
    }
    return out.replace(/ +$/, "");
  };
  const base = text(Uint8Array.of(name[0] === 0x05 ? 0xe5 : name[0]!, ...name.subarray(1, 8)), (caseBits & NT_LOWER_BASE) !== 0);
  const extension = text(name.subarray(8, 11), (caseBits & NT_LOWER_EXTENSION) !== 0);
  return extension === "" ? base : `${base}.${extension}`;
}

/** Name character slots of a long-name entry: 5 in LDIR_Name1, 6 in LDIR_Name2, 2 in LDIR_Name3. */
const LFN_SLOT_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

interface PendingLongName {
  readonly checksum: number;
  readonly units: number[];
  /** The ordinal the next long-name entry must have; 0 once the short entry is due. */
  nextOrdinal: number;
}

interface RawEntry {
  readonly name: string;
  readonly isDirectory: boolean;
  readonly firstCluster: number;
  readonly sizeBytes: number;
  readonly mtime: number;
}

/**
 * The live entries of one directory, in on-disk order. Long-name entries count down from
 * N|0x40 to 1 in front of their short entry; a set that is broken or whose checksum does not
 * match the short name is an orphan (fatgen103), and the short name is used instead.
 */
function parseDirectory(bytes: Uint8Array): { entries: RawEntry[]; labelMtime: number | undefined } {
  const data = view(bytes);
  const entries: RawEntry[] = [];
  let labelMtime: number | undefined;
  let pending: PendingLongName | undefined;
  for (let offset = 0; offset + DIRENT_SIZE <= bytes.length; offset += DIRENT_SIZE) {
    const first = bytes[offset]!;
    if (first === 0x00) break;
    const attributes = bytes[offset + DIRENT.DIR_Attr[0]]!;
    if (first === 0xe5) {
      pending = undefined;
      continue;
    }
    if ((attributes & ATTR_LONG_NAME_MASK) === ATTR_LONG_NAME) {
      const ordinal = first & ~LAST_LONG_ENTRY;
      const checksum = bytes[offset + LFN_DIRENT.LDIR_Chksum[0]]!;
      if (first & LAST_LONG_ENTRY) pending = ordinal >= 1 && ordinal <= MAX_LONG_NAME_ENTRIES ? { checksum, units: new Array<number>(ordinal * LFN_UNITS_PER_ENTRY), nextOrdinal: ordinal } : undefined;
      if (!pending || ordinal !== pending.nextOrdinal || checksum !== pending.checksum) {
        pending = undefined;
        continue;
      }
      LFN_SLOT_OFFSETS.forEach((slot, index) => (pending!.units[(ordinal - 1) * LFN_UNITS_PER_ENTRY + index] = data.getUint16(offset + slot, true)));
      pending.nextOrdinal--;
      continue;
    }
    const shortName = bytes.subarray(offset, offset + 11);
    const longName = pending && pending.nextOrdinal === 0 && pending.checksum === shortNameChecksum(shortName) ? pending.units : undefined;
    pending = undefined;
    const mtime = fatTimeToEpochSeconds(data.getUint16(offset + DIRENT.DIR_WrtDate[0], true), data.getUint16(offset + DIRENT.DIR_WrtTime[0], true));
    if (attributes & ATTR_VOLUME_ID) labelMtime ??= mtime;
    if (attributes & ATTR_VOLUME_ID || first === 0x2e) continue;
    const end = longName ? longName.indexOf(0) : -1;
    entries.push({
      name: longName ? String.fromCharCode(...(end < 0 ? longName : longName.slice(0, end))) : shortNameText(shortName, bytes[offset + DIRENT.DIR_NTRes[0]]!),
      isDirectory: (attributes & ATTR_DIRECTORY) !== 0,
      firstCluster: data.getUint16(offset + DIRENT.DIR_FstClusHI[0], true) * 0x10000 + data.getUint16(offset + DIRENT.DIR_FstClusLO[0], true),
      sizeBytes: data.getUint32(offset + DIRENT.DIR_FileSize[0], true),
      mtime,
    });
  }
  return { entries, labelMtime };
}

const meta = (mode: number, mtime: number): Meta => ({ mode, uid: 0, gid: 0, mtime, xattrs: [] });

/**
 * Reads the FAT volume in `source` into a tree: directories 0755, files 0644, owner 0, mtime
 * from DIR_WrtDate/DIR_WrtTime (the root's from the volume label entry, else 0).
 */
export async function readFatTree(source: ByteSource, where: string): Promise<DirNode> {
  return (await readFatVolume(source, where)).tree;
}

/** The tree plus what a rewrite of the same volume keeps: its FAT type and volume ID. */
export async function readFatVolume(source: ByteSource, where: string): Promise<{ tree: DirNode; fatType: FatType; volumeId: number }> {
  const volume = await openVolume(source, where);
  const builder = new TreeBuilder(meta(0o755, 0));
  const maxDirectoryClusters = Math.ceil(MAX_DIRECTORY_BYTES / volume.clusterSizeBytes);
  // Breadth-first with an explicit queue: nesting depth is bounded only by the cluster count.
  // Chains are claimed when an entry is found, so a directory reached twice fails there.
  const queue: { path: string; read: () => Promise<Uint8Array> }[] = [];
  const { rootRegion } = volume;
  if ("cluster" in rootRegion) queue.push({ path: "", read: directoryReader(volume, rootRegion.cluster, "", maxDirectoryClusters) });
  else queue.push({ path: "", read: () => source.read(rootRegion.offsetBytes, rootRegion.sizeBytes) });
  for (let index = 0; index < queue.length; index++) {
    const { path, read } = queue[index]!;
    const seen = new Set<string>();
    const { entries, labelMtime } = parseDirectory(await read());
    // The root has no entry of its own; gptimg's writer and mkfs.fat stamp the label entry with its time.
    if (path === "" && labelMtime !== undefined) builder.addDirectory("", meta(0o755, labelMtime));
    for (const entry of entries) {
      const childPath = path === "" ? entry.name : `${path}/${entry.name}`;
      if (entry.name === "" || entry.name === "." || entry.name === ".." || /[/\0]/.test(entry.name)) damaged(where, `/${path}: invalid entry name ${JSON.stringify(entry.name)}`);
      const key = collisionKey(entry.name);
      if (seen.has(key)) damaged(where, `/${childPath}: a second entry with this name (FAT names ignore case)`);
      seen.add(key);
      if (entry.isDirectory) {
        builder.addDirectory(childPath, meta(0o755, entry.mtime));
        queue.push({ path: childPath, read: directoryReader(volume, entry.firstCluster, childPath, maxDirectoryClusters) });
      } else {
        const clusters = Math.ceil(entry.sizeBytes / volume.clusterSizeBytes);
        if (clusters > volume.clusterCount) damaged(where, `/${childPath}: ${entry.sizeBytes} bytes do not fit in the volume's ${volume.clusterCount} clusters`);
        // An empty file owns no clusters (fatgen103: DIR_FstClus is 0); a stray cluster is ignored.
        const runs = clusters === 0 ? [] : followChain(volume, entry.firstCluster, clusters, childPath);
        builder.addFile(childPath, meta(0o644, entry.mtime), new FatFileSource(volume, runs, entry.sizeBytes, `${where}:/${childPath}`));
      }
    }
  }
  return { tree: builder.build(), fatType: volume.fatType, volumeId: volume.volumeId };
}

/** Claims a subdirectory's (or the FAT32 root's) cluster chain, at most 2 MiB, and returns how to read it. */
function directoryReader(volume: Volume, firstCluster: number, path: string, maxClusters: number): () => Promise<Uint8Array> {
  const runs = followChain(volume, firstCluster, undefined, path);
  const clusters = runs.reduce((sum, [, count]) => sum + count, 0);
  if (clusters > maxClusters) damaged(volume.where, `/${path}: the directory is larger than the 65536 entries FAT allows`);
  return () => readRuns(volume, runs, 0, clusters * volume.clusterSizeBytes);
}
