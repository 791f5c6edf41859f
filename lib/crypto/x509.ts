/**
 * Certificates and private keys from PEM: just enough X.509 (RFC 5280 §4.1) to name a signer
 * in CMS (issuer + serial number) and to check that a key belongs to a certificate.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { ErrorCode, fail } from "../core/errors.js";
import { childrenOf, DerTag, expectTag, readWhole } from "./der.js";
import { parsePem } from "./pem.js";

export interface Certificate {
  /** The whole certificate, as embedded in SignedData and fingerprinted by repart. */
  readonly der: Uint8Array;
  /** issuer Name, complete TLV (copied verbatim into IssuerAndSerialNumber). */
  readonly issuer: Uint8Array;
  /** serialNumber INTEGER, complete TLV. */
  readonly serialNumber: Uint8Array;
  /** subjectPublicKeyInfo, complete TLV. */
  readonly subjectPublicKeyInfo: Uint8Array;
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 * TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
 *                               validity, subject, subjectPublicKeyInfo, … }
 */
export function parseCertificate(der: Uint8Array, where: string): Certificate {
  const certificate = readWhole(der, DerTag.Sequence, where);
  const tbs = expectTag(childrenOf(certificate, where)[0], DerTag.Sequence, "tbsCertificate", where);
  const fields = childrenOf(tbs, where);
  const start = fields[0]?.tag === DerTag.ContextConstructed0 ? 1 : 0;
  return {
    der,
    serialNumber: expectTag(fields[start], DerTag.Integer, "serialNumber", where).raw,
    issuer: expectTag(fields[start + 2], DerTag.Sequence, "issuer", where).raw,
    subjectPublicKeyInfo: expectTag(fields[start + 5], DerTag.Sequence, "subjectPublicKeyInfo", where).raw,
  };
}

/** Every CERTIFICATE block of a PEM file, in order (the first is the signer's). */
export function loadCertificates(pem: string, where: string): Certificate[] {
  const certificates = parsePem(pem, where).filter((block) => block.label === "CERTIFICATE").map((block) => parseCertificate(block.der, where));
  if (certificates.length === 0) fail(ErrorCode.Signing, `${where}: no CERTIFICATE block`, "give the X.509 certificate in PEM form (openssl x509 -outform PEM)");
  return certificates;
}

/** SHA-256 of the certificate DER, lowercase hex: repart's "certificateFingerprint". */
export function certificateFingerprint(certificate: Certificate): string {
  return createHash("sha256").update(certificate.der).digest("hex");
}

/** PEM label → the encoding Node's OpenSSL binding needs to read the DER. */
const KEY_ENCODINGS: Record<string, "pkcs8" | "pkcs1" | "sec1"> = {
  "PRIVATE KEY": "pkcs8",
  "RSA PRIVATE KEY": "pkcs1",
  "EC PRIVATE KEY": "sec1",
};

/**
 * An RSA or EC private key from PEM: PKCS#8 ("PRIVATE KEY") or traditional ("RSA PRIVATE
 * KEY", "EC PRIVATE KEY"; an "EC PARAMETERS" block before it is skipped).
 */
export function loadPrivateKey(pem: string, where: string): KeyObject {
  const blocks = parsePem(pem, where);
  if (blocks.some((block) => block.label === "ENCRYPTED PRIVATE KEY")) {
    fail(ErrorCode.Signing, `${where}: the private key is encrypted`, "decrypt it first (openssl pkey -in KEY -out PLAIN.pem)");
  }
  const block = blocks.find((candidate) => candidate.label in KEY_ENCODINGS);
  if (block === undefined) fail(ErrorCode.Signing, `${where}: no private key block (found ${blocks.map((candidate) => candidate.label).join(", ")})`, "give an RSA or EC private key in PEM form");
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(block.der), format: "der", type: KEY_ENCODINGS[block.label]! });
  } catch (error) {
    return fail(ErrorCode.Signing, `${where}: cannot read the ${block.label} (${(error as Error).message})`, "check the key file");
  }
  if (key.asymmetricKeyType !== "rsa" && key.asymmetricKeyType !== "ec") {
    fail(ErrorCode.Signing, `${where}: ${key.asymmetricKeyType} keys are not supported`, "use an RSA or EC (P-256) key");
  }
  return key;
}

/** Fails unless the private key's public half is the certificate's subjectPublicKeyInfo. */
export function assertKeyMatchesCertificate(key: KeyObject, certificate: Certificate, keyWhere: string, certificateWhere: string): void {
  // Both sides go through OpenSSL's SPKI encoder so equivalent encodings compare equal.
  const fromKey = createPublicKey(key).export({ format: "der", type: "spki" });
  const fromCertificate = createPublicKey({ key: Buffer.from(certificate.subjectPublicKeyInfo), format: "der", type: "spki" }).export({ format: "der", type: "spki" });
  if (!fromKey.equals(fromCertificate)) {
    fail(ErrorCode.Signing, `${keyWhere}: private key does not belong to the certificate ${certificateWhere}`, "pass the key the certificate was issued for");
  }
}
