/**
 * Identifiers systemd-repart derives for verity (formats.md §1.5, §2.1): salt and superblock
 * UUID from the seed (v255+, PR #28695), and the data/hash PARTUUIDs from the root hash.
 */
import { ascii } from "../../core/bytes.js";
import { deriveGuid, guidFromBytes, hmacSha256 } from "../../core/guid.js";
import type { VerityHasherParameters } from "./build.js";

/** HMAC-SHA256(seed, "verity-salt"): the full 32-byte digest, not v4-marked. */
export function deriveVeritySalt(seed: Uint8Array): Uint8Array {
  return hmacSha256(seed, ascii("verity-salt"));
}

/** v4(HMAC-SHA256(seed, "verity-uuid")), stored in the superblock in string byte order. */
export function deriveVeritySuperblockUuid(seed: Uint8Array): string {
  return deriveGuid(seed, ascii("verity-uuid"));
}

/**
 * DPS: data PARTUUID = first 128 bits of the root hash, hash PARTUUID = last 128 bits, both
 * raw (not v4-marked) and in string order.
 */
export function verityPartitionUuids(rootHash: Uint8Array): { data: string; hash: string } {
  return { data: guidFromBytes(rootHash.subarray(0, 16)), hash: guidFromBytes(rootHash.subarray(rootHash.length - 16)) };
}

/** The hasher parameters systemd-repart v255+ uses for a seed (hash type 1, sha256, §2.3). */
export function repartVerityParameters(seed: Uint8Array, dataBlockSize = 4096, hashBlockSize = 4096): VerityHasherParameters {
  return { dataBlockSize, hashBlockSize, algorithm: "sha256", salt: deriveVeritySalt(seed), uuid: deriveVeritySuperblockUuid(seed), hashType: 1 };
}
