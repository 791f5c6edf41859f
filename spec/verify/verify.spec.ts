/**
 * `gptimg verify` and `gptimg repart --join-signature` on composed images, judged against real
 * tools: veritysetup must reject what we call corrupt, sgdisk must complain about the header
 * we damaged, openssl must accept the signature we join; the joined partition must equal the
 * one signed at compose time byte for byte.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { openSync, closeSync, readSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeKeyPairs, type TestKeyPair } from "../crypto/keys.js";
import { gptimg } from "../support/cli.js";
import { extractRange, sgdiskProblems } from "../support/image.js";
import { oraclesAvailable, run, runOk } from "../support/oracles.js";
import { compose, writeUsrSpec, writeUsrTree, type Composed } from "./fixtures.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-verify-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Report {
  findings: Array<{ severity: string; area: string; message: string }>;
  verity: Array<{ dataIndex: number; hashIndex: number; signatureIndex?: number; rootHash: string; ok: boolean }>;
}

function verify(image: string, ...args: string[]): { status: number; report: Report } {
  const result = gptimg(["verify", image, "--json", ...args]);
  expect(result.stderr).toBe("");
  return { status: result.status, report: JSON.parse(result.stdout) as Report };
}

function flipByte(image: string, offsetBytes: number): void {
  const handle = openSync(image, "r+");
  try {
    const byte = Buffer.alloc(1);
    readSync(handle, byte, 0, 1, offsetBytes);
    byte[0] = byte[0]! ^ 0x5a;
    writeSync(handle, byte, 0, 1, offsetBytes);
  } finally {
    closeSync(handle);
  }
}

function copy(composed: Composed, name: string): string {
  const path = join(work, name);
  copyFileSync(composed.image, path);
  return path;
}

/** veritysetup verify on the partitions extracted from `image`: true if it accepts them. */
function veritysetupAccepts(image: string, composed: Composed, dataIndex: number, hashIndex: number): boolean {
  const data = composed.partitions[dataIndex]!;
  const hash = composed.partitions[hashIndex]!;
  extractRange(image, data.offset, data.size, join(work, "data.img"));
  extractRange(image, hash.offset, hash.size, join(work, "hash.img"));
  return run("veritysetup", ["verify", join(work, "data.img"), join(work, "hash.img"), composed.rootHash]).status === 0;
}

describe.skipIf(!oraclesAvailable("veritysetup", "sgdisk", "openssl"))("gptimg verify", () => {
  let example: Composed;
  let usr: Composed;
  let keys: { rsa: TestKeyPair; ec: TestKeyPair };

  beforeAll(() => {
    keys = makeKeyPairs(work);
    example = compose(resolve("examples/minimal/spec.json"), join(work, "example.raw"));
    writeUsrTree(join(work, "usrtree"));
    usr = compose(writeUsrSpec(work, keys.rsa), join(work, "usr.raw"));
  }, 120_000);

  it("finds nothing in clean images, and says which pairs it checked", () => {
    const plain = verify(example.image);
    expect(plain.report.findings).toEqual([]);
    expect(plain.status).toBe(0);
    expect(plain.report.verity).toEqual([{ dataIndex: 2, hashIndex: 3, rootHash: example.rootHash, ok: true }]);
    const signed = verify(usr.image, `--certificate=${keys.rsa.certificatePath}`);
    expect(signed.report.findings).toEqual([]);
    expect(signed.status).toBe(0);
    expect(signed.report.verity).toEqual([{ dataIndex: 1, hashIndex: 2, signatureIndex: 3, rootHash: usr.rootHash, ok: true }]);
    expect(veritysetupAccepts(usr.image, usr, 0, 1)).toBe(true);
  });

  it("reports a flipped data byte by block, as veritysetup rejects it", () => {
    const image = copy(usr, "data-flip.raw");
    const block = 37;
    flipByte(image, usr.partitions[0]!.offset + block * 4096 + 1234);
    const { status, report } = verify(image);
    expect(status).toBe(3);
    expect(report.findings).toEqual([{ severity: "error", area: "verity", message: expect.stringContaining(`data block ${block} does not match`) }]);
    expect(report.verity[0]!.ok).toBe(false);
    expect(veritysetupAccepts(image, usr, 0, 1)).toBe(false);

    const root = copy(example, "example-flip.raw");
    flipByte(root, example.partitions[1]!.offset + 100);
    expect(verify(root).report.findings.map((finding) => finding.message)).toEqual([expect.stringContaining("data block 0 does not match the root hash")]);
    expect(veritysetupAccepts(root, example, 1, 2)).toBe(false);
  });

  it("reports a flipped byte in a hash block, as veritysetup rejects it", () => {
    const image = copy(usr, "hash-flip.raw");
    // Hash image: superblock block, top block, then the two leaf blocks; flip the second leaf.
    flipByte(image, usr.partitions[1]!.offset + 3 * 4096 + 64);
    const { status, report } = verify(image);
    expect(status).toBe(3);
    // Byte 64 of leaf block 1 is digest slot 2 there: data block 128 + 2 no longer matches either.
    expect(report.findings.map((finding) => finding.message)).toEqual([
      expect.stringContaining("hash block 1 of level 0 does not match its digest in level 1"),
      expect.stringContaining("data block 130 does not match its digest in the hash tree"),
    ]);
    expect(veritysetupAccepts(image, usr, 0, 1)).toBe(false);
  });

  it("reports a bad primary header CRC, as sgdisk does", () => {
    const image = copy(example, "crc.raw");
    flipByte(image, 512 + 0x48); // PartitionEntryLBA, inside the CRC-covered header
    const { status, report } = verify(image);
    expect(status).toBe(3);
    expect(report.findings).toContainEqual({ severity: "error", area: "gpt", message: "primary header CRC32 mismatch" });
    expect(sgdiskProblems(image)).not.toEqual([]);
  });

  it("reports a signature made by another certificate than the one given", () => {
    const { status, report } = verify(usr.image, `--certificate=${keys.ec.certificatePath}`);
    expect(status).toBe(3);
    expect(report.findings).toEqual([{ severity: "error", area: "signature", message: expect.stringContaining("signed by a different certificate than the one given") }]);
    expect(run("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signatureOf(usr.image, usr), "-content", rootHashFile(usr), "-CAfile", keys.ec.certificatePath, "-purpose", "any", "-out", "/dev/null"]).status).not.toBe(0);
  });

  it("a bad certificate file is a usage error", () => {
    writeFileSync(join(work, "not-a-cert.pem"), "hello\n");
    const result = gptimg(["verify", usr.image, `--certificate=${join(work, "not-a-cert.pem")}`]);
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(gptimg(["verify", join(work, "missing.raw")]).status).toBe(1);
  });

  it("sign later: joining an openssl signature gives the partition signed at compose time", () => {
    const signatureStart = usr.partitions[2]!.offset;
    const reserved = copy(usr, "reserved.raw");
    const handle = openSync(reserved, "r+");
    writeSync(handle, Buffer.alloc(usr.partitions[2]!.size), 0, usr.partitions[2]!.size, signatureStart);
    closeSync(handle);
    expect(verify(reserved).report.findings.map((finding) => finding.message)).toEqual([expect.stringContaining("empty (no signature was joined)")]);

    const der = join(work, "roothash.p7s");
    runOk("openssl", ["smime", "-sign", "-binary", "-noattr", "-outform", "DER", "-in", rootHashFile(usr), "-signer", keys.rsa.certificatePath, "-inkey", keys.rsa.keyPath, "-out", der]);
    const joined = gptimg(["repart", reserved, `--join-signature=${usr.rootHash}:${der}`, `--certificate=${keys.rsa.certificatePath}`]);
    expect(joined.stderr).toBe("");
    expect(joined.status).toBe(0);
    expect(Buffer.compare(readFileSync(reserved), readFileSync(usr.image))).toBe(0);
    expect(verify(reserved, `--certificate=${keys.rsa.certificatePath}`).report.findings).toEqual([]);
    runOk("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signatureOf(reserved, usr), "-content", rootHashFile(usr), "-CAfile", keys.rsa.certificatePath, "-purpose", "any", "-out", "/dev/null"]);

    // base64: form, re-joining over an existing JSON that names the same root hash.
    const again = gptimg(["repart", reserved, `--join-signature=${usr.rootHash}:base64:${readFileSync(der).toString("base64")}`, `--certificate=${keys.rsa.certificatePath}`]);
    expect(again.status).toBe(0);
    expect(Buffer.compare(readFileSync(reserved), readFileSync(usr.image))).toBe(0);
  });

  it("sign later with gptimg compose: compose with a throwaway key, join the real signature over it", () => {
    const throwaway = compose(writeUsrSpec(work, keys.ec, "throwaway.json"), join(work, "throwaway.raw"));
    expect(throwaway.rootHash).toBe(usr.rootHash);
    const der = join(work, "real.p7s");
    runOk("openssl", ["smime", "-sign", "-binary", "-noattr", "-outform", "DER", "-in", rootHashFile(usr), "-signer", keys.rsa.certificatePath, "-inkey", keys.rsa.keyPath, "-out", der]);
    const joined = gptimg(["repart", throwaway.image, `--join-signature=${usr.rootHash}:${der}`, `--certificate=${keys.rsa.certificatePath}`]);
    expect(joined.status, joined.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(throwaway.image), readFileSync(usr.image))).toBe(0);
  });

  it("join refuses a wrong signer, a wrong root hash and a missing certificate, writing nothing", () => {
    const image = copy(usr, "join-refused.raw");
    const before = readFileSync(image);
    const ecSigned = join(work, "ec.p7s");
    runOk("openssl", ["smime", "-sign", "-binary", "-noattr", "-outform", "DER", "-in", rootHashFile(usr), "-signer", keys.ec.certificatePath, "-inkey", keys.ec.keyPath, "-out", ecSigned]);
    const cases: Array<[string[], RegExp]> = [
      [[`--join-signature=${usr.rootHash}:${ecSigned}`, `--certificate=${keys.rsa.certificatePath}`], /different certificate/],
      [[`--join-signature=${"ab".repeat(32)}:${ecSigned}`, `--certificate=${keys.ec.certificatePath}`], /no verity data\/hash partitions/],
      [[`--join-signature=${usr.rootHash}:${ecSigned}`], /without --certificate=/],
      [[`--join-signature=${usr.rootHash}:base64:!!`, `--certificate=${keys.ec.certificatePath}`], /not base64/],
    ];
    for (const [args, message] of cases) {
      const result = gptimg(["repart", image, ...args]);
      expect(result.status, args.join(" ")).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    expect(Buffer.compare(readFileSync(image), before)).toBe(0);
  });
});

function rootHashFile(composed: Composed): string {
  const path = join(work, `${composed.rootHash}.txt`);
  writeFileSync(path, composed.rootHash);
  return path;
}

/** The DER signature from an image's signature partition JSON, written to a file for openssl. */
function signatureOf(image: string, composed: Composed): string {
  const partition = composed.partitions[2]!;
  extractRange(image, partition.offset, partition.size, join(work, "sig.img"));
  const bytes = readFileSync(join(work, "sig.img"));
  const json = JSON.parse(bytes.subarray(0, bytes.indexOf(0)).toString("utf8")) as { signature: string };
  const path = join(work, "sig.der");
  writeFileSync(path, Buffer.from(json.signature, "base64"));
  return path;
}
