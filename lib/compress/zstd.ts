/**
 * zstd through @foxglove/wasm-zstd (libzstd built with Emscripten): one frame per call
 * (ZSTD_compress / ZSTD_decompress), which is what the kernel's zstd_decompress_dctx,
 * squashfs-tools and erofs-utils expect of a block.
 *
 * It replaced @bokuweb/zstd-wasm because it compresses ~30 % faster at the same level with
 * the same output size (128 KiB blocks of a Debian tree at level 15: 3.3 s against 4.6 s,
 * native libzstd 1.5.4 2.9 s; bench/README.md), which is most of a zstd squashfs build.
 */
import { compress, decompress, isLoaded } from "@foxglove/wasm-zstd";
import type { Codec } from "./codec.js";

/**
 * Bytes one call may hold in the codec's wasm32 heap, its input and its output together. The
 * heap grows to 2 GiB at most and the package does not report a failed allocation (an
 * oversized call ends in a RuntimeError, or writes through a null pointer), so callers check
 * with zstdCallFits() first; the margin leaves room for the (de)compression context.
 */
const ZSTD_MAX_CALL_HEAP_BYTES = 1536 * 1024 * 1024;

/** True when a call reading `inputBytes` and writing up to `outputBytes` fits the heap. */
export function zstdCallFits(inputBytes: number, outputBytes: number): boolean {
  return inputBytes + outputBytes <= ZSTD_MAX_CALL_HEAP_BYTES;
}

/** ZSTD_COMPRESSBOUND (zstd.h): the most one frame of `sourceBytes` can take. */
export function zstdCompressBound(sourceBytes: number): number {
  const smallInputMargin = sourceBytes < 128 * 1024 ? Math.floor((128 * 1024 - sourceBytes) / 2048) : 0;
  return sourceBytes + Math.floor(sourceBytes / 256) + smallInputMargin;
}

const zstdCodec: Codec = {
  id: "zstd",
  name: "zstd",
  defaultLevel: 15,
  minLevel: 1,
  maxLevel: 22,
  compress: (block, level) => compress(block, level),
};

/** The WebAssembly module is instantiated once per thread, when this module loads. */
export async function loadZstdCodec(): Promise<Codec> {
  await isLoaded;
  return zstdCodec;
}

/**
 * Decompresses one zstd frame into at most `capacityBytes`; throws when the frame is corrupt
 * or decompresses to more than that. Call loadZstdCodec() first.
 */
export function decompressZstdFrame(frame: Uint8Array, capacityBytes: number): Uint8Array {
  return decompress(frame, capacityBytes);
}
