/**
 * planFat invariants (pure, no writing): contiguous allocation inside the volume, FSInfo-style
 * accounting, and that an automatically chosen size is the smallest grain multiple that fits.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planFat, volumeIdFromUuid, type FatPlan } from "../../../lib/formats/fat/plan.js";
import type { FatType } from "../../../lib/formats/fat/geometry.js";
import { ZeroSource } from "../../../lib/io/source.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { FILE_META } from "./support.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);
const MiB = 1024 * 1024;

const treeArbitrary = fc.record({
  files: fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 400 }), fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 6 * MiB }))), { maxLength: 120 }),
  emptyDirs: fc.integer({ min: 0, max: 30 }),
});

function buildTree({ files, emptyDirs }: fc.RecordValue<{ files: [number, number, number][]; emptyDirs: number }>) {
  const builder = new TreeBuilder();
  files.forEach(([dir, name, size], index) => builder.addFile(`d${dir}/sub ${dir % 3}/file with long name ${name}-${index}.bin`, FILE_META, new ZeroSource(size)));
  for (let index = 0; index < emptyDirs; index++) builder.addDirectory(`empty/${index}`, FILE_META);
  return builder.build();
}

function checkPlan(plan: FatPlan): void {
  const { geometry } = plan;
  let next = 2;
  for (const run of plan.runs) {
    expect(run.firstCluster).toBe(next);
    expect(run.clusterCount).toBeGreaterThan(0);
    if (run.kind === "file") expect(run.clusterCount).toBe(Math.ceil(run.file.size / geometry.clusterSizeBytes));
    else expect(run.clusterCount * geometry.clusterSizeBytes).toBeGreaterThanOrEqual(run.directory.slotCount * 32);
    next += run.clusterCount;
  }
  expect(plan.usedClusters).toBe(next - 2);
  expect(plan.usedClusters + plan.freeClusters).toBe(geometry.clusterCount);
  expect(plan.freeClusters).toBeGreaterThanOrEqual(0);
  expect((geometry.firstDataSector + geometry.clusterCount * geometry.sectorsPerCluster) * geometry.sectorSizeBytes).toBeLessThanOrEqual(plan.sizeBytes);
}

const fits = (options: Parameters<typeof planFat>[0]) => {
  try {
    planFat(options);
    return true;
  } catch {
    return false;
  }
};

describe("planFat", () => {
  for (const [fatType, sectorSize] of [[32, 512], [32, 4096], [16, 512], [12, 512]] as [FatType, 512 | 4096][]) {
    it(`FAT${fatType}/${sectorSize}: the automatic size is the smallest 4 KiB multiple that fits, and allocation is contiguous`, () => {
      fc.assert(fc.property(treeArbitrary, (shape) => {
        const tree = buildTree(shape);
        const base = { tree, fatType, sectorSize, label: "esp", volumeId: 1 };
        let plan: FatPlan;
        try {
          plan = planFat(base);
        } catch (error) {
          // FAT12 tops out around 256 MiB; only that may refuse.
          expect(fatType).toBe(12);
          expect(String(error)).toMatch(/does not fit/);
          return;
        }
        checkPlan(plan);
        expect(plan.sizeBytes % 4096).toBe(0);
        for (let back = 1; back <= 24 && plan.sizeBytes - back * 4096 > 0; back++) {
          expect(fits({ ...base, sizeBytes: plan.sizeBytes - back * 4096 })).toBe(false);
        }
        checkPlan(planFat({ ...base, sizeBytes: plan.sizeBytes + 12345 * 4096 }));
      }), { numRuns: RUNS * 2 });
    });
  }

  it("derives the volume ID from the fs UUID like repart (formats.md §2.1 golden: 5739-C63F)", () => {
    expect(volumeIdFromUuid("5739c63f-aa2f-465b-b8da-bae50b7d9d59")).toBe(0x5739c63f);
    expect(() => volumeIdFromUuid("not-a-uuid")).toThrow(/not a UUID/);
  });

  it("honours the ESP minimum and the grain", () => {
    const tree = buildTree({ files: [[1, 1, 10]], emptyDirs: 0 });
    expect(planFat({ tree, sectorSize: 512, label: "", volumeId: 0, minSizeBytes: 100 * MiB }).sizeBytes).toBe(100 * MiB);
    expect(planFat({ tree, sectorSize: 4096, label: "", volumeId: 0, minSizeBytes: 260 * MiB }).sizeBytes).toBe(260 * MiB);
    expect(planFat({ tree, sectorSize: 512, label: "", volumeId: 0, minSizeBytes: 100 * MiB + 1 }).sizeBytes).toBe(100 * MiB + 4096);
  });
});
