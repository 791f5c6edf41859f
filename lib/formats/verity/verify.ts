/**
 * Re-verifies a dm-verity data/hash pair against a root hash, the way the kernel checks it
 * (verity.rst "Hash tree": every block is checked against the digest stored one level up, the
 * top block against the root hash), but over the whole device at once so every corruption is
 * reported, not just the first read that trips. Used by `gptimg verify` and the tests.
 */
import { toHex } from "../../core/bytes.js";
import { isGptimgError } from "../../core/errors.js";
import { FileSliceSource, type ByteSource } from "../../io/source.js";
import { hashVerityFile, VerityHasher, type VerityHasherParameters, type VerityResult } from "./build.js";
import { hashBlocks } from "./hash-blocks.js";
import { planVerity, SUPERBLOCK_SIZE_BYTES, type VerityPlan } from "./plan.js";
import { decodeSuperblock, type VeritySuperblock } from "./superblock.js";

export type VerityFindingKind = "superblock" | "size" | "root-hash" | "hash-block" | "data-block";

export interface VerityFinding {
  readonly kind: VerityFindingKind;
  readonly message: string;
  /** For hash-block findings: the level (0 = leaf) and block index within it. */
  readonly level?: number;
  /** Block index: within its level for hash blocks, the data block number for data blocks. */
  readonly block?: number;
  /** How many blocks of this kind (and level) are bad; the message names the first. */
  readonly count?: number;
}

export interface VerityVerification {
  readonly ok: boolean;
  readonly findings: readonly VerityFinding[];
  readonly superblock?: VeritySuperblock;
}

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export async function verifyVerity(data: ByteSource, hash: ByteSource, rootHash: Uint8Array, options: { concurrency: number }): Promise<VerityVerification> {
  const findings: VerityFinding[] = [];
  const done = (superblock?: VeritySuperblock): VerityVerification => ({ ok: findings.length === 0, findings, ...(superblock ? { superblock } : {}) });
  if (hash.size < SUPERBLOCK_SIZE_BYTES) {
    findings.push({ kind: "size", message: `${hash.description}: ${hash.size} bytes, too small for a verity superblock` });
    return done();
  }
  const superblock = decodeSuperblock(await hash.read(0, SUPERBLOCK_SIZE_BYTES));
  if (typeof superblock === "string") {
    findings.push({ kind: "superblock", message: `${hash.description}: ${superblock}` });
    return done();
  }
  if (superblock.hashType !== 1) {
    findings.push({ kind: "superblock", message: `${hash.description}: hash type ${superblock.hashType} (Chrome OS legacy) is not supported by gptimg verify` });
    return done(superblock);
  }
  let plan: VerityPlan;
  try {
    plan = planVerity(superblock.dataBlocks * superblock.dataBlockSize, superblock, hash.description);
  } catch (error) {
    if (!isGptimgError(error)) throw error;
    findings.push({ kind: "superblock", message: error.message });
    return done(superblock);
  }
  const coveredBytes = plan.dataBlocks * plan.dataBlockSize;
  if (data.size < coveredBytes) findings.push({ kind: "size", message: `${data.description}: ${data.size} bytes, but the superblock covers ${plan.dataBlocks} × ${plan.dataBlockSize} = ${coveredBytes} bytes` });
  if (hash.size < plan.hashImageSizeBytes) findings.push({ kind: "size", message: `${hash.description}: ${hash.size} bytes, the hash tree needs ${plan.hashImageSizeBytes}` });
  if (findings.length > 0) return done(superblock);
  if (rootHash.length !== plan.digestSizeBytes) {
    findings.push({ kind: "root-hash", message: `root hash has ${rootHash.length} bytes, ${plan.algorithm} digests have ${plan.digestSizeBytes}` });
    return done(superblock);
  }

  const stored = plan.levels.map((level) => hash.read(level.offsetBytes, level.blockCount * plan.hashBlockSize));
  const storedLevels = await Promise.all(stored);
  const parameters = { ...superblock, algorithm: plan.algorithm, hashType: 1 } as const;
  const computed = data instanceof FileSliceSource
    ? await hashVerityFile({ path: data.path, start: data.start, size: coveredBytes, description: data.description }, parameters, options)
    : await hashSource(data, coveredBytes, parameters, options);

  if (plan.levels.length === 0) {
    // One data block: the root hash is its digest and the hash device holds only the superblock.
    if (!equalBytes(computed.rootHash, rootHash)) findings.push({ kind: "data-block", block: 0, count: 1, message: `${data.description}: data block 0 does not match the root hash` });
    return done(superblock);
  }
  const top = storedLevels[storedLevels.length - 1]!;
  const topDigest = hashBlocks(plan.algorithm, superblock.salt, top, plan.hashBlockSize, plan.digestSlotBytes).subarray(0, plan.digestSizeBytes);
  if (!equalBytes(topDigest, rootHash)) {
    findings.push({ kind: "root-hash", level: plan.levels.length - 1, block: 0, message: `${hash.description}: top hash block digests to ${toHex(topDigest)}, not the root hash ${toHex(rootHash)}` });
  }
  for (let level = plan.levels.length - 1; level >= 1; level--) {
    const childDigests = hashBlocks(plan.algorithm, superblock.salt, storedLevels[level - 1]!, plan.hashBlockSize, plan.digestSlotBytes);
    compareSlots(plan, storedLevels[level]!, childDigests, plan.levels[level - 1]!.blockCount, (first, count) => findings.push({
      kind: "hash-block", level: level - 1, block: first, count,
      message: `${hash.description}: hash block ${first} of level ${level - 1} does not match its digest in level ${level}${count > 1 ? ` (${count} blocks bad)` : ""}`,
    }));
  }
  compareSlots(plan, storedLevels[0]!, computed.hashImage.level(0), plan.dataBlocks, (first, count) => findings.push({
    kind: "data-block", block: first, count,
    message: `${data.description}: data block ${first} does not match its digest in the hash tree${count > 1 ? ` (${count} blocks bad)` : ""}`,
  }));
  for (let level = 0; level < plan.levels.length; level++) {
    const childCount = level === 0 ? plan.dataBlocks : plan.levels[level - 1]!.blockCount;
    const spare = storedLevels[level]!.subarray(childCount * plan.digestSlotBytes);
    const firstNonZero = spare.findIndex((byte) => byte !== 0);
    if (firstNonZero >= 0) {
      const block = Math.floor((childCount * plan.digestSlotBytes + firstNonZero) / plan.hashBlockSize);
      findings.push({ kind: "hash-block", level, block, count: 1, message: `${hash.description}: spare area after the last digest of level ${level} is not zero (block ${block})` });
    }
  }
  return done(superblock);
}

/**
 * Compares `childCount` digest slots of a stored level with digests computed from its
 * children, including the slot padding, and reports the first bad child and how many are bad.
 */
function compareSlots(plan: VerityPlan, storedParent: Uint8Array, computedDigests: Uint8Array, childCount: number, report: (first: number, count: number) => void): void {
  let first = -1;
  let count = 0;
  const slot = plan.digestSlotBytes;
  for (let child = 0; child < childCount; child++) {
    if (!equalBytes(storedParent.subarray(child * slot, (child + 1) * slot), computedDigests.subarray(child * slot, (child + 1) * slot))) {
      if (first < 0) first = child;
      count++;
    }
  }
  if (count > 0) report(first, count);
}

function equalBytes(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index++) if (left[index] !== right[index]) return false;
  return true;
}

/** Sources that are not a file slice (in-memory images, tests) stream through a VerityHasher. */
async function hashSource(data: ByteSource, coveredBytes: number, parameters: VerityHasherParameters, options: { concurrency: number }): Promise<VerityResult> {
  const hasher = new VerityHasher(parameters, options);
  try {
    for (let offset = 0; offset < coveredBytes; offset += READ_CHUNK_BYTES) {
      await hasher.write(await data.read(offset, Math.min(READ_CHUNK_BYTES, coveredBytes - offset)));
    }
  } catch (error) {
    await hasher.close();
    throw error;
  }
  return hasher.finish();
}
