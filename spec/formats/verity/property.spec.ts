/**
 * Property (oracle veritysetup): for random data sizes and block sizes our tree verifies with
 * `veritysetup verify` and has `veritysetup format`'s root hash; flipping one byte of the
 * covered data or of the tree makes veritysetup verify and our verifyVerity both fail.
 * hashVerityFile, reading the same data from inside a larger file in runs of a few blocks
 * on two threads, gives the same hash image; verifyVerity on a file slice (its path) finds
 * the flipped data block too.
 */
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { BytesSource, FileSliceSource } from "../../../lib/io/source.js";
import { fromHex } from "../../../lib/core/bytes.js";
import { planVerity } from "../../../lib/formats/verity/plan.js";
import { verifyVerity } from "../../../lib/formats/verity/verify.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { buildTree, buildTreeFromFile, parameters, sampleData, scratchDirectory, veritysetupFormat, veritysetupVerify } from "./support.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);
const haveOracles = oraclesAvailable("veritysetup");
const scratch = scratchDirectory("gptimg-verity-prop-");
afterAll(() => scratch.remove());

const blockSize = fc.constantFrom(512, 1024, 2048, 4096);

describe.skipIf(!haveOracles)("verity property vs veritysetup", () => {
  it("verifies, matches veritysetup format, and any flipped byte fails both verifiers", async () => {
    let round = 0;
    await fc.assert(fc.asyncProperty(
      blockSize, blockSize,
      fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 700 })),
      fc.integer({ min: 0, max: 4095 }),
      fc.boolean(), fc.boolean(), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 }),
      fc.integer({ min: 0, max: 3 * 4096 }), fc.integer({ min: 1, max: 40 }),
      async (dataBlockSize, hashBlockSize, dataBlocks, extraBytes, zeroHeavy, flipTree, flipWhere, flipMask, leadBytes, runBlocks) => {
        const size = dataBlocks * dataBlockSize + (extraBytes % dataBlockSize);
        const data = sampleData(size, size * 31 + round, zeroHeavy);
        const tag = `r${round++}`;
        const dataPath = scratch.file(`${tag}.data`, data);
        const ours = await buildTree(data, parameters(dataBlockSize, hashBlockSize), { concurrency: 2, batchBytes: 32 * 1024 });
        const hashPath = scratch.file(`${tag}.hash`, ours.image);
        const theirs = veritysetupFormat(dataPath, scratch.file(`${tag}.theirs`), dataBlockSize, hashBlockSize);
        expect(theirs.rootHash).toBe(ours.rootHash);
        expect(veritysetupVerify(dataPath, hashPath, ours.rootHash)).toBe(true);
        const clean = await verifyVerity(new BytesSource(data), new BytesSource(ours.image), fromHex(ours.rootHash), { concurrency: 1 });
        expect(clean.findings).toEqual([]);

        const framed = new Uint8Array(leadBytes + size + 777).fill(0xa5);
        framed.set(data, leadBytes);
        const framedPath = scratch.file(`${tag}.framed`, framed);
        const fromFile = await buildTreeFromFile(framedPath, leadBytes, size, parameters(dataBlockSize, hashBlockSize), { runBytes: runBlocks * dataBlockSize });
        expect(fromFile.rootHash).toBe(ours.rootHash);
        expect(Buffer.compare(fromFile.image, ours.image)).toBe(0);

        // Flip inside the covered data, or inside the levels (the superblock block's padding
        // is not hashed; with one data block there are no levels, so flip data then).
        const plan = planVerity(size, parameters(dataBlockSize, hashBlockSize));
        const treeStart = plan.superblockBlocks * hashBlockSize;
        const inTree = flipTree && plan.levels.length > 0;
        const flippedData = Uint8Array.from(data);
        const flippedImage = Uint8Array.from(ours.image);
        if (inTree) {
          flippedImage[treeStart + Math.floor(flipWhere * (ours.image.length - treeStart - 1))]! ^= flipMask;
        } else {
          flippedData[Math.floor(flipWhere * (plan.dataBlocks * dataBlockSize - 1))]! ^= flipMask;
        }
        const badDataPath = scratch.file(`${tag}.bad.data`, flippedData);
        const badHashPath = scratch.file(`${tag}.bad.hash`, flippedImage);
        expect(veritysetupVerify(badDataPath, badHashPath, ours.rootHash)).toBe(false);
        const broken = await verifyVerity(new BytesSource(flippedData), new BytesSource(flippedImage), fromHex(ours.rootHash), { concurrency: 1 });
        expect(broken.ok).toBe(false);
        if (!inTree) expect(broken.findings.map((finding) => finding.kind)).toEqual(["data-block"]);
        const brokenFile = await verifyVerity(new FileSliceSource(badDataPath, 0, size), new BytesSource(flippedImage), fromHex(ours.rootHash), { concurrency: 2 });
        const where = (findings: typeof broken.findings): unknown[] => findings.map(({ kind, level, block, count }) => ({ kind, level, block, count }));
        expect(where(brokenFile.findings)).toEqual(where(broken.findings));
      },
    ), { numRuns: RUNS });
  });
});
