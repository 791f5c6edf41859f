/**
 * Block codecs: what they produce is what the kernel's decompressors read (a zlib stream for
 * "gzip", one zstd frame for zstd), levels are validated, and the worker pool returns either
 * smaller compressed bytes or the block itself, in submission order.
 */
import { spawnSync } from "node:child_process";
import { inflateSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadCodec, resolveLevel } from "../../lib/compress/codec.js";
import { CompressionPool } from "../../lib/compress/pool.js";
import { zstdCompressBound } from "../../lib/compress/zstd.js";
import { GptimgError } from "../../lib/core/errors.js";
import { seededBytes } from "../formats/squashfs/support/synthetic-tree.js";
import { oraclesAvailable } from "../support/oracles.js";

const text = new TextEncoder().encode("squashfs block ".repeat(5000));

describe("codecs", () => {
  it("gzip writes a zlib stream (RFC 1950 header) that inflates back", async () => {
    const codec = await loadCodec("gzip");
    const compressed = codec.compress(text, 9);
    expect(compressed[0]).toBe(0x78);
    expect(new Uint8Array(inflateSync(compressed))).toEqual(text);
  });

  it.skipIf(!oraclesAvailable("zstd"))("zstd writes one frame that the zstd tool decompresses back", async () => {
    const codec = await loadCodec("zstd");
    const compressed = codec.compress(text, 15);
    expect([...compressed.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    const decompressed = spawnSync("zstd", ["-d", "-c", "-q"], { input: compressed });
    expect(decompressed.status).toBe(0);
    expect(new Uint8Array(decompressed.stdout)).toEqual(text);
  });

  it("zstdCompressBound covers what the codec writes for incompressible blocks of any size", async () => {
    const codec = await loadCodec("zstd");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300_000 }), fc.integer({ min: 1, max: 1_000_000 }), (size, seed) => {
        const block = seededBytes(size, seed, false);
        expect(codec.compress(block, 3).length).toBeLessThanOrEqual(zstdCompressBound(size));
      }),
      { numRuns: 60 },
    );
  });

  it("rejects levels outside the codec's range with a one-line error", async () => {
    const zstd = await loadCodec("zstd");
    expect(resolveLevel(zstd, undefined, "x")).toBe(15);
    expect(() => resolveLevel(zstd, 23, "part.level")).toThrow(GptimgError);
    expect(() => resolveLevel(zstd, 2.5, "part.level")).toThrow(/part\.level: compression level 2\.5 is outside 1\.\.22 for zstd/);
  });
});

describe("CompressionPool", () => {
  it("returns compressed bytes or the raw block, in submission order, for any worker count", async () => {
    for (const workers of [1, 3]) {
      const pool = new CompressionPool("gzip", 6, workers);
      try {
        const blocks = Array.from({ length: 12 }, (_, index) => (index % 3 === 0 ? seededBytes(4096 + index, 1, false) : text.slice(index)));
        const replies = await Promise.all(blocks.map((block) => pool.compress(block.slice())));
        replies.forEach((reply, index) => {
          const original = blocks[index]!;
          if (reply.compressed) {
            expect(reply.bytes.length).toBeLessThan(original.length);
            expect(new Uint8Array(inflateSync(reply.bytes))).toEqual(original);
          } else {
            expect(reply.bytes).toEqual(original);
          }
          expect(reply.compressed).toBe(index % 3 !== 0);
        });
      } finally {
        await pool.close();
      }
    }
  });
});
