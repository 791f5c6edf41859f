/**
 * Oracle: our hash image must be bit-identical to `veritysetup format` with the same salt,
 * UUID and block sizes, and `veritysetup verify` must accept it (formats.md §3.3).
 */
import { afterAll, describe, expect, it } from "vitest";
import { planVerity } from "../../../lib/formats/verity/plan.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { buildTree, buildTreeFromFile, parameters, sampleData, scratchDirectory, veritysetupFormat, veritysetupVerify } from "./support.js";

const haveOracles = oraclesAvailable("veritysetup");
const scratch = scratchDirectory("gptimg-verity-build-");
afterAll(() => scratch.remove());

const CASES: { name: string; size: number; dataBlockSize: number; hashBlockSize: number; zeroHeavy?: boolean; algorithm?: "sha1" | "sha512" }[] = [
  { name: "one 4 KiB block", size: 4096, dataBlockSize: 4096, hashBlockSize: 4096 },
  { name: "two blocks", size: 8192, dataBlockSize: 4096, hashBlockSize: 4096 },
  { name: "129 blocks (two levels)", size: 129 * 4096, dataBlockSize: 4096, hashBlockSize: 4096 },
  { name: "300 blocks, zero-heavy", size: 300 * 4096, dataBlockSize: 4096, hashBlockSize: 4096, zeroHeavy: true },
  { name: "not a multiple of the block size", size: 5 * 4096 + 1234, dataBlockSize: 4096, hashBlockSize: 4096 },
  { name: "512/512, three levels", size: 300 * 512 + 17, dataBlockSize: 512, hashBlockSize: 512 },
  { name: "512 data / 4096 hash", size: 3 * 1024 * 1024 + 512, dataBlockSize: 512, hashBlockSize: 4096, zeroHeavy: true },
  { name: "4096 data / 1024 hash", size: 2 * 1024 * 1024, dataBlockSize: 4096, hashBlockSize: 1024 },
  { name: "many blocks, 4 levels at 512", size: 5000 * 512, dataBlockSize: 512, hashBlockSize: 512 },
  { name: "sha1 (digest padded to 32)", size: 200 * 4096, dataBlockSize: 4096, hashBlockSize: 4096, algorithm: "sha1" },
  { name: "sha512 at 512", size: 100 * 1024, dataBlockSize: 1024, hashBlockSize: 512, algorithm: "sha512" },
];

describe.skipIf(!haveOracles)("VerityHasher vs veritysetup format", () => {
  it.each(CASES)("$name", async ({ name, size, dataBlockSize, hashBlockSize, zeroHeavy, algorithm }) => {
    const data = sampleData(size, size + dataBlockSize, zeroHeavy);
    const stem = name.replace(/\W+/g, "-");
    const dataPath = scratch.file(`${stem}.data`, data);
    const ours = await buildTree(data, parameters(dataBlockSize, hashBlockSize, algorithm ? { algorithm } : {}), { batchBytes: 64 * 1024, chunkSizes: [4093, 65536, 1] });
    const theirs = veritysetupFormat(dataPath, scratch.file(`${stem}.theirs`), dataBlockSize, hashBlockSize, algorithm);
    expect(theirs.error).toBeUndefined();
    expect(ours.rootHash).toBe(theirs.rootHash);
    expect(ours.image.length).toBe(planVerity(size, { dataBlockSize, hashBlockSize, algorithm: algorithm ?? "sha256" }).hashImageSizeBytes);
    expect(Buffer.compare(ours.image, theirs.image!)).toBe(0);
    const oursPath = scratch.file(`${stem}.ours`, ours.image);
    expect(veritysetupVerify(dataPath, oursPath, ours.rootHash)).toBe(true);
    const fromFile = await buildTreeFromFile(dataPath, 0, size, parameters(dataBlockSize, hashBlockSize, algorithm ? { algorithm } : {}), { runBytes: 3 * dataBlockSize });
    expect(fromFile.rootHash).toBe(theirs.rootHash);
    expect(Buffer.compare(fromFile.image, theirs.image!)).toBe(0);
  });

  // The hasher gives all-zero blocks a precomputed digest and writes each block's salt over
  // the tail of the block before it; blocks that are zero but for one byte at either end,
  // and salts whose length is not a multiple of 4, must not fool either shortcut.
  it.each([0, 7, 32, 33, 256])("zero blocks, nearly-zero blocks, salt of %i bytes", async (saltBytes) => {
    const blockSize = 4096;
    const data = new Uint8Array(200 * blockSize);
    for (let block = 0; block < 200; block++) {
      const start = block * blockSize;
      if (block % 5 === 1) data[start] = 1;
      if (block % 5 === 2) data[start + blockSize - 1] = 0x80;
      if (block % 5 === 3) data.set(sampleData(blockSize, block), start);
    }
    const salt = Uint8Array.from({ length: saltBytes }, (_, index) => (index * 91 + 5) & 0xff);
    const dataPath = scratch.file(`zero-salt${saltBytes}.data`, data);
    const theirs = veritysetupFormat(dataPath, scratch.file(`zero-salt${saltBytes}.theirs`), blockSize, blockSize, "sha256", salt);
    expect(theirs.error).toBeUndefined();
    // Small writes go through the shared ring; whole-unit writes are partly hashed in place.
    for (const [concurrency, chunkSizes] of [[1, [5000, 1]], [3, [5000, 1]], [1, [1 << 20]], [2, [1 << 20]]] as const) {
      const ours = await buildTree(data, parameters(blockSize, blockSize, { salt }), { concurrency, batchBytes: 3 * blockSize, chunkSizes: [...chunkSizes] });
      expect(ours.rootHash).toBe(theirs.rootHash);
      expect(Buffer.compare(ours.image, theirs.image!)).toBe(0);
    }
    for (const concurrency of [1, 3]) {
      const fromFile = await buildTreeFromFile(dataPath, 0, data.length, parameters(blockSize, blockSize, { salt }), { concurrency, runBytes: 3 * blockSize });
      expect(Buffer.compare(fromFile.image, theirs.image!)).toBe(0);
    }
  });

  it("refuses data smaller than one block, as veritysetup does", async () => {
    for (const size of [0, 100]) {
      const dataPath = scratch.file(`tiny-${size}.data`, new Uint8Array(size));
      expect(veritysetupFormat(dataPath, scratch.file(`tiny-${size}.theirs`), 4096, 4096).error).toBeDefined();
      await expect(buildTree(new Uint8Array(size), parameters())).rejects.toThrow(/smaller than one 4096-byte data block/);
      await expect(buildTreeFromFile(dataPath, 0, size, parameters())).rejects.toThrow(/smaller than one 4096-byte data block/);
    }
  });

  it("reports a file that is shorter than the range to hash, on whichever thread reads the end", async () => {
    const dataPath = scratch.file("short.data", sampleData(64 * 4096, 5));
    for (const concurrency of [1, 2]) {
      await expect(buildTreeFromFile(dataPath, 4096, 80 * 4096, parameters(), { concurrency, runBytes: 4 * 4096 })).rejects.toThrow(/short\.data: ends at byte 262144, the verity tree covers 331776/);
    }
  });
});
