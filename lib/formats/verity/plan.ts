/**
 * dm-verity geometry: pure size algebra for the hash device (formats.md §3.2, kernel
 * Documentation/admin-guide/device-mapper/verity.rst "Hash tree", cryptsetup
 * lib/verity/verity_hash.c). No I/O; the builder and the verifier both start from here.
 */
import { ErrorCode, fail } from "../../core/errors.js";
import { assertSafe, divCeil, isPow2, log2Exact } from "../../core/int.js";

export type VerityAlgorithm = "sha256" | "sha1" | "sha512";

export const DIGEST_SIZE_BYTES: Readonly<Record<VerityAlgorithm, number>> = { sha1: 20, sha256: 32, sha512: 64 };

/** The veritysetup superblock is 512 bytes (formats.md §3.1). */
export const SUPERBLOCK_SIZE_BYTES = 512;

/** repart accepts VerityDataBlockSizeBytes=/VerityHashBlockSizeBytes= in 512…4096 (formats.md §2.3). */
export const MIN_BLOCK_SIZE_BYTES = 512;
export const MAX_BLOCK_SIZE_BYTES = 4096;

export interface VerityParameters {
  readonly dataBlockSize: number;
  readonly hashBlockSize: number;
  readonly algorithm: VerityAlgorithm;
}

export interface VerityLevel {
  /** 0 = leaf level (digests of data blocks); the highest index is the single top block. */
  readonly level: number;
  readonly blockCount: number;
  /** Where the level starts in the hash image (bytes, superblock block included). */
  readonly offsetBytes: number;
}

export interface VerityPlan extends VerityParameters {
  /** Data blocks covered: floor(dataSizeBytes / dataBlockSize); a trailing partial block is not. */
  readonly dataBlocks: number;
  readonly digestSizeBytes: number;
  /**
   * Bytes one digest occupies in a hash block. Hash type 1 pads each digest to the next power
   * of two (verity_hash.c `digest_size_full`; sha1 20 → 32), so sha1/sha256 share a slot size.
   */
  readonly digestSlotBytes: number;
  /** P = 2^floor(log2(H / D)) digests per hash block (formats.md §3.2). */
  readonly digestsPerBlock: number;
  /** Blocks the superblock takes: ceil(512 / H) = 1 for every H ≥ 512. */
  readonly superblockBlocks: number;
  /** Levels bottom-up (index = level); on the device they are stored top first (§3.2). */
  readonly levels: readonly VerityLevel[];
  /** Exact hash image size: (superblock blocks + Σ level blocks) × H. */
  readonly hashImageSizeBytes: number;
}

export function checkVerityParameters(parameters: VerityParameters, where = "verity"): void {
  for (const [name, value] of [["dataBlockSize", parameters.dataBlockSize], ["hashBlockSize", parameters.hashBlockSize]] as const) {
    if (!isPow2(value) || value < MIN_BLOCK_SIZE_BYTES || value > MAX_BLOCK_SIZE_BYTES) {
      fail(ErrorCode.Verity, `${where}.${name}: ${value} is not a power of two between ${MIN_BLOCK_SIZE_BYTES} and ${MAX_BLOCK_SIZE_BYTES}`, "use 512, 1024, 2048 or 4096");
    }
  }
  if (!(parameters.algorithm in DIGEST_SIZE_BYTES)) {
    fail(ErrorCode.Verity, `${where}.algorithm: "${parameters.algorithm}" is not supported`, "use sha256 (or sha1/sha512)");
  }
}

/** Digests per hash block and slot size for hash type 1 (verity_hash.c VERITY_create_or_verify_hash). */
export function digestLayout(hashBlockSize: number, algorithm: VerityAlgorithm): { digestSizeBytes: number; digestSlotBytes: number; digestsPerBlock: number } {
  const digestSizeBytes = DIGEST_SIZE_BYTES[algorithm];
  const digestSlotBytes = 2 ** Math.ceil(Math.log2(digestSizeBytes));
  // floor(log2(H / D)) equals log2(H / slot) for power-of-two H, so P · slot ≤ H always holds.
  const digestsPerBlock = 2 ** Math.floor(Math.log2(hashBlockSize / digestSizeBytes));
  return { digestSizeBytes, digestSlotBytes, digestsPerBlock };
}

/**
 * Plans the hash device for `dataSizeBytes` of data. Levels: level i has ceil(N / P^(i+1))
 * blocks; we stop at the first level with one block (for N = 1 there are no levels and the
 * root hash is the digest of the data block itself, as veritysetup does). The top level is
 * written right after the superblock, level 0 last.
 */
export function planVerity(dataSizeBytes: number, parameters: VerityParameters, where = "verity"): VerityPlan {
  checkVerityParameters(parameters, where);
  assertSafe(dataSizeBytes, `${where}: data size`);
  const { dataBlockSize, hashBlockSize, algorithm } = parameters;
  const dataBlocks = Math.floor(dataSizeBytes / dataBlockSize);
  if (dataBlocks === 0) {
    fail(ErrorCode.Verity, `${where}: data is ${dataSizeBytes} bytes, smaller than one ${dataBlockSize}-byte data block`, "dm-verity needs at least one full data block (veritysetup refuses too)");
  }
  const layout = digestLayout(hashBlockSize, algorithm);
  const blockCounts: number[] = [];
  for (let below = dataBlocks; below > 1; ) {
    below = divCeil(below, layout.digestsPerBlock);
    blockCounts.push(below);
  }
  const superblockBlocks = divCeil(SUPERBLOCK_SIZE_BYTES, hashBlockSize);
  const levels: VerityLevel[] = [];
  let offsetBlocks = superblockBlocks;
  for (let level = blockCounts.length - 1; level >= 0; level--) {
    levels[level] = { level, blockCount: blockCounts[level]!, offsetBytes: offsetBlocks * hashBlockSize };
    offsetBlocks += blockCounts[level]!;
  }
  return {
    dataBlockSize,
    hashBlockSize,
    algorithm,
    dataBlocks,
    ...layout,
    superblockBlocks,
    levels,
    hashImageSizeBytes: assertSafe(offsetBlocks * hashBlockSize, `${where}: hash image size`),
  };
}

/**
 * systemd-repart's estimate of a hash partition's size (repart.c `calculate_verity_hash_size`),
 * used when the hash partition is sized from the data partition's SizeMaxBytes=. It rounds
 * the data up to whole blocks, always assumes 32-byte digests, and counts 2 blocks for the
 * superblock and the root block plus every level while more than H/32 blocks remain —
 * so it can exceed the exact size by a block or two. Example from systemd's
 * TEST-58-REPART: 10 GiB with 4096/4096 → 84557824 bytes.
 */
export function repartVerityHashSizeBytes(dataSizeBytes: number, hashBlockSize: number, dataBlockSize: number): number {
  assertSafe(dataSizeBytes, "verity: data size");
  log2Exact(hashBlockSize);
  const hashesPerBlock = hashBlockSize / 32;
  let remainingBlocks = divCeil(dataSizeBytes, dataBlockSize);
  let hashBlocks = 2;
  while (remainingBlocks > hashesPerBlock) {
    const levelBlocks = divCeil(remainingBlocks, hashesPerBlock);
    hashBlocks += levelBlocks;
    remainingBlocks = levelBlocks;
  }
  return assertSafe(hashBlocks * hashBlockSize, "verity: hash partition size");
}
