/**
 * LZ4 block compressor (the raw block format of lz4_Block_format.md, no frame), for erofs:
 * the kernel's erofs decompresses each physical cluster with LZ4_decompress_safe_partial.
 *
 * A sequence is a token (literal count << 4 | match length − 4), the literal count's extra
 * bytes, the literals, a 2-byte little-endian offset (1..65535) and the match length's extra
 * bytes (runs of 255, then the rest). The block ends with literals only: the last 5 bytes are
 * always literals and the last match starts at least 12 bytes before the end.
 *
 * Level 1 looks at the latest earlier position with the same hash (like lz4's fast mode);
 * level n > 1 walks a hash chain of up to 2^(n−1) earlier positions and keeps the longest
 * match (lz4hc's search, with greedy parsing).
 */
import type { Codec } from "./codec.js";

const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MATCH_FIND_LIMIT = 12;
const MAX_OFFSET = 65535;
const HASH_BITS = 16;
const RUN_MASK = 15;

export const lz4Codec: Codec = {
  id: "lz4",
  name: "lz4 block",
  /** A 256-step chain: within 5–15 % of lz4hc -9 on binaries and text, still fast in workers. */
  defaultLevel: 9,
  minLevel: 1,
  maxLevel: 12,
  compress: (block, level) => compressLz4Block(block, level),
};

export function compressLz4Block(input: Uint8Array, level = 1): Uint8Array {
  const length = input.length;
  const out = new Uint8Array(length + Math.ceil(length / 255) + 16);
  let outPosition = 0;
  let anchor = 0;
  const attempts = 1 << (Math.max(1, Math.min(12, level)) - 1);
  const head = new Int32Array(1 << HASH_BITS).fill(-1);
  const previous = attempts > 1 ? new Int32Array(length) : undefined;
  const read32 = (at: number): number => (input[at]! | (input[at + 1]! << 8) | (input[at + 2]! << 16) | (input[at + 3]! << 24)) >>> 0;
  const hashAt = (at: number): number => Math.imul(read32(at), 2654435761) >>> (32 - HASH_BITS);
  const insert = (at: number): void => {
    const hash = hashAt(at);
    if (previous) previous[at] = head[hash]!;
    head[hash] = at;
  };

  const writeLength = (rest: number): void => {
    for (; rest >= 255; rest -= 255) out[outPosition++] = 255;
    out[outPosition++] = rest;
  };
  const writeSequence = (literalEnd: number, offset: number, matchLength: number): void => {
    const literals = literalEnd - anchor;
    const tokenAt = outPosition++;
    out[tokenAt] = Math.min(literals, RUN_MASK) << 4;
    if (literals >= RUN_MASK) writeLength(literals - RUN_MASK);
    out.set(input.subarray(anchor, literalEnd), outPosition);
    outPosition += literals;
    if (matchLength === 0) return;
    out[outPosition++] = offset & 0xff;
    out[outPosition++] = offset >>> 8;
    const extra = matchLength - MIN_MATCH;
    out[tokenAt] |= Math.min(extra, RUN_MASK);
    if (extra >= RUN_MASK) writeLength(extra - RUN_MASK);
  };

  const matchEndLimit = length - LAST_LITERALS;
  for (let position = 0; position + MATCH_FIND_LIMIT < length; ) {
    let bestLength = 0;
    let bestStart = 0;
    let candidate = head[hashAt(position)]!;
    for (let tries = 0; candidate >= 0 && position - candidate <= MAX_OFFSET && tries < attempts; tries++) {
      if (read32(candidate) === read32(position)) {
        let matchLength = MIN_MATCH;
        while (position + matchLength < matchEndLimit && input[candidate + matchLength] === input[position + matchLength]) matchLength++;
        if (matchLength > bestLength) {
          bestLength = matchLength;
          bestStart = candidate;
        }
      }
      candidate = previous ? previous[candidate]! : -1;
    }
    insert(position);
    if (bestLength < MIN_MATCH) {
      position++;
      continue;
    }
    writeSequence(position, position - bestStart, bestLength);
    // The positions a match covers are indexed too: periodic data (text, tables) then finds
    // its next repeat at once (level 1 without this: 2.3× liblz4's output on such text).
    for (let covered = position + 1; covered < position + bestLength && covered + MATCH_FIND_LIMIT < length; covered++) insert(covered);
    position += bestLength;
    anchor = position;
  }
  writeSequence(length, 0, 0);
  return out.slice(0, outPosition);
}
