/**
 * The one digest routine of dm-verity hash type 1: digest(salt ‖ block) for every block of a
 * buffer (formats.md §3.2; kernel verity.rst "salt is prepended"). Used by the hashing
 * workers and the main thread (level 0, upper levels, small inputs) and by the verifier, so
 * all of them agree byte for byte.
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
 * result; slot bytes past the digest stay zero (type-1 padding to a power of two). With
 * `zeroDigest` (digest(salt ‖ zero block)), all-zero blocks take it without being hashed.
 */
export function hashBlocks(algorithm: VerityAlgorithm, salt: Uint8Array, data: Uint8Array, blockSize: number, slotBytes: number, zeroDigest?: Uint8Array): Uint8Array {
  const blockCount = Math.floor(data.length / blockSize);
  const digests = new Uint8Array(blockCount * slotBytes);
  // One scratch record holds salt ‖ block, the block word-aligned for the zero check, so
  // each block costs one memcpy (into cache, where the hash then reads it) and one native call.
  const headroomBytes = leafHeadroomBytes(salt);
  const scratch = new Uint8Array(headroomBytes + blockSize);
  scratch.set(salt, headroomBytes - salt.length);
  const record = scratch.subarray(headroomBytes - salt.length);
  const words = new Uint32Array(scratch.buffer, headroomBytes, blockSize / 4);
  for (let index = 0; index < blockCount; index++) {
    scratch.set(data.subarray(index * blockSize, (index + 1) * blockSize), headroomBytes);
    if (zeroDigest !== undefined && isZeroRange(words, 0, words.length)) digests.set(zeroDigest, index * slotBytes);
    else digestInto(digests, index * slotBytes, algorithm, record);
  }
  return digests;
}

/** How level-0 data blocks are hashed; the same for every batch of one tree. */
export interface LeafHashing {
  readonly algorithm: VerityAlgorithm;
  readonly salt: Uint8Array;
  /** Bytes in front of a batch's first block: the salt length rounded up to 4 (see below). */
  readonly headroomBytes: number;
  readonly blockSize: number;
  readonly slotBytes: number;
  /** digest(salt ‖ zero block): all-zero blocks (sparse tails, empty space) take it unhashed. */
  readonly zeroDigest: Uint8Array;
}

/**
 * A level-0 batch: `headroomBytes` (at least the salt, rounded up to 4 so the data is
 * word-aligned for the zero check) followed by `count` whole data blocks back to back. The
 * producer's bytes are copied in with one memcpy per write, and no block is copied again.
 */
export interface LeafBatch extends LeafHashing {
  readonly count: number;
  readonly bytes: Uint8Array;
}

export function leafHeadroomBytes(salt: Uint8Array): number {
  return Math.ceil(salt.length / 4) * 4;
}

/**
 * Hashes the blocks of a batch in order. For block k the salt is written over the bytes just
 * before it — the tail of block k − 1, already hashed — so salt ‖ block is contiguous in place.
 * This overwrites the batch's data; its digests do not change. A zero block is recognised
 * before its own bytes are touched. Digest k goes to k × slotBytes in `digests`.
 */
export function hashLeafBatch(batch: LeafBatch, digests: Uint8Array): void {
  const { algorithm, salt, headroomBytes, blockSize, slotBytes, zeroDigest, count, bytes } = batch;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + headroomBytes, (count * blockSize) / 4);
  const blockWords = blockSize / 4;
  for (let index = 0; index < count; index++) {
    const start = headroomBytes + index * blockSize;
    if (isZeroRange(words, index * blockWords, blockWords)) {
      digests.set(zeroDigest, index * slotBytes);
      continue;
    }
    bytes.set(salt, start - salt.length);
    digestInto(digests, index * slotBytes, algorithm, bytes.subarray(start - salt.length, start + blockSize));
  }
}

function isZeroRange(words: Uint32Array, first: number, count: number): boolean {
  for (let index = first; index < first + count; index++) if (words[index] !== 0) return false;
  return true;
}

function digestInto(digests: Uint8Array, offset: number, algorithm: VerityAlgorithm, input: Uint8Array): void {
  if (oneShot === undefined) {
    digests.set(nodeCrypto.createHash(algorithm).update(input).digest(), offset);
    return;
  }
  const digest = oneShot(algorithm, input, "binary");
  for (let byte = 0; byte < digest.length; byte++) digests[offset + byte] = digest.charCodeAt(byte);
}
