/**
 * "gzip" as squashfs and erofs mean it: a zlib stream (RFC 1950 header + deflate + Adler-32),
 * which is what the kernel's zlib_inflate expects — not a gzip (RFC 1952) file.
 */
import { zlibSync } from "fflate";
import type { Codec } from "./codec.js";

export const gzipCodec: Codec = {
  id: "gzip",
  name: "zlib deflate",
  defaultLevel: 9,
  minLevel: 1,
  maxLevel: 9,
  compress: (block, level) => zlibSync(block, { level: level as 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 }),
};
