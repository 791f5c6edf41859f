/**
 * The one digest routine of dm-verity hash type 1: digest(salt ‖ block) for every block of a
 * buffer (formats.md §3.2; kernel verity.rst "salt is prepended"). Used by the hashing
 * workers (level 0), the main thread (upper levels, small inputs) and the verifier, so all
 * three agree byte for byte.
 */
import * as nodeCrypto from "node:crypto";
import type { VerityAlgorithm } from "./plan.js";

/**
 * Node ≥ 20.12 has the one-shot crypto.hash(), about twice as fast per 4 KiB block as
 * createHash() because no Hash object is built; older Node 20 falls back.
 */
const oneShot: ((algorithm: string, data: Uint8Array, encoding: "buffer") => Uint8Array) | undefined =
  typeof (nodeCrypto as { hash?: unknown }).hash === "function" ? nodeCrypto.hash : undefined;

/**
 * Hashes `floor(data.length / blockSize)` blocks. Digest k lands at k × slotBytes in the
 * result; slot bytes past the digest stay zero (type-1 padding to a power of two).
 */
export function hashBlocks(algorithm: VerityAlgorithm, salt: Uint8Array, data: Uint8Array, blockSize: number, slotBytes: number): Uint8Array {
  const blockCount = Math.floor(data.length / blockSize);
  const digests = new Uint8Array(blockCount * slotBytes);
  if (oneShot === undefined) {
    for (let index = 0; index < blockCount; index++) {
      const block = data.subarray(index * blockSize, (index + 1) * blockSize);
      digests.set(nodeCrypto.createHash(algorithm).update(salt).update(block).digest(), index * slotBytes);
    }
    return digests;
  }
  // One scratch buffer holds salt ‖ block, so each block costs one memcpy and one native call.
  const scratch = new Uint8Array(salt.length + blockSize);
  scratch.set(salt, 0);
  for (let index = 0; index < blockCount; index++) {
    scratch.set(data.subarray(index * blockSize, (index + 1) * blockSize), salt.length);
    digests.set(oneShot(algorithm, scratch, "buffer"), index * slotBytes);
  }
  return digests;
}

/** Message a hashing worker receives; `data` arrives as a transferred buffer. */
export interface HashJob {
  readonly algorithm: VerityAlgorithm;
  readonly salt: Uint8Array;
  readonly blockSize: number;
  readonly slotBytes: number;
  readonly data: Uint8Array;
}
