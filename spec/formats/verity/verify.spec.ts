/** verifyVerity findings name the level/block at fault and never throw on damaged input. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromHex } from "../../../lib/core/bytes.js";
import { BytesSource } from "../../../lib/io/source.js";
import { planVerity } from "../../../lib/formats/verity/plan.js";
import { verifyVerity } from "../../../lib/formats/verity/verify.js";
import { buildTree, parameters, sampleData } from "./support.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);

describe("verifyVerity", async () => {
  const data = sampleData(300 * 4096, 3);
  const built = await buildTree(data, parameters());
  const root = fromHex(built.rootHash);
  const plan = planVerity(data.length, parameters());
  const check = (dataBytes: Uint8Array, image: Uint8Array, rootHash = root) =>
    verifyVerity(new BytesSource(dataBytes, "data.img"), new BytesSource(image, "hash.img"), rootHash, { concurrency: 1 });

  it("accepts the intact pair", async () => {
    expect(await check(data, built.image)).toMatchObject({ ok: true, findings: [] });
  });

  it("names the first corrupted data block", async () => {
    const bad = Uint8Array.from(data);
    bad[123 * 4096 + 5]! ^= 1;
    bad[200 * 4096]! ^= 1;
    const result = await check(bad, built.image);
    expect(result.findings).toEqual([expect.objectContaining({ kind: "data-block", block: 123, count: 2 })]);
    expect(result.findings[0]!.message).toMatch(/^data\.img: data block 123 /);
  });

  it("names the corrupted hash block and its level", async () => {
    const bad = Uint8Array.from(built.image);
    bad[plan.levels[0]!.offsetBytes + 2 * 4096 + 7]! ^= 0x80;
    const result = await check(data, bad);
    expect(result.findings).toEqual([
      expect.objectContaining({ kind: "hash-block", level: 0, block: 2, count: 1 }),
      expect.objectContaining({ kind: "data-block", block: 256 }),
    ]);
  });

  it("reports a wrong root hash, a short hash device and a damaged superblock", async () => {
    const wrongRoot = Uint8Array.from(root);
    wrongRoot[0]! ^= 1;
    expect((await check(data, built.image, wrongRoot)).findings.map((finding) => finding.kind)).toEqual(["root-hash"]);
    expect((await check(data, built.image.subarray(0, 8192))).findings.map((finding) => finding.kind)).toEqual(["size"]);
    expect((await check(data.subarray(0, 4096), built.image)).findings.map((finding) => finding.kind)).toEqual(["size"]);
    const noMagic = Uint8Array.from(built.image);
    noMagic[1] = 0;
    expect((await check(data, noMagic)).findings.map((finding) => finding.kind)).toEqual(["superblock"]);
  });

  it("never throws on fuzzed hash devices", async () => {
    await fc.assert(fc.asyncProperty(
      fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.integer({ min: 0, max: 511 }), fc.integer({ min: 0, max: 255 }),
      async (noise, position, value) => {
        const image = Uint8Array.from(built.image.subarray(0, 512 + noise.length));
        image.set(noise.subarray(0, Math.max(0, image.length - 512)), 512);
        image[position] = value;
        const result = await check(data.subarray(0, 64 * 4096), image);
        expect(result.ok).toBe(false);
      },
    ), { numRuns: RUNS * 4 });
  });
});
