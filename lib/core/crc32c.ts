/**
 * CRC32C (Castagnoli, reflected 0x82F63B78) for erofs. A module of its own so that the erofs
 * writer does not load the crc-32 package (~10 ms of start-up) for a 4 KiB checksum.
 */

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let value = byte;
    for (let bit = 0; bit < 8; bit++) value = value & 1 ? (value >>> 1) ^ 0x82f63b78 : value >>> 1;
    table[byte] = value >>> 0;
  }
  return table;
})();

/**
 * Raw CRC32C update without the final inversion, as the kernel's crc32c_le(seed, …) that
 * erofs uses for its superblock checksum (seed ~0, no final xor).
 */
export function crc32cRaw(seed: number, bytes: Uint8Array): number {
  let value = seed >>> 0;
  for (let index = 0; index < bytes.length; index++) {
    value = CRC32C_TABLE[(value ^ bytes[index]!) & 0xff]! ^ (value >>> 8);
  }
  return value >>> 0;
}
