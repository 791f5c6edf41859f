/**
 * FAT geometry: invariant sweep over volume sizes 1 MiB … 2 TiB (pure, as rust-fatfs sweeps its
 * layout), and the mkfs.fat cross-check — for the same size, sector size, FAT type, volume ID and
 * label, our BPB/EBPB bytes must equal the ones mkfs.fat 4.2 writes.
 */
import { closeSync, openSync, readFileSync, readSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { FAT16_MIN_CLUSTERS, FAT32_MIN_CLUSTERS, fatGeometry, isRefusal, type FatType } from "../../../lib/formats/fat/geometry.js";
import { EBPB16, EBPB32, encodeBootSector } from "../../../lib/formats/fat/layout.js";
import { buildImage } from "./support.js";
import { volumeLabel } from "../../../lib/formats/fat/names.js";
import { oraclesAvailable, run } from "../../support/oracles.js";
import { removeDir, scratchDir } from "./support.js";
import { DEFAULT_DIR_META, TreeBuilder } from "../../../lib/tree/builder.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);

const LIMITS: Record<FatType, { min: number; max: number; bits: number }> = {
  12: { min: 1, max: 4084, bits: 12 },
  16: { min: FAT16_MIN_CLUSTERS, max: 65524, bits: 16 },
  32: { min: FAT32_MIN_CLUSTERS, max: 0x0ffffff5, bits: 32 },
};

function checkInvariants(sizeBytes: number, sectorSize: number, fatType: FatType): boolean {
  const geometry = fatGeometry(sizeBytes, sectorSize, fatType);
  if (isRefusal(geometry)) return false;
  const limits = LIMITS[fatType];
  // fatgen103 "FAT Type Determination": the count decides the type.
  expect(geometry.clusterCount).toBeGreaterThanOrEqual(limits.min);
  expect(geometry.clusterCount).toBeLessThanOrEqual(limits.max);
  // The FAT holds an entry for every cluster plus the two reserved ones.
  expect(Math.floor((geometry.sectorsPerFat * sectorSize * 8) / limits.bits)).toBeGreaterThanOrEqual(geometry.clusterCount + 2);
  // Data fits inside the volume, and the volume inside the partition and BPB_TotSec32.
  expect(geometry.firstDataSector + geometry.clusterCount * geometry.sectorsPerCluster).toBeLessThanOrEqual(geometry.totalSectors);
  expect(geometry.totalSectors * sectorSize).toBeLessThanOrEqual(sizeBytes);
  expect(geometry.totalSectors).toBeLessThanOrEqual(0xffffffff);
  // Nothing wasted: one more cluster would not fit (rounding of the FAT aside).
  const slackSectors = geometry.totalSectors - geometry.firstDataSector - geometry.clusterCount * geometry.sectorsPerCluster;
  expect(slackSectors).toBeLessThan(geometry.sectorsPerCluster * (1 + 2 * geometry.sectorsPerCluster) + geometry.sectorsPerTrack);
  expect(geometry.reservedSectors).toBeGreaterThanOrEqual(fatType === 32 ? 32 : 1);
  expect(Number.isInteger(Math.log2(geometry.sectorsPerCluster))).toBe(true);
  expect(geometry.sectorsPerCluster).toBeLessThanOrEqual(128);
  if (geometry.totalSectors > 8192) expect(geometry.firstDataSector % geometry.sectorsPerCluster).toBe(0);
  if (fatType === 32) expect(geometry.rootEntryCount).toBe(0);
  else expect((geometry.rootEntryCount * 32) % sectorSize).toBe(0);
  return true;
}

describe("FAT geometry sweep 1 MiB … 2 TiB", () => {
  for (const sectorSize of [512, 4096]) {
    for (const fatType of [12, 16, 32] as const) {
      it(`FAT${fatType}, ${sectorSize}-byte sectors: legal cluster counts, FAT holds every cluster, data fits`, () => {
        let valid = 0;
        for (let size = MiB; size <= 2 * TiB; size *= 2) {
          for (const factor of [1, 1.1, 1.37, 1.5, 1.93]) {
            const sizeBytes = Math.floor((size * factor) / 4096) * 4096;
            if (sizeBytes <= 2 * TiB && checkInvariants(sizeBytes, sectorSize, fatType)) valid++;
          }
        }
        fc.assert(fc.property(fc.integer({ min: 256, max: (2 * TiB) / 4096 }), (grains) => {
          checkInvariants(grains * 4096, sectorSize, fatType);
        }), { numRuns: RUNS * 40 });
        expect(valid).toBeGreaterThan(0);
      });
    }
  }

  it("FAT32 exists from about 33 MiB (512-byte sectors) and 257 MiB (4096) up to 2 TiB", () => {
    expect(isRefusal(fatGeometry(32 * MiB, 512, 32))).toBe(true);
    expect(isRefusal(fatGeometry(34 * MiB, 512, 32))).toBe(false);
    expect(isRefusal(fatGeometry(256 * MiB, 4096, 32))).toBe(true);
    expect(isRefusal(fatGeometry(258 * MiB, 4096, 32))).toBe(false);
    expect(isRefusal(fatGeometry(2 * TiB, 512, 32))).toBe(false);
    expect(isRefusal(fatGeometry(2 * TiB, 4096, 32))).toBe(false);
  });
});

const MKFS_CASES: { sizeBytes: number; sectorSize: 512 | 4096; fatType: FatType }[] = [
  ...[34 * MiB, 100 * MiB, 128 * MiB, 260 * MiB, 261 * MiB, 300 * MiB, GiB, 8 * GiB + MiB, 20 * GiB, 40 * GiB].map((sizeBytes) => ({ sizeBytes, sectorSize: 512 as const, fatType: 32 as const })),
  ...[258 * MiB, 260 * MiB, 300 * MiB, GiB, 9000 * MiB, 300 * GiB].map((sizeBytes) => ({ sizeBytes, sectorSize: 4096 as const, fatType: 32 as const })),
  ...[3 * MiB, 16 * MiB, 100 * MiB, 500 * MiB, 2 * GiB].map((sizeBytes) => ({ sizeBytes, sectorSize: 512 as const, fatType: 16 as const })),
  ...[MiB, 4 * MiB, 8 * MiB + 4096].map((sizeBytes) => ({ sizeBytes, sectorSize: 512 as const, fatType: 12 as const })),
  { sizeBytes: 64 * MiB, sectorSize: 4096, fatType: 16 },
];

describe.skipIf(!oraclesAvailable("mkfs.fat"))("FAT geometry equals mkfs.fat 4.2", () => {
  const dir = scratchDir("mkfs");
  afterAll(() => removeDir(dir));

  for (const { sizeBytes, sectorSize, fatType } of MKFS_CASES) {
    it(`${sizeBytes} bytes, ${sectorSize}-byte sectors, FAT${fatType}: BPB bytes identical (or both refuse)`, () => {
      const image = join(dir, `mkfs-${sizeBytes}-${sectorSize}-${fatType}.img`);
      writeFileSync(image, "");
      truncateSync(image, sizeBytes);
      const mkfs = run("mkfs.fat", ["-F", String(fatType), "-S", String(sectorSize), "-i", "5739c63f", "-n", "ESP", image]);
      const geometry = fatGeometry(sizeBytes, sectorSize, fatType);
      if (mkfs.status !== 0) {
        removeDir(image);
        expect(mkfs.stderr).toMatch(/too small|too large|clusters/);
        expect(isRefusal(geometry)).toBe(true);
        return;
      }
      const theirs = new Uint8Array(512);
      const handle = openSync(image, "r");
      readSync(handle, theirs, 0, 512, 0);
      closeSync(handle);
      removeDir(image);
      if (isRefusal(geometry)) throw new Error(geometry.refused);
      const ours = encodeBootSector({ geometry, volumeId: 0x5739c63f, volumeLabel: volumeLabel("ESP").bytes });
      // Everything from BPB_BytsPerSec to BS_FilSysType: geometry, CHS, IDs, label, type.
      // Not compared: jump/OEM name ("mkfs.fat" vs "MSWIN4.1") and the boot code.
      const end = fatType === 32 ? 90 : 62;
      expect(Buffer.from(ours.subarray(11, end)).toString("hex")).toBe(Buffer.from(theirs.subarray(11, end)).toString("hex"));
    });
  }
});

describe.skipIf(!oraclesAvailable("mkfs.fat"))("an empty volume is byte-identical to mkfs.fat --invariant", () => {
  const dir = scratchDir("mkfs-empty");
  afterAll(() => removeDir(dir));

  for (const { sizeBytes, sectorSize, fatType } of [
    { sizeBytes: 100 * MiB, sectorSize: 512, fatType: 32 },
    { sizeBytes: 260 * MiB, sectorSize: 4096, fatType: 32 },
    { sizeBytes: 300 * MiB + 12 * 4096, sectorSize: 512, fatType: 32 },
    { sizeBytes: 100 * MiB, sectorSize: 512, fatType: 16 },
    { sizeBytes: 4 * MiB, sectorSize: 512, fatType: 12 },
  ] as const) {
    it(`${sizeBytes} bytes, ${sectorSize}-byte sectors, FAT${fatType}: all bytes but the OEM name and boot code`, async () => {
      const theirs = join(dir, `theirs-${sizeBytes}-${fatType}.img`);
      writeFileSync(theirs, "");
      truncateSync(theirs, sizeBytes);
      // --invariant first: it also sets a volume ID, which -i then overrides, and stamps the
      // label entry 2015-03-14 09:26:53 UTC (1426325213), which we give our root directory.
      const mkfs = run("mkfs.fat", ["--invariant", "-F", String(fatType), "-S", String(sectorSize), "-i", "5739c63f", "-n", "ESP", theirs]);
      expect(mkfs.status, mkfs.stderr).toBe(0);
      const ours = join(dir, `ours-${sizeBytes}-${fatType}.img`);
      const tree = new TreeBuilder({ ...DEFAULT_DIR_META, mtime: 1426325213 }).build();
      await buildImage({ tree, sizeBytes, sectorSize, fatType, label: "esp", volumeId: 0x5739c63f }, ours);
      const mine = readFileSync(ours);
      const reference = readFileSync(theirs);
      expect(mine.length).toBe(reference.length);
      const bootCode = fatType === 32 ? EBPB32.BootCode : EBPB16.BootCode;
      const backups = fatType === 32 ? [0, 6 * sectorSize] : [0];
      for (const base of backups) {
        for (const [from, to] of [[base, base + 11], [base + bootCode[0], base + bootCode[0] + bootCode[1]]]) {
          mine.fill(0, from, to);
          reference.fill(0, from, to);
        }
      }
      if (!mine.equals(reference)) {
        let at = 0;
        while (mine.subarray(at, at + 4096).equals(reference.subarray(at, at + 4096))) at += 4096;
        throw new Error(`images differ in the 4 KiB block at byte ${at}`);
      }
      removeDir(ours);
      removeDir(theirs);
    });
  }
});
