/**
 * Verity signature partition (formats.md §2.4) checked with openssl: the JSON is compact in
 * repart's key order with only NULs after it; the embedded PKCS#7 verifies over the hex root
 * hash with `openssl smime -verify -binary` and fails with a trailing newline; signing later
 * with openssl's own signature gives the same partition as signing at compose time.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ascii, fromHex, fromUtf8 } from "../../../lib/core/bytes.js";
import { isGptimgError } from "../../../lib/core/errors.js";
import { fromBase64 } from "../../../lib/crypto/pem.js";
import { parsePem } from "../../../lib/crypto/pem.js";
import { checkVeritySignaturePartition, joinSignature, parseVeritySignature, signRootHash, VERITY_SIGNATURE_PARTITION_SIZE_BYTES, veritySignaturePartition } from "../../../lib/formats/verity/signature.js";
import { oraclesAvailable, run, runOk } from "../../support/oracles.js";
import { makeKeyPairs } from "../../crypto/keys.js";
import { scratchDirectory } from "./support.js";

const haveOracles = oraclesAvailable("openssl");
const scratch = scratchDirectory("gptimg-verity-sig-");
afterAll(() => scratch.remove());
const ROOT_HEX = "5438e1f03b11e30bb571d42ab041f98d5a53dd61c2c8a0d4cc3e5c4a1c8fbd09";
const rootHash = fromHex(ROOT_HEX);

describe.skipIf(!haveOracles)("verity signature partition", () => {
  const pairs = haveOracles ? makeKeyPairs(scratch.path) : undefined!;
  const rootPath = scratch.file("roothash.txt", ascii(ROOT_HEX));

  for (const name of ["rsa", "ec"] as const) {
    it(`${name}: compact JSON, NUL padding, openssl smime accepts the signature`, () => {
      const pair = pairs[name];
      const partition = veritySignaturePartition(rootHash, pair);
      expect(partition.length).toBe(VERITY_SIGNATURE_PARTITION_SIZE_BYTES);
      const end = partition.indexOf(0);
      expect(partition.subarray(end).every((byte) => byte === 0)).toBe(true);
      const text = fromUtf8(partition.subarray(0, end));
      const certificateDer = parsePem(pair.certificatePem, "crt")[0]!.der;
      const fingerprint = createHash("sha256").update(certificateDer).digest("hex");
      expect(text).toMatch(new RegExp(`^\\{"rootHash":"${ROOT_HEX}","certificateFingerprint":"${fingerprint}","signature":"[A-Za-z0-9+/]+=*"\\}$`));
      // The fingerprint is openssl's SHA-256 certificate fingerprint.
      const opensslFingerprint = runOk("openssl", ["x509", "-in", pair.certificatePath, "-noout", "-fingerprint", "-sha256"]).trim().split("=")[1]!.replace(/:/g, "").toLowerCase();
      expect(fingerprint).toBe(opensslFingerprint);
      const signaturePath = scratch.file(`${name}.sig.der`, fromBase64(JSON.parse(text).signature)!);
      runOk("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signaturePath, "-content", rootPath, "-CAfile", pair.certificatePath, "-purpose", "any", "-out", "/dev/null"]);
      const newlinePath = scratch.file(`${name}.roothash-nl.txt`, ascii(`${ROOT_HEX}\n`));
      expect(run("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signaturePath, "-content", newlinePath, "-CAfile", pair.certificatePath, "-purpose", "any", "-out", "/dev/null"]).status).not.toBe(0);
      expect(runOk("openssl", ["asn1parse", "-inform", "DER", "-in", signaturePath])).not.toMatch(/:contentType|:messageDigest/);
      expect(checkVeritySignaturePartition(partition, rootHash, pair.certificatePem)).toEqual([]);
      expect(parseVeritySignature(partition)).toMatchObject({ rootHash, certificateFingerprint: fingerprint });
    });
  }

  it("sign later with openssl's signature equals signing at compose time (RSA is deterministic)", () => {
    const signaturePath = scratch.file("external.der");
    runOk("openssl", ["smime", "-sign", "-binary", "-noattr", "-md", "sha256", "-outform", "DER", "-in", rootPath, "-signer", pairs.rsa.certificatePath, "-inkey", pairs.rsa.keyPath, "-out", signaturePath]);
    const external = new Uint8Array(readFileSync(signaturePath));
    const atCompose = veritySignaturePartition(rootHash, pairs.rsa);
    expect(Buffer.compare(joinSignature(rootHash, external), atCompose)).toBe(0);
    // Also from a partition that already names the root hash (re-signing).
    expect(Buffer.compare(joinSignature(atCompose, external), atCompose)).toBe(0);
  });

  it("sign later with an EC signature keeps it verbatim", () => {
    const signature = signRootHash(rootHash, pairs.ec);
    const joined = joinSignature(rootHash, signature);
    expect(Buffer.compare(parseVeritySignature(joined).signature, signature)).toBe(0);
    expect(checkVeritySignaturePartition(joined, rootHash, pairs.ec.certificatePem)).toEqual([]);
  });

  it("refuses a signature over a different root hash, and reports a wrong certificate", () => {
    const other = Uint8Array.from(rootHash);
    other[0]! ^= 1;
    const signature = signRootHash(other, pairs.rsa);
    expect(() => joinSignature(rootHash, signature)).toThrow(/signature does not verify over root hash 5438e1f0/);
    const partition = veritySignaturePartition(rootHash, pairs.rsa);
    expect(checkVeritySignaturePartition(partition, rootHash, pairs.ec.certificatePem)).toEqual([expect.stringMatching(/different certificate/)]);
    expect(checkVeritySignaturePartition(partition, other, pairs.rsa.certificatePem)).toEqual([expect.stringMatching(/is not the tree's root hash/)]);
  });

  it("key/certificate mismatch is a one-line GptimgError", () => {
    try {
      veritySignaturePartition(rootHash, { privateKeyPem: pairs.rsa.privateKeyPem, certificatePem: pairs.ec.certificatePem, privateKeyWhere: "--private-key=rsa.key", certificateWhere: "--certificate=ec.crt" });
      expect.unreachable();
    } catch (error) {
      expect(isGptimgError(error)).toBe(true);
      expect((error as Error).message).toMatch(/^--private-key=rsa\.key: private key does not belong to the certificate --certificate=ec\.crt; [^\n]+$/);
    }
  });
});

describe("parseVeritySignature (dissect-image rules)", () => {
  const encode = (text: string, size = 4096) => {
    const out = new Uint8Array(size);
    out.set(ascii(text));
    return out;
  };
  it("accepts a minimal object and ignores a missing fingerprint", () => {
    expect(parseVeritySignature(encode(`{"rootHash":"00ff","signature":"AAEC"}`))).toEqual({ rootHash: new Uint8Array([0, 255]), signature: new Uint8Array([0, 1, 2]) });
  });
  it("rejects garbage after the NUL, missing fields, bad hex/base64, empty partitions", () => {
    const trailing = encode(`{"rootHash":"00","signature":"AA=="}`);
    trailing[4000] = 1;
    for (const bytes of [trailing, encode(`{"signature":"AA=="}`), encode(`{"rootHash":"0g","signature":"AA=="}`), encode(`{"rootHash":"00","signature":"*"}`), encode(""), encode("[1]"), encode("{")]) {
      expect(() => parseVeritySignature(bytes, "sig.raw")).toThrow(/^sig\.raw: /);
    }
  });
});
