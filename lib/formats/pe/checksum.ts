/**
 * The PE image checksum (OptionalHeader.CheckSum), as computed by Windows' imagehlp
 * CheckSumMappedFile and by binutils/sbsigntool: the file is summed as little-endian 16-bit
 * words in one's-complement arithmetic (end-around carry), with the 4 CheckSum bytes counted
 * as zero and an odd final byte padded with a zero byte; the folded 16-bit sum plus the file
 * length in bytes is the checksum. UEFI firmware does not check it, but tools (objdump -p,
 * pesign) show it and sbsign recomputes it, so gptimg writes the correct value.
 *
 * One's-complement addition is associative and commutative, so words may be added in any
 * grouping and folded at the end; the accumulator stays exact below 2^53 (2^37 words).
 */
export class PeChecksum {
  private accumulator = 0;
  private length = 0;
  /** A byte left over from an odd-length chunk; it is the low byte of the next word. */
  private pendingLowByte: number | undefined;

  /** Adds bytes that follow the previous ones in the file. */
  update(bytes: Uint8Array): void {
    let index = 0;
    if (this.pendingLowByte !== undefined && bytes.length > 0) {
      this.accumulator += this.pendingLowByte | (bytes[0]! << 8);
      this.pendingLowByte = undefined;
      index = 1;
    }
    let sum = 0;
    const end = bytes.length - ((bytes.length - index) % 2);
    for (; index < end; index += 2) sum += bytes[index]! | (bytes[index + 1]! << 8);
    this.accumulator = foldTo32Bits(this.accumulator + sum);
    if (index < bytes.length) this.pendingLowByte = bytes[index]!;
    this.length += bytes.length;
  }

  /** Adds `count` zero bytes (padding) without materializing them. */
  updateZeros(count: number): void {
    if (count <= 0) return;
    let left = count;
    if (this.pendingLowByte !== undefined) {
      this.accumulator += this.pendingLowByte;
      this.pendingLowByte = undefined;
      left -= 1;
    }
    if (left % 2 === 1) this.pendingLowByte = 0;
    this.length += count;
  }

  /** The CheckSum value for everything added so far. */
  digest(): number {
    let sum = this.accumulator + (this.pendingLowByte ?? 0);
    while (sum > 0xffff) sum = (sum % 0x1_0000) + Math.floor(sum / 0x1_0000);
    return (sum + this.length) >>> 0;
  }
}

function foldTo32Bits(value: number): number {
  return value > 0xffff_ffff ? (value % 0x1_0000) + Math.floor(value / 0x1_0000) : value;
}

/** Checksum of a whole image in memory whose CheckSum field sits at `checksumOffsetBytes`. */
export function peChecksum(image: Uint8Array, checksumOffsetBytes: number): number {
  const checksum = new PeChecksum();
  checksum.update(image.subarray(0, checksumOffsetBytes));
  checksum.update(new Uint8Array(4));
  checksum.update(image.subarray(checksumOffsetBytes + 4));
  return checksum.digest();
}
