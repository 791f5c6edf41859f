/**
 * zstd through @bokuweb/zstd-wasm: one zstd frame per block (ZSTD_compress), which is what
 * the kernel's zstd_decompress_dctx and squashfs-tools expect.
 */
import { compress, init } from "@bokuweb/zstd-wasm";
import type { Codec } from "./codec.js";

const zstdCodec: Codec = {
  id: "zstd",
  name: "zstd",
  defaultLevel: 15,
  minLevel: 1,
  maxLevel: 22,
  compress: (block, level) => compress(block, level),
};

/**
 * The WebAssembly instance is a process-wide (per worker thread) singleton owned by the
 * library, so it is instantiated once per thread and the promise is shared.
 */
let ready: Promise<void> | undefined;

export async function loadZstdCodec(): Promise<Codec> {
  ready ??= init();
  await ready;
  return zstdCodec;
}
