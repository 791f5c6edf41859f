/**
 * Which data, hash and signature partitions belong together. DPS ties them by type (root-X with
 * root-X-verity and root-X-verity-sig) and, when an architecture has several (A/B), by the
 * UUID convention: data PARTUUID ‖ hash PARTUUID = root hash. The root hash of an intact tree
 * is the digest of its top hash block, so that digest (or a signature's rootHash) names the
 * data partition whose PARTUUID is its first half.
 */
import { toHex } from "../core/bytes.js";
import { isGptimgError } from "../core/errors.js";
import { guidToBytes } from "../core/guid.js";
import { hashBlocks } from "../formats/verity/hash-blocks.js";
import { planVerity, SUPERBLOCK_SIZE_BYTES } from "../formats/verity/plan.js";
import { parseVeritySignature } from "../formats/verity/signature.js";
import { decodeSuperblock } from "../formats/verity/superblock.js";
import type { ByteSource } from "../io/source.js";
import { activeOf, type ImagePartition } from "./partitions.js";

export interface VerityTriple {
  readonly data: ImagePartition;
  readonly hash: ImagePartition;
  readonly signature: ImagePartition | undefined;
}

export interface Pairing {
  readonly triples: readonly VerityTriple[];
  /** Hash and signature partitions that could not be paired (DPS rules report the why). */
  readonly unpairedHash: readonly ImagePartition[];
  readonly unpairedSignature: readonly ImagePartition[];
}

export type PartitionReader = (partition: ImagePartition) => ByteSource;

export async function pairVerityPartitions(partitions: readonly ImagePartition[], open: PartitionReader, readSmall: (partition: ImagePartition) => Promise<Uint8Array | undefined>): Promise<Pairing> {
  const freeData = activeOf(partitions, "data");
  const signatures = activeOf(partitions, "signature");
  const signatureHashes = new Map<ImagePartition, string>();
  for (const partition of signatures) {
    const bytes = await readSmall(partition);
    if (bytes === undefined) continue;
    try {
      signatureHashes.set(partition, toHex(parseVeritySignature(bytes).rootHash));
    } catch (error) {
      if (!isGptimgError(error)) throw error;
    }
  }
  const triples: VerityTriple[] = [];
  const unpairedHash: ImagePartition[] = [];
  const hashes = activeOf(partitions, "hash");
  const hints = new Map<ImagePartition, string[]>();
  for (const hash of hashes) {
    const top = await topDigest(open(hash));
    const fromSignatures = signatures.filter((signature) => signature.family === hash.family).map((signature) => signatureHashes.get(signature)).filter((text): text is string => text !== undefined);
    hints.set(hash, [...(top ? [toHex(top)] : []), ...fromSignatures]);
  }
  // First the hash partitions whose root hash names a data partition, then the leftovers by type.
  const pending: ImagePartition[] = [];
  for (const hash of hashes) {
    const data = freeData.find((candidate) => candidate.family === hash.family && hints.get(hash)!.some((hint) => hint.startsWith(uuidHex(candidate.entry.uuid)) && hint.endsWith(uuidHex(hash.entry.uuid))));
    if (data) {
      freeData.splice(freeData.indexOf(data), 1);
      triples.push({ data, hash, signature: undefined });
    } else {
      pending.push(hash);
    }
  }
  for (const hash of pending) {
    const candidates = freeData.filter((candidate) => candidate.family === hash.family);
    if (candidates.length === 1) {
      freeData.splice(freeData.indexOf(candidates[0]!), 1);
      triples.push({ data: candidates[0]!, hash, signature: undefined });
    } else {
      unpairedHash.push(hash);
    }
  }
  triples.sort((left, right) => left.data.index - right.data.index);

  const unpairedSignature: ImagePartition[] = [];
  const signatureOf = new Map<VerityTriple, ImagePartition>();
  for (const signature of signatures) {
    const family = triples.filter((triple) => triple.hash.family === signature.family && !signatureOf.has(triple));
    const named = signatureHashes.get(signature);
    const match = family.find((triple) => named !== undefined && named.startsWith(uuidHex(triple.data.entry.uuid)) && named.endsWith(uuidHex(triple.hash.entry.uuid)))
      ?? (family.length === 1 ? family[0] : undefined);
    if (match) signatureOf.set(match, signature);
    else unpairedSignature.push(signature);
  }
  return { triples: triples.map((triple) => ({ ...triple, signature: signatureOf.get(triple) })), unpairedHash, unpairedSignature };
}

export function uuidHex(uuid: string): string {
  return toHex(guidToBytes(uuid));
}

/** Digest of the top hash block (the root hash if the tree is intact), or undefined if unreadable. */
export async function topDigest(hash: ByteSource): Promise<Uint8Array | undefined> {
  if (hash.size < SUPERBLOCK_SIZE_BYTES) return undefined;
  const superblock = decodeSuperblock(await hash.read(0, SUPERBLOCK_SIZE_BYTES));
  if (typeof superblock === "string" || superblock.hashType !== 1) return undefined;
  try {
    const plan = planVerity(superblock.dataBlocks * superblock.dataBlockSize, superblock);
    const top = plan.levels[plan.levels.length - 1];
    if (top === undefined || top.offsetBytes + plan.hashBlockSize > hash.size) return undefined;
    const block = await hash.read(top.offsetBytes, plan.hashBlockSize);
    return hashBlocks(plan.algorithm, superblock.salt, block, plan.hashBlockSize, plan.digestSlotBytes).subarray(0, plan.digestSizeBytes);
  } catch (error) {
    if (isGptimgError(error)) return undefined;
    throw error;
  }
}
