/**
 * Output never depends on the number of compression workers or on how file contents are
 * chunked when read: byte-identical images for concurrency 1, 2 and 8 and several read chunk
 * sizes, for every codec. Also checks the BlockSink contract (everything after the superblock
 * in increasing, contiguous offsets; the superblock written once, last).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { writeSquashfs, type SquashfsOptions } from "../../../lib/formats/squashfs/write.js";
import { CheckingMemorySink } from "./support/memory-sink.js";
import { syntheticTree } from "./support/synthetic-tree.js";

const BLOCK_BYTES = 4096;

async function imageDigest(options: SquashfsOptions, baseOffset = 0): Promise<{ digest: string; sink: CheckingMemorySink }> {
  const sink = new CheckingMemorySink(baseOffset);
  const result = await writeSquashfs(syntheticTree(BLOCK_BYTES), options, sink, baseOffset);
  const bytes = sink.bytes().subarray(baseOffset);
  expect(bytes.length).toBe(result.sizeBytes);
  return { digest: createHash("sha256").update(bytes).digest("hex"), sink };
}

describe("squashfs determinism", () => {
  for (const compression of ["gzip", "zstd", "none"] as const) {
    it(`${compression}: identical for concurrency 1, 2, 8 and any read chunking`, async () => {
      const base = { compression, blockSize: BLOCK_BYTES, sourceDateEpoch: 1_700_000_000 };
      const reference = await imageDigest({ ...base, concurrency: 1 });
      expect(reference.sink.superblockWrites).toBe(1);
      expect(reference.sink.writesAfterSuperblock).toBe(0);
      for (const variant of [
        { concurrency: 2 },
        { concurrency: 8 },
        { concurrency: 2, readChunkBytes: 1000 },
        { concurrency: 2, readChunkBytes: 3 * BLOCK_BYTES + 1 },
        { concurrency: 1, readChunkBytes: 1 },
      ]) {
        expect((await imageDigest({ ...base, ...variant })).digest, JSON.stringify(variant)).toBe(reference.digest);
      }
    });
  }

  it("writes the same bytes at a base offset", async () => {
    const options = { compression: "gzip" as const, blockSize: BLOCK_BYTES, concurrency: 2 };
    expect((await imageDigest(options, 1_048_576)).digest).toBe((await imageDigest(options)).digest);
  });
});
