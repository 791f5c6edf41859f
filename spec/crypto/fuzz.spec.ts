/**
 * Damaged signatures and signature partitions (what `gptimg verify` reads from untrusted
 * images) give one-line GptimgErrors or findings, never crashes.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromHex } from "../../lib/core/bytes.js";
import { isGptimgError } from "../../lib/core/errors.js";
import { checkSignedData, parseSignedData } from "../../lib/crypto/cms-verify.js";
import { checkVeritySignaturePartition, parseVeritySignature, veritySignaturePartition } from "../../lib/formats/verity/signature.js";
import { oraclesAvailable } from "../support/oracles.js";
import { scratchDirectory } from "../formats/verity/support.js";
import { makeKeyPairs } from "./keys.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25) * 20;
const haveOracles = oraclesAvailable("openssl");
const scratch = scratchDirectory("gptimg-cms-fuzz-");
afterAll(() => scratch.remove());

const mutation = fc.record({ positions: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }), value: fc.integer({ min: 0, max: 255 }), truncate: fc.option(fc.double({ min: 0, max: 1, noNaN: true })) });

function mutate(bytes: Uint8Array, change: { positions: number[]; value: number; truncate: number | null }, limit = bytes.length): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (const position of change.positions) out[Math.floor(position * (limit - 1))] = change.value;
  return change.truncate === null ? out : out.subarray(0, Math.floor(change.truncate * out.length));
}

function onlyGptimgErrors(action: () => unknown): void {
  try {
    action();
  } catch (error) {
    if (!isGptimgError(error)) throw error;
    expect(error.message).not.toContain("\n");
  }
}

describe.skipIf(!haveOracles)("fuzzed signatures", () => {
  const pairs = haveOracles ? makeKeyPairs(scratch.path) : undefined!;
  const rootHash = fromHex("5438e1f03b11e30bb571d42ab041f98d5a53dd61c2c8a0d4cc3e5c4a1c8fbd09");
  const partition = veritySignaturePartition(rootHash, pairs.ec);
  const signature = parseVeritySignature(partition).signature;

  it("parseSignedData / checkSignedData on mutated DER", () => {
    fc.assert(fc.property(mutation, (change) => {
      const damaged = mutate(signature, change);
      onlyGptimgErrors(() => parseSignedData(damaged, "sig.der"));
      onlyGptimgErrors(() => checkSignedData(damaged, new Uint8Array(64), "sig.der"));
    }), { numRuns: RUNS });
  });

  it("checkVeritySignaturePartition on mutated partitions returns findings", () => {
    const jsonLength = partition.indexOf(0);
    fc.assert(fc.property(mutation, (change) => {
      const problems = checkVeritySignaturePartition(mutate(partition, change, jsonLength + 8), rootHash, pairs.ec.certificatePem);
      for (const problem of problems) expect(problem).not.toContain("\n");
    }), { numRuns: RUNS });
  });
});
