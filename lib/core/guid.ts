/**
 * GUIDs: string form ⇄ GPT on-disk bytes, and systemd-repart's seed derivation.
 *
 * GPT stores GUIDs mixed-endian (UEFI §Appendix A): the first three fields little-endian,
 * the last two as written. Everything else in systemd (HMAC messages, verity superblock,
 * root-hash halves) uses plain string ("RFC") byte order.
 */
import { createHmac } from "node:crypto";
import { fromHex, toHex } from "./bytes.js";

const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const NULL_GUID = "00000000-0000-0000-0000-000000000000";

export function isGuid(text: string): boolean {
  return GUID_PATTERN.test(text.toLowerCase());
}

/** Accepts the dashed form or 32 bare hex digits (systemd accepts both); returns dashed lowercase. */
export function normalizeGuid(text: string): string | undefined {
  const lower = text.toLowerCase();
  if (GUID_PATTERN.test(lower)) return lower;
  if (/^[0-9a-f]{32}$/.test(lower)) return guidFromBytes(fromHex(lower));
  return undefined;
}

/** 16 bytes in string order → dashed lowercase string. */
export function guidFromBytes(bytes: Uint8Array): string {
  const hex = toHex(bytes.subarray(0, 16));
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Dashed string → 16 bytes in string order. */
export function guidToBytes(guid: string): Uint8Array {
  return fromHex(guid.replace(/-/g, ""));
}

/** Dashed string → 16 bytes in GPT mixed-endian order. */
export function guidToGptBytes(guid: string): Uint8Array {
  const plain = guidToBytes(guid);
  return new Uint8Array([
    plain[3]!, plain[2]!, plain[1]!, plain[0]!,
    plain[5]!, plain[4]!,
    plain[7]!, plain[6]!,
    ...plain.subarray(8, 16),
  ]);
}

/** 16 bytes in GPT mixed-endian order → dashed string. */
export function guidFromGptBytes(bytes: Uint8Array): string {
  const plain = new Uint8Array([
    bytes[3]!, bytes[2]!, bytes[1]!, bytes[0]!,
    bytes[5]!, bytes[4]!,
    bytes[7]!, bytes[6]!,
    ...bytes.subarray(8, 16),
  ]);
  return guidFromBytes(plain);
}

/** Marks 16 bytes as an RFC 4122 version-4 variant-1 UUID, as systemd's id128_make_v4_uuid does. */
export function markV4(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes.subarray(0, 16));
  out[6] = (out[6]! & 0x0f) | 0x40;
  out[8] = (out[8]! & 0x3f) | 0x80;
  return out;
}

export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(message).digest());
}

/**
 * sd_id128_get_app_specific-style derivation used all over repart (formats.md §2.1):
 * v4(HMAC-SHA256(key, message)[0:16]).
 */
export function deriveGuid(key: Uint8Array, message: Uint8Array): string {
  return guidFromBytes(markV4(hmacSha256(key, message)));
}
