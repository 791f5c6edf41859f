/** Output never depends on worker count, batch size or how the data is chunked (style rule 7). */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { toHex } from "../../../lib/core/bytes.js";
import { VerityHasher } from "../../../lib/formats/verity/build.js";
import { MemorySink, TeeSink } from "../../../lib/io/stream.js";
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

  it("hashes data teed from a partition writer in the same pass (no second read)", async () => {
    const image = new MemorySink();
    const hasher = new VerityHasher(parameters(), { concurrency: 2, batchBytes: 256 * 1024 });
    const writer = new TeeSink([image, hasher]);
    for (let offset = 0; offset < data.length; offset += 100_000) await writer.write(data.subarray(offset, offset + 100_000));
    const result = await hasher.finish();
    const reference = await buildTree(data, parameters(), { concurrency: 1 });
    expect(toHex(result.rootHash)).toBe(reference.rootHash);
    expect(Buffer.compare(image.bytes(), data)).toBe(0);
  });
});
