/** Output never depends on worker count, batch size or how the data is chunked (style rule 7). */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildTree, parameters, sampleData } from "./support.js";

const RUNS = Math.max(3, Math.round(Number(process.env.GPTIMG_FC_RUNS ?? 25) / 2));

describe("VerityHasher determinism", () => {
  const data = sampleData(3 * 1024 * 1024 + 4096 * 3 + 100, 7, true);

  it("same root hash and image for concurrency 1, 2 and 8 (workers engaged)", async () => {
    const results = [];
    for (const concurrency of [1, 2, 8]) results.push(await buildTree(data, parameters(), { concurrency, batchBytes: 128 * 1024 }));
    for (const result of results.slice(1)) {
      expect(result.rootHash).toBe(results[0]!.rootHash);
      expect(Buffer.compare(result.image, results[0]!.image)).toBe(0);
    }
  });

  it("same result for random chunkings and batch sizes", async () => {
    const reference = await buildTree(data, parameters(), { concurrency: 1 });
    await fc.assert(fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 8 }),
      fc.constantFrom(4096, 65536, 1 << 20, 3 << 20),
      fc.integer({ min: 1, max: 4 }),
      async (chunkSizes, batchBytes, concurrency) => {
        const result = await buildTree(data, parameters(), { chunkSizes, batchBytes, concurrency });
        expect(result.rootHash).toBe(reference.rootHash);
        expect(Buffer.compare(result.image, reference.image)).toBe(0);
      },
    ), { numRuns: RUNS });
  });
});
