/**
 * "deflate" as erofs means it: a raw DEFLATE stream (RFC 1951, no zlib or gzip wrapper),
 * which the kernel's erofs decompressor inflates with zlib_inflateInit2(-MAX_WBITS). Node's
 * zlib, as for the squashfs "gzip" codec (gzip.ts says why not fflate).
 */
import { deflateRawSync } from "node:zlib";
import type { Codec } from "./codec.js";

export const deflateCodec: Codec = {
  id: "deflate",
  name: "raw deflate",
  defaultLevel: 9,
  minLevel: 1,
  maxLevel: 9,
  compress: (block, level) => {
    const compressed = deflateRawSync(block, { level, windowBits: 15, memLevel: 8 });
    return new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength);
  },
};
