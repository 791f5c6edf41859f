/** Verity planner: level sizes vs the formula of formats.md §3.2, repart's estimate, errors. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { digestLayout, planVerity, repartVerityHashSizeBytes, type VerityAlgorithm } from "../../../lib/formats/verity/plan.js";
import { SUPERBLOCK_FIELDS } from "../../../lib/formats/verity/layout.js";
import { isGptimgError } from "../../../lib/core/errors.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25) * 8;
const sha256 = (dataBlockSize = 4096, hashBlockSize = 4096) => ({ dataBlockSize, hashBlockSize, algorithm: "sha256" as const });

describe("planVerity", () => {
  it("matches the sizes veritysetup produced in formats.md §3.2 (VERIFIED there)", () => {
    expect(planVerity(300 * 4096, sha256()).hashImageSizeBytes).toBe(20480);
    expect(planVerity(300 * 4096, sha256()).levels.map((level) => level.blockCount)).toEqual([3, 1]);
    expect(planVerity(129 * 4096, sha256()).hashImageSizeBytes).toBe(16384);
    expect(planVerity(4096, sha256()).hashImageSizeBytes).toBe(4096);
    expect(planVerity(4096, sha256()).levels).toEqual([]);
  });

  it("stores levels top first right after the superblock block", () => {
    const plan = planVerity(5000 * 512, sha256(512, 512));
    expect(plan.levels.map((level) => level.blockCount)).toEqual([313, 20, 2, 1]);
    expect(plan.levels.map((level) => level.offsetBytes / 512)).toEqual([1 + 1 + 2 + 20, 1 + 1 + 2, 1 + 1, 1]);
  });

  it("ignores a trailing partial data block", () => {
    expect(planVerity(2 * 4096 + 4095, sha256()).dataBlocks).toBe(2);
  });

  it("digest slots fill hash blocks exactly for every algorithm and block size", () => {
    for (const algorithm of ["sha1", "sha256", "sha512"] as VerityAlgorithm[]) {
      for (const hashBlockSize of [512, 1024, 2048, 4096]) {
        const layout = digestLayout(hashBlockSize, algorithm);
        expect(layout.digestsPerBlock * layout.digestSlotBytes).toBe(hashBlockSize);
      }
    }
    expect(digestLayout(4096, "sha1")).toEqual({ digestSizeBytes: 20, digestSlotBytes: 32, digestsPerBlock: 128 });
  });

  it("level sizes follow ceil(N / P^(i+1)) with one top block (sweep)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 2 ** 40 }), fc.constantFrom(512, 1024, 2048, 4096), fc.constantFrom(512, 1024, 2048, 4096), fc.constantFrom<VerityAlgorithm>("sha1", "sha256", "sha512"),
      (dataBlocks, dataBlockSize, hashBlockSize, algorithm) => {
        const plan = planVerity(dataBlocks * dataBlockSize, { dataBlockSize, hashBlockSize, algorithm });
        expect(plan.dataBlocks).toBe(dataBlocks);
        let expected = dataBlocks;
        plan.levels.forEach((level, index) => {
          expected = Math.ceil(expected / plan.digestsPerBlock);
          expect(level.blockCount).toBe(expected);
          expect(level.level).toBe(index);
        });
        if (dataBlocks > 1) expect(plan.levels.at(-1)!.blockCount).toBe(1);
        const total = plan.levels.reduce((sum, level) => sum + level.blockCount, plan.superblockBlocks);
        expect(plan.hashImageSizeBytes).toBe(total * hashBlockSize);
        // repart's estimate never undercuts the exact size for sha256 (it sizes partitions).
        if (algorithm === "sha256") expect(repartVerityHashSizeBytes(dataBlocks * dataBlockSize, hashBlockSize, dataBlockSize)).toBeGreaterThanOrEqual(plan.hashImageSizeBytes);
      },
    ), { numRuns: RUNS });
  });

  it("rejects bad block sizes, algorithms and empty data with one-line GptimgErrors", () => {
    const bad: [number, Parameters<typeof planVerity>[1]][] = [
      [4096, { dataBlockSize: 3000, hashBlockSize: 4096, algorithm: "sha256" }],
      [4096, { dataBlockSize: 4096, hashBlockSize: 8192, algorithm: "sha256" }],
      [4096, { dataBlockSize: 4096, hashBlockSize: 4096, algorithm: "md5" as VerityAlgorithm }],
      [4095, sha256()],
    ];
    for (const [size, parameters] of bad) {
      try {
        planVerity(size, parameters, "partitions[2].verity");
        expect.unreachable();
      } catch (error) {
        expect(isGptimgError(error)).toBe(true);
        expect((error as Error).message).toMatch(/^partitions\[2\]\.verity/);
        expect((error as Error).message).not.toContain("\n");
      }
    }
  });
});

describe("repartVerityHashSizeBytes", () => {
  it("matches systemd TEST-58-REPART: 10 GiB at 4096/4096 → 84557824 bytes", () => {
    expect(repartVerityHashSizeBytes(10 * 1024 ** 3, 4096, 4096)).toBe(84557824);
  });
  it("counts superblock + root even for tiny data", () => {
    expect(repartVerityHashSizeBytes(4096, 4096, 4096)).toBe(2 * 4096);
  });
});

describe("superblock layout", () => {
  it("fields tile exactly 512 bytes without overlap", () => {
    const fields = Object.values(SUPERBLOCK_FIELDS).sort((left, right) => left[0] - right[0]);
    let next = 0;
    for (const [offset, length] of fields) {
      expect(offset).toBe(next);
      next = offset + length;
    }
    expect(next).toBe(512);
  });
});
