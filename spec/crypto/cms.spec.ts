/**
 * PKCS#7 SignedData against openssl (the oracle): `openssl smime -verify` and `openssl cms
 * -verify` accept our detached no-attribute signatures (verity) and our encapsulated
 * signatures with signed attributes (Authenticode shape); RSA PKCS#1 v1.5 is deterministic,
 * so our detached RSA signature must equal openssl's own `smime -sign -noattr` byte for byte.
 */
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { ascii } from "../../lib/core/bytes.js";
import { isGptimgError } from "../../lib/core/errors.js";
import { OID, signedData } from "../../lib/crypto/cms.js";
import { checkSignedData, parseSignedData } from "../../lib/crypto/cms-verify.js";
import { objectIdentifier, octetString, sequence, tlv, utf8String } from "../../lib/crypto/der.js";
import { parsePem } from "../../lib/crypto/pem.js";
import { loadCertificates } from "../../lib/crypto/x509.js";
import { oraclesAvailable, run, runOk } from "../support/oracles.js";
import { scratchDirectory } from "../formats/verity/support.js";
import { makeKeyPairs } from "./keys.js";

const haveOracles = oraclesAvailable("openssl");
const scratch = scratchDirectory("gptimg-cms-");
afterAll(() => scratch.remove());

describe.skipIf(!haveOracles)("signedData vs openssl", () => {
  const pairs = haveOracles ? makeKeyPairs(scratch.path) : undefined!;
  const message = ascii("5438e1f03b11e30bb571d42ab041f98d5a53dd61c2c8a0d4cc3e5c4a1c8fbd09");
  const messagePath = scratch.file("message.txt", message);

  it("test keys come in PKCS#8 and traditional PEM", () => {
    expect(parsePem(pairs.rsa.privateKeyPem, "k").map((block) => block.label)).toEqual(["PRIVATE KEY"]);
    expect(parsePem(pairs.rsaTraditional.privateKeyPem, "k").map((block) => block.label)).toEqual(["RSA PRIVATE KEY"]);
    expect(parsePem(pairs.ecTraditional.privateKeyPem, "k").map((block) => block.label)).toEqual(["EC PRIVATE KEY"]);
  });

  for (const name of ["rsa", "ec", "rsaTraditional", "ecTraditional"] as const) {
    it(`detached, no attributes (${name}): openssl smime and cms verify it`, () => {
      const pair = pairs[name];
      const signature = signedData({ contentType: OID.data, detachedData: message, digest: "sha256", privateKeyPem: pair.privateKeyPem, certificatePem: pair.certificatePem });
      const signaturePath = scratch.file(`${name}.detached.der`, signature);
      runOk("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signaturePath, "-content", messagePath, "-CAfile", pair.certificatePath, "-purpose", "any", "-out", "/dev/null"]);
      runOk("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", signaturePath, "-content", messagePath, "-CAfile", pair.certificatePath, "-purpose", "any", "-out", "/dev/null"]);
      const withNewline = scratch.file(`${name}.message-nl.txt`, ascii(`${String.fromCharCode(...message)}\n`));
      expect(run("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signaturePath, "-content", withNewline, "-CAfile", pair.certificatePath, "-purpose", "any", "-out", "/dev/null"]).status).not.toBe(0);
      const structure = runOk("openssl", ["asn1parse", "-inform", "DER", "-in", signaturePath]);
      expect(structure).toContain(":pkcs7-signedData");
      expect(structure).toContain(":sha256");
      expect(structure).not.toMatch(/:contentType|:messageDigest|:signingTime/);
      expect(checkSignedData(signature, message, "sig", loadCertificates(pair.certificatePem, "crt")[0])).toBeUndefined();
    });
  }

  it("RSA detached signature is byte-identical to openssl smime -sign -binary -noattr", () => {
    const ours = signedData({ contentType: OID.data, detachedData: message, digest: "sha256", privateKeyPem: pairs.rsa.privateKeyPem, certificatePem: pairs.rsa.certificatePem });
    const theirsPath = scratch.file("openssl.der");
    runOk("openssl", ["smime", "-sign", "-binary", "-noattr", "-md", "sha256", "-outform", "DER", "-in", messagePath, "-signer", pairs.rsa.certificatePath, "-inkey", pairs.rsa.keyPath, "-out", theirsPath]);
    expect(Buffer.compare(ours, readFileSync(theirsPath))).toBe(0);
  });

  for (const name of ["rsa", "ec"] as const) {
    it(`encapsulated content with signed attributes (${name}): openssl cms verifies and returns the content`, () => {
      const pair = pairs[name];
      const signingTime = { oid: "1.2.840.113549.1.9.5", values: [tlv(0x17, ascii("260101000000Z"))] };
      const signature = signedData({ contentType: OID.data, content: octetString(message), signedAttributes: [signingTime], digest: "sha256", privateKeyPem: pair.privateKeyPem, certificatePem: pair.certificatePem });
      const signaturePath = scratch.file(`${name}.attached.der`, signature);
      const output = runOk("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", signaturePath, "-CAfile", pair.certificatePath, "-purpose", "any"]);
      expect(output).toBe(String.fromCharCode(...message));
      runOk("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signaturePath, "-CAfile", pair.certificatePath, "-purpose", "any", "-out", "/dev/null"]);
      const structure = runOk("openssl", ["asn1parse", "-inform", "DER", "-in", signaturePath]);
      for (const attribute of [":contentType", ":messageDigest", ":signingTime"]) expect(structure).toContain(attribute);
      expect(checkSignedData(signature, undefined, "sig")).toBeUndefined();
    });
  }

  it("non-data content types are encapsulated PKCS#7-style (the content TLV itself in [0])", () => {
    const spcLike = sequence(objectIdentifier("1.3.6.1.4.1.311.2.1.15"), utf8String("payload"));
    const signature = signedData({ contentType: "1.3.6.1.4.1.311.2.1.4", content: spcLike, signedAttributes: true, digest: "sha256", privateKeyPem: pairs.rsa.privateKeyPem, certificatePem: pairs.rsa.certificatePem });
    const parsed = parseSignedData(signature, "sig");
    expect(parsed.contentType).toBe("1.3.6.1.4.1.311.2.1.4");
    expect(Buffer.compare(parsed.content!, spcLike)).toBe(0);
    expect(checkSignedData(signature, undefined, "sig")).toBeUndefined();
    // openssl's PKCS#7 reader accepts ANY content for other types.
    const signaturePath = scratch.file("spc.der", signature);
    expect(runOk("openssl", ["pkcs7", "-inform", "DER", "-in", signaturePath, "-print_certs", "-noout"])).toContain("subject=CN = gptimg test rsa");
    const structure = runOk("openssl", ["asn1parse", "-inform", "DER", "-in", signaturePath]);
    expect(structure).toContain("1.3.6.1.4.1.311.2.1.4");
  });

  it("a key that does not match the certificate is a one-line GptimgError", () => {
    try {
      signedData({ contentType: OID.data, detachedData: message, digest: "sha256", privateKeyPem: pairs.ec.privateKeyPem, certificatePem: pairs.rsa.certificatePem, privateKeyWhere: "--private-key=ec.pem", certificateWhere: "rsa.crt" });
      expect.unreachable();
    } catch (error) {
      expect(isGptimgError(error)).toBe(true);
      expect((error as Error).message).toBe("--private-key=ec.pem: private key does not belong to the certificate rsa.crt; pass the key the certificate was issued for");
    }
  });

  it("encrypted keys and non-PEM input are one-line GptimgErrors", () => {
    const encryptedPath = scratch.file("enc.pem");
    runOk("openssl", ["pkcs8", "-topk8", "-in", pairs.rsa.keyPath, "-out", encryptedPath, "-passout", "pass:x"]);
    const encrypted = readFileSync(encryptedPath, "utf8");
    for (const privateKeyPem of [encrypted, "not a key"]) {
      try {
        signedData({ contentType: OID.data, detachedData: message, digest: "sha256", privateKeyPem, certificatePem: pairs.rsa.certificatePem, privateKeyWhere: "k.pem" });
        expect.unreachable();
      } catch (error) {
        expect(isGptimgError(error)).toBe(true);
        expect((error as Error).message).toMatch(/^k\.pem: /);
        expect((error as Error).message).not.toContain("\n");
      }
    }
  });
});
