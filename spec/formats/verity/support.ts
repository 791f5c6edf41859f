/** Shared helpers for the verity specs: build a hash image from bytes, run veritysetup on files. */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../../lib/core/bytes.js";
import { hashVerityFile, VerityHasher, type VerityHasherParameters } from "../../../lib/formats/verity/build.js";
import { MemorySink } from "../../../lib/io/stream.js";
import { run } from "../../support/oracles.js";

export const TEST_UUID = "0f3c2a55-61d2-4e7b-9a10-5c2d7e8f9a01";
export const TEST_SALT = Uint8Array.from({ length: 32 }, (_, index) => (index * 37 + 11) & 0xff);

export function parameters(dataBlockSize = 4096, hashBlockSize = 4096, overrides: Partial<VerityHasherParameters> = {}): VerityHasherParameters {
  return { dataBlockSize, hashBlockSize, algorithm: "sha256", salt: TEST_SALT, uuid: TEST_UUID, hashType: 1, ...overrides };
}

/** Feeds `data` in the given chunk sizes (cycled) and returns root hash and hash image bytes. */
export async function buildTree(data: Uint8Array, verityParameters: VerityHasherParameters, options: { concurrency?: number; batchBytes?: number; chunkSizes?: number[] } = {}): Promise<{ rootHash: string; image: Uint8Array; dataBlocks: number }> {
  const hasher = new VerityHasher(verityParameters, { concurrency: options.concurrency ?? 2, ...(options.batchBytes ? { batchBytes: options.batchBytes } : {}) });
  const chunkSizes = options.chunkSizes ?? [1 << 20];
  for (let offset = 0, turn = 0; offset < data.length; turn++) {
    const size = Math.max(1, chunkSizes[turn % chunkSizes.length]!);
    await hasher.write(data.subarray(offset, offset + size));
    offset += size;
  }
  const result = await hasher.finish();
  const sink = new MemorySink();
  await hasher.writeHashImage(sink);
  return { rootHash: toHex(result.rootHash), image: sink.bytes(), dataBlocks: result.dataBlocks };
}

/** Deterministic pseudo-random data (xorshift), with optional zero runs like filesystem images. */
/** hashVerityFile over `size` bytes at `start` in the file at `path`, with its hash image. */
export async function buildTreeFromFile(path: string, start: number, size: number, verityParameters: VerityHasherParameters, options: { concurrency?: number; runBytes?: number } = {}): Promise<{ rootHash: string; image: Uint8Array }> {
  const result = await hashVerityFile({ path, start, size, description: path }, verityParameters, { concurrency: options.concurrency ?? 2, ...(options.runBytes ? { runBytes: options.runBytes } : {}) });
  const sink = new MemorySink();
  await result.hashImage.write(sink);
  return { rootHash: toHex(result.rootHash), image: sink.bytes() };
}

export function sampleData(size: number, seed: number, zeroHeavy = false): Uint8Array {
  const out = new Uint8Array(size);
  let state = (seed | 0) || 1;
  for (let index = 0; index < size; index++) {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
    out[index] = state & 0xff;
  }
  if (zeroHeavy) for (let start = 0; start < size; start += 8192) out.fill(0, start + 1000, Math.min(size, start + 7000));
  return out;
}

export function scratchDirectory(prefix: string): { path: string; file: (name: string, bytes?: Uint8Array) => string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name, bytes) => {
      const filePath = join(path, name);
      if (bytes) writeFileSync(filePath, bytes);
      return filePath;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** `veritysetup format` with our salt/UUID; returns its root hash and hash file (or its error). */
export function veritysetupFormat(dataPath: string, hashPath: string, dataBlockSize: number, hashBlockSize: number, algorithm = "sha256", salt = TEST_SALT): { rootHash?: string; image?: Uint8Array; error?: string } {
  // veritysetup spells "no salt" as "-".
  const result = run("veritysetup", ["format", dataPath, hashPath, `--salt=${salt.length === 0 ? "-" : toHex(salt)}`, `--uuid=${TEST_UUID}`, `--data-block-size=${dataBlockSize}`, `--hash-block-size=${hashBlockSize}`, `--hash=${algorithm}`]);
  if (result.status !== 0) return { error: result.stderr + result.stdout };
  const match = /Root hash:\s+([0-9a-f]+)/.exec(result.stdout);
  if (!match) throw new Error(`veritysetup format printed no root hash: ${result.stdout}`);
  return { rootHash: match[1]!, image: readFileSync(hashPath) };
}

export function veritysetupVerify(dataPath: string, hashPath: string, rootHash: string): boolean {
  return run("veritysetup", ["verify", dataPath, hashPath, rootHash]).status === 0;
}
