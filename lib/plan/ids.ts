/**
 * Deterministic identities, exactly as systemd-repart derives them (formats.md §2.1,
 * repart.c partition_acquire_uuid / partition_acquire_label / derive_uuid):
 *   disk GUID      = v4(HMAC-SHA256(seed, "disk-uuid"))
 *   partition UUID = v4(HMAC-SHA256(seed, type-UUID ‖ le64(k)))  (k omitted for the first of a type)
 *   fs UUID        = v4(HMAC-SHA256(partition-UUID, "file-system-uuid"))
 *   verity salt    = HMAC-SHA256(seed, "verity-salt"), verity UUID = v4(HMAC(seed, "verity-uuid"))
 */
import { utf8 } from "../core/bytes.js";
import { deriveGuid, guidToBytes, hmacSha256 } from "../core/guid.js";

export function deriveDiskGuid(seed: Uint8Array): string {
  return deriveGuid(seed, utf8("disk-uuid"));
}

/** `instance` counts earlier partitions of the same type in the definition list. */
export function derivePartitionUuid(seed: Uint8Array, typeUuid: string, instance: number): string {
  const typeBytes = guidToBytes(typeUuid);
  if (instance === 0) return deriveGuid(seed, typeBytes);
  const message = new Uint8Array(24);
  message.set(typeBytes, 0);
  new DataView(message.buffer).setBigUint64(16, BigInt(instance), true);
  return deriveGuid(seed, message);
}

export function deriveFilesystemUuid(partitionUuid: string): string {
  return deriveGuid(guidToBytes(partitionUuid), utf8("file-system-uuid"));
}

export function deriveVeritySalt(seed: Uint8Array): Uint8Array {
  return hmacSha256(seed, utf8("verity-salt"));
}

export function deriveVerityUuid(seed: Uint8Array): string {
  return deriveGuid(seed, utf8("verity-uuid"));
}

/**
 * Default labels: the type identifier ("linux" for unknown types), made unique against the
 * labels of earlier partitions with "-2", "-3", … (repart only looks backwards).
 */
export function defaultLabel(prefix: string, earlierLabels: readonly string[]): string {
  let candidate = prefix;
  for (let suffix = 2; earlierLabels.includes(candidate); suffix++) candidate = `${prefix}-${suffix}`;
  return candidate;
}

/** FAT volume ID: the first four bytes of the derived filesystem UUID, as repart passes `mkfs.vfat -i`. */
export function fatVolumeId(filesystemUuid: string): number {
  return parseInt(filesystemUuid.slice(0, 8), 16) >>> 0;
}
