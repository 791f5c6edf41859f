/**
 * Block codecs shared by the compressed file systems (squashfs, erofs). A codec turns one
 * block into one self-contained compressed stream; callers decide whether the result is worth
 * storing (a block whose compressed form is not smaller is stored raw by every format).
 */
import { ErrorCode, fail } from "../core/errors.js";
import { deflateCodec } from "./deflate.js";
import { gzipCodec } from "./gzip.js";
import { lz4Codec } from "./lz4.js";
import { loadZstdCodec } from "./zstd.js";

export type CodecId = "gzip" | "deflate" | "lz4" | "zstd" | "none";

export interface Codec {
  readonly id: CodecId;
  /** What the stream is, for messages and reports. */
  readonly name: string;
  /** The level used when the caller gives none (the mksquashfs defaults: gzip 9, zstd 15). */
  readonly defaultLevel: number;
  readonly minLevel: number;
  readonly maxLevel: number;
  /** Compresses one block; pure and deterministic for a given (block, level). */
  compress(block: Uint8Array, level: number): Uint8Array;
}

/** Stores blocks as they are: compress() returns its input, which is never smaller. */
export const noneCodec: Codec = {
  id: "none",
  name: "uncompressed",
  defaultLevel: 0,
  minLevel: 0,
  maxLevel: 0,
  compress: (block) => block,
};

/** Returns a ready codec; zstd needs its WebAssembly module instantiated first. */
export async function loadCodec(id: CodecId): Promise<Codec> {
  switch (id) {
    case "gzip": return gzipCodec;
    case "deflate": return deflateCodec;
    case "lz4": return lz4Codec;
    case "zstd": return loadZstdCodec();
    case "none": return noneCodec;
  }
}

/** Resolves the level for a codec, rejecting values outside its range with a one-line error. */
export function resolveLevel(codec: Codec, level: number | undefined, where: string): number {
  if (level === undefined) return codec.defaultLevel;
  if (!Number.isInteger(level) || level < codec.minLevel || level > codec.maxLevel) {
    fail(ErrorCode.Spec, `${where}: compression level ${level} is outside ${codec.minLevel}..${codec.maxLevel} for ${codec.id}`, `give an integer level in ${codec.minLevel}..${codec.maxLevel}`);
  }
  return level;
}
