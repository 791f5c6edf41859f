/**
 * `gptimg verify` never crashes: damaged and truncated copies of a small signed image (usr
 * erofs + verity + verity-sig) each give exit 0 or 3, nothing on stderr, and exactly one JSON
 * document (and every fifth also takes a joined signature, or refuses it in one line). Half the damage re-seals the GPT CRCs so the bad values reach the DPS, pairing,
 * verity and signature code instead of stopping at "CRC mismatch".
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32 } from "../../lib/core/crc32.js";
import { makeKeyPairs } from "../crypto/keys.js";
import { GPTIMG_BIN } from "../support/cli.js";
import { oraclesAvailable } from "../support/oracles.js";
import { compose, writeUsrSpec, writeUsrTree, type Composed } from "./fixtures.js";

/** 200 at the default GPTIMG_FC_RUNS=25. */
const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25) * 8;
const SECTOR = 512;

const work = mkdtempSync(join(tmpdir(), "gptimg-verify-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Damage {
  readonly truncateTo: number | undefined;
  /** [offset, xor] pairs; offsets are fractions mapped onto "hot" regions of the image. */
  readonly flips: ReadonlyArray<readonly [number, number, number]>;
  readonly resealCrcs: boolean;
}

const damageArbitrary = fc.record({
  truncateTo: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 4, nil: undefined }),
  flips: fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 24 }),
  resealCrcs: fc.boolean(),
}).map((raw): Damage => ({ truncateTo: raw.truncateTo, flips: raw.flips.map(([region, fraction, xor]) => [region, fraction, xor] as const), resealCrcs: raw.resealCrcs }));

/** Regions: 0 GPT header, 1 entry array, 2 any byte, 3 hash superblock, 4 signature JSON, 5 partition starts. */
function damage(pristine: Uint8Array, composed: Composed, spec: Damage): Uint8Array {
  const bytes = Uint8Array.from(pristine);
  const [data, hash, signature] = composed.partitions;
  const regions: Array<[number, number]> = [
    [SECTOR, 92],
    [2 * SECTOR, 3 * 128],
    [0, bytes.length],
    [hash!.offset, 512],
    [signature!.offset, 2048],
    [data!.offset, 4096],
  ];
  for (const [region, fraction, xor] of spec.flips) {
    const [start, length] = regions[region]!;
    bytes[start + Math.floor(fraction * length)]! ^= xor;
  }
  if (spec.resealCrcs) reseal(bytes);
  if (spec.truncateTo === undefined) return bytes;
  return bytes.subarray(0, Math.floor(spec.truncateTo * bytes.length));
}

/** Recomputes the primary entry-array and header CRC32s (UEFI §5.3.2) over whatever is there now. */
function reseal(bytes: Uint8Array): void {
  const header = new DataView(bytes.buffer, bytes.byteOffset + SECTOR, SECTOR);
  const entries = header.getUint32(80, true);
  const entrySize = header.getUint32(84, true);
  const arrayBytes = entries * entrySize;
  if (arrayBytes > 0 && arrayBytes <= 64 * 1024 && 2 * SECTOR + arrayBytes <= bytes.length) {
    header.setUint32(88, crc32(bytes.subarray(2 * SECTOR, 2 * SECTOR + arrayBytes)), true);
  }
  const headerSize = Math.min(header.getUint32(12, true), SECTOR);
  header.setUint32(16, 0, true);
  header.setUint32(16, crc32(bytes.subarray(SECTOR, SECTOR + Math.max(headerSize, 92))), true);
}

function runGptimg(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [GPTIMG_BIN, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) => resolvePromise({ status, stdout, stderr }));
  });
}

describe.skipIf(!oraclesAvailable("openssl"))("gptimg verify on damaged images", () => {
  let composed: Composed;
  let pristine: Uint8Array;
  let certificatePath: string;
  let joinArgument: string;

  beforeAll(() => {
    const keys = makeKeyPairs(work);
    writeUsrTree(join(work, "usrtree"));
    composed = compose(writeUsrSpec(work, keys.rsa), join(work, "usr.raw"));
    pristine = readFileSync(composed.image);
    certificatePath = keys.rsa.certificatePath;
    const signaturePartition = composed.partitions[2]!;
    const json = Buffer.from(pristine.subarray(signaturePartition.offset, signaturePartition.offset + signaturePartition.size));
    joinArgument = `--join-signature=${composed.rootHash}:base64:${(JSON.parse(json.subarray(0, json.indexOf(0)).toString("utf8")) as { signature: string }).signature}`;
  }, 60_000);

  it(`never crashes: ${RUNS} damaged or truncated copies give exit 0 or 3 and one JSON document`, async () => {
    const cases = fc.sample(damageArbitrary, { numRuns: RUNS, seed: 0x5eed });
    let withErrors = 0;
    const runCase = async (index: number): Promise<void> => {
      const image = join(work, `case-${index}.raw`);
      writeFileSync(image, damage(pristine, composed, cases[index]!));
      const result = await runGptimg(["verify", image, "--json", "--workers", "1"]);
      const context = `case ${index}: ${JSON.stringify(cases[index])}`;
      // Every fifth copy also gets a signature joined: it is written (exit 0) or refused in one line (exit 1).
      if (index % 5 === 0) {
        const joined = await runGptimg(["repart", image, joinArgument, `--certificate=${certificatePath}`, "--workers", "1"]);
        expect([0, 1], `${context} join exit ${joined.status}: ${joined.stderr}`).toContain(joined.status);
        if (joined.status === 1) expect(joined.stderr, context).toMatch(/^gptimg: error: [^\n]*\n$/);
      }
      rmSync(image);
      expect(result.stderr, context).toBe("");
      expect([0, 3], `${context} exit ${result.status}`).toContain(result.status);
      const report = JSON.parse(result.stdout) as { findings: Array<{ severity: string; area: string; message: string }>; verity: unknown[] };
      expect(Array.isArray(report.findings) && Array.isArray(report.verity), context).toBe(true);
      for (const finding of report.findings) expect(finding.message.includes("\n"), context).toBe(false);
      if (result.status === 3) withErrors++;
    };
    // Two at a time: one per core.
    let next = 0;
    await Promise.all([0, 1].map(async () => {
      while (next < cases.length) await runCase(next++);
    }));
    // The damage must mostly be noticed, or this test exercises nothing.
    expect(withErrors).toBeGreaterThan(RUNS * 0.8);
  }, 170_000);
});
