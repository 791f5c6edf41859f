/** CRC32 (IEEE, reflected 0xEDB88320; GPT, gzip) via crc-32. CRC32C (erofs) is in crc32c.ts. */
import CRC32 from "crc-32";

/** Unsigned IEEE CRC32 of `bytes`, continuing from `previous` (an earlier unsigned result). */
export function crc32(bytes: Uint8Array, previous?: number): number {
  return CRC32.buf(bytes, previous === undefined ? undefined : previous | 0) >>> 0;
}
