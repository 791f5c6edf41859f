/**
 * The one digest routine of dm-verity hash type 1: digest(salt ‖ block) for every block of a
 * buffer (formats.md §3.2; kernel verity.rst "salt is prepended"). Used by the hashing
 * workers (level 0), the main thread (upper levels, small inputs) and the verifier, so all
 * three agree byte for byte.
 */
import * as nodeCrypto from "node:crypto";
import type { VerityAlgorithm } from "./plan.js";

/**
 * Node ≥ 20.12 has the one-shot crypto.hash(), much cheaper per 4 KiB block than createHash()
 * because no Hash object is built; older Node 20 falls back. Its "latin1" string output costs
 * ~0.5 µs per call where "buffer" costs ~1.8 µs (measured on Node 20.20), so digests come back
 * as one char per byte and are copied out.
 */
const oneShot: ((algorithm: string, data: Uint8Array, encoding: "binary") => string) | undefined =
  typeof (nodeCrypto as { hash?: unknown }).hash === "function" ? nodeCrypto.hash : undefined;

/**
 * Hashes `floor(data.length / blockSize)` blocks. Digest k lands at k × slotBytes in the
 * result; slot bytes past the digest stay zero (type-1 padding to a power of two).
 */
export function hashBlocks(algorithm: VerityAlgorithm, salt: Uint8Array, data: Uint8Array, blockSize: number, slotBytes: number): Uint8Array {
  const blockCount = Math.floor(data.length / blockSize);
  const digests = new Uint8Array(blockCount * slotBytes);
  // One scratch record holds salt ‖ block, so each block costs one memcpy and one native call.
  const scratch = new Uint8Array(salt.length + blockSize);
  scratch.set(salt, 0);
  for (let index = 0; index < blockCount; index++) {
    scratch.set(data.subarray(index * blockSize, (index + 1) * blockSize), salt.length);
    digestInto(digests, index * slotBytes, algorithm, scratch);
  }
  return digests;
}

/**
 * Hashes `count` records laid out back to back, each already salt ‖ block (`recordBytes`
 * long): the level-0 batch layout, which saves the workers a copy per block.
 */
export function hashSaltedRecords(algorithm: VerityAlgorithm, records: Uint8Array, recordBytes: number, count: number, slotBytes: number): Uint8Array {
  const digests = new Uint8Array(count * slotBytes);
  for (let index = 0; index < count; index++) {
    digestInto(digests, index * slotBytes, algorithm, records.subarray(index * recordBytes, (index + 1) * recordBytes));
  }
  return digests;
}

function digestInto(digests: Uint8Array, offset: number, algorithm: VerityAlgorithm, input: Uint8Array): void {
  if (oneShot === undefined) {
    digests.set(nodeCrypto.createHash(algorithm).update(input).digest(), offset);
    return;
  }
  const digest = oneShot(algorithm, input, "binary");
  for (let byte = 0; byte < digest.length; byte++) digests[offset + byte] = digest.charCodeAt(byte);
}

/** Message a hashing worker receives; `records` arrives as a transferred buffer. */
export interface HashJob {
  readonly algorithm: VerityAlgorithm;
  readonly recordBytes: number;
  readonly count: number;
  readonly slotBytes: number;
  readonly records: Uint8Array;
}

/** A worker's answer: the digests, and the job's record buffer returned for reuse. */
export interface HashReply {
  readonly digests: Uint8Array;
  readonly records: Uint8Array;
}
