/**
 * Oracle python3-lz4 (liblz4's LZ4_decompress_safe): our LZ4 blocks, for random inputs built
 * from repeats, runs and noise at every level, decompress to the input; the end-of-block
 * rules (last 5 bytes literals, no match starting in the last 12) hold, since liblz4 refuses
 * blocks that break them. Compressible input gets smaller, and more so at higher levels.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compressLz4Block } from "../../lib/compress/lz4.js";
import { oraclesAvailable, run } from "../support/oracles.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);
const PYTHON = "/usr/bin/python3";
/** Reads length-prefixed (compressed, original size) pairs from stdin and prints 1 per block that round-trips. */
const DECODER = `
import sys, struct, lz4.block
data = sys.stdin.buffer.read(); at = 0; out = []
while at < len(data):
    clen, olen = struct.unpack_from("<II", data, at); at += 8
    block = data[at:at + clen]; at += clen
    original = data[at:at + olen]; at += olen
    try:
        out.append("1" if lz4.block.decompress(block, uncompressed_size=olen) == original else "0")
    except Exception as error:
        out.append("E")
print("".join(out))
`;

function decodeWithLiblz4(pairs: [Uint8Array, Uint8Array][]): string {
  const parts: Uint8Array[] = [];
  for (const [compressed, original] of pairs) {
    const header = new Uint8Array(8);
    new DataView(header.buffer).setUint32(0, compressed.length, true);
    new DataView(header.buffer).setUint32(4, original.length, true);
    parts.push(header, compressed, original);
  }
  const result = run(PYTHON, ["-c", DECODER], { input: Buffer.concat(parts) });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim();
}

/** Input made of pieces: literal noise, byte runs, and copies of earlier bytes (near and far). */
const inputArbitrary = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant("noise" as const), length: fc.integer({ min: 0, max: 300 }), seed: fc.nat() }),
    fc.record({ kind: fc.constant("run" as const), length: fc.integer({ min: 1, max: 2000 }), seed: fc.nat() }),
    fc.record({ kind: fc.constant("copy" as const), length: fc.integer({ min: 1, max: 600 }), seed: fc.nat() }),
  ),
  { maxLength: 40 },
).map((pieces) => {
  const bytes: number[] = [];
  for (const piece of pieces) {
    let state = piece.seed | 1;
    for (let index = 0; index < piece.length; index++) {
      if (piece.kind === "run") bytes.push(piece.seed & 0xff);
      else if (piece.kind === "noise" || bytes.length === 0) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        bytes.push(state >>> 24);
      } else bytes.push(bytes[bytes.length - 1 - (piece.seed % Math.min(bytes.length, 70_000))]!);
    }
  }
  return Uint8Array.from(bytes);
});

describe.skipIf(!oraclesAvailable("python3-lz4"))("LZ4 blocks against liblz4", () => {
  it("random inputs at random levels decompress to themselves", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(inputArbitrary, fc.integer({ min: 1, max: 12 })), { minLength: 1, maxLength: 20 }), (cases) => {
        const pairs = cases.map(([input, level]): [Uint8Array, Uint8Array] => [compressLz4Block(input, level), input]);
        expect(decodeWithLiblz4(pairs)).toBe("1".repeat(pairs.length));
      }),
      { numRuns: RUNS },
    );
  });

  it("edge sizes: empty, below and at the 13-byte minimum for a match, 64 KiB of zeros, a long-distance repeat", () => {
    const far = new Uint8Array(100_000);
    for (let index = 0; index < 50_000; index++) far[index] = (index * 7919) >>> 3;
    far.copyWithin(65_535, 0, 30_000);
    const inputs = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(12).fill(7), new Uint8Array(13).fill(7), new Uint8Array(65536), far];
    expect(decodeWithLiblz4(inputs.flatMap((input) => [1, 9].map((level): [Uint8Array, Uint8Array] => [compressLz4Block(input, level), input])))).toBe("1".repeat(inputs.length * 2));
  });

  it("compresses repetitive data, better with a longer search", () => {
    const text = new TextEncoder().encode(Array.from({ length: 3000 }, (_, index) => `line ${index % 97} of ${index % 13}\n`).join(""));
    const fast = compressLz4Block(text, 1).length;
    const thorough = compressLz4Block(text, 9).length;
    expect(fast).toBeLessThan(text.length / 2);
    expect(thorough).toBeLessThan(text.length / 6);
    expect(thorough).toBeLessThanOrEqual(fast);
  });
});
