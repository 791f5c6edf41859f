/**
 * The verity signature partition (formats.md §2.4; repart `partition_format_verity_sig`,
 * dissect-image `dissected_image_load_verity_sig_partition`): compact JSON
 *   {"rootHash":"<hex>","certificateFingerprint":"<sha256 of cert DER, hex>","signature":"<base64 DER PKCS#7>"}
 * followed by NUL bytes to exactly 16384 bytes. The signature is PKCS#7 detached, without
 * signed attributes, over the lowercase hex root hash (no newline).
 */
import { ascii, fromHex, fromUtf8, toHex } from "../../core/bytes.js";
import { ErrorCode, fail, isGptimgError } from "../../core/errors.js";
import { OID, signedData } from "../../crypto/cms.js";
import { checkSignedData, parseSignedData } from "../../crypto/cms-verify.js";
import { fromBase64, toBase64 } from "../../crypto/pem.js";
import { certificateFingerprint, loadCertificates } from "../../crypto/x509.js";

/** repart VERITY_SIG_SIZE = 4 × 4096; SizeMinBytes=/SizeMaxBytes= are refused for it. */
export const VERITY_SIGNATURE_PARTITION_SIZE_BYTES = 16384;

/** dissect-image refuses signature partitions larger than this. */
const MAX_READ_SIZE_BYTES = 4 * 1024 * 1024;

export interface SigningKey {
  readonly privateKeyPem: string;
  readonly certificatePem: string;
  /** Names for messages, e.g. the --private-key/--certificate paths. */
  readonly privateKeyWhere?: string;
  readonly certificateWhere?: string;
}

export interface VeritySignature {
  readonly rootHash: Uint8Array;
  /** DER PKCS#7 SignedData. */
  readonly signature: Uint8Array;
  readonly certificateFingerprint?: string;
}

/** The PKCS#7 repart makes: PKCS7_sign(cert, key, NULL, hex, DETACHED|NOATTR|BINARY). */
export function signRootHash(rootHash: Uint8Array, key: SigningKey): Uint8Array {
  return signedData({
    contentType: OID.data,
    detachedData: ascii(toHex(rootHash)),
    signedAttributes: false,
    digest: "sha256",
    ...key,
  });
}

/** The whole 16 KiB partition for a root hash signed at compose time. */
export function veritySignaturePartition(rootHash: Uint8Array, key: SigningKey): Uint8Array {
  const certificate = loadCertificates(key.certificatePem, key.certificateWhere ?? "certificate")[0]!;
  return encodeVeritySignaturePartition({ rootHash, signature: signRootHash(rootHash, key), certificateFingerprint: certificateFingerprint(certificate) });
}

/** Pure encoder: compact JSON in repart's key order, NUL-padded to 16384 bytes. */
export function encodeVeritySignaturePartition(fields: VeritySignature): Uint8Array {
  const json = JSON.stringify({
    rootHash: toHex(fields.rootHash),
    ...(fields.certificateFingerprint !== undefined ? { certificateFingerprint: fields.certificateFingerprint } : {}),
    signature: toBase64(fields.signature),
  });
  const text = ascii(json);
  if (text.length >= VERITY_SIGNATURE_PARTITION_SIZE_BYTES) {
    fail(ErrorCode.Signing, `verity signature: JSON is ${text.length} bytes, does not fit the ${VERITY_SIGNATURE_PARTITION_SIZE_BYTES}-byte partition`, "use a smaller certificate (no chain) or key");
  }
  const out = new Uint8Array(VERITY_SIGNATURE_PARTITION_SIZE_BYTES);
  out.set(text, 0);
  return out;
}

/**
 * Reads a signature partition with dissect-image's rules: at most 4 MiB; JSON up to the first
 * NUL and only NULs after it; string fields rootHash (hex) and signature (base64) required;
 * certificateFingerprint optional.
 */
export function parseVeritySignature(bytes: Uint8Array, where = "verity signature partition"): VeritySignature {
  const bad = (what: string): never => fail(ErrorCode.Signing, `${where}: ${what}`, "rewrite it with gptimg (or systemd-repart)");
  if (bytes.length > MAX_READ_SIZE_BYTES) bad(`${bytes.length} bytes, larger than the 4 MiB systemd reads`);
  const nul = bytes.indexOf(0);
  const end = nul < 0 ? bytes.length : nul;
  for (let index = end; index < bytes.length; index++) if (bytes[index] !== 0) bad(`non-NUL byte at offset ${index} after the JSON`);
  if (end === 0) bad("empty (no signature was joined)");
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes.subarray(0, end)));
  } catch {
    return bad("not valid UTF-8 JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad("JSON is not an object");
  const record = value as Record<string, unknown>;
  const rootHash = record["rootHash"];
  const signature = record["signature"];
  const certificateFingerprint = record["certificateFingerprint"];
  if (typeof rootHash !== "string" || !/^([0-9a-fA-F]{2})+$/.test(rootHash)) bad(`"rootHash" is missing or not hex`);
  const signatureBytes = typeof signature === "string" && /^[A-Za-z0-9+/]+={0,2}$/.test(signature) ? fromBase64(signature) : undefined;
  if (signatureBytes === undefined) return bad(`"signature" is missing or not base64`);
  return {
    rootHash: fromHex(rootHash as string),
    signature: signatureBytes,
    ...(typeof certificateFingerprint === "string" ? { certificateFingerprint } : {}),
  };
}

/**
 * Sign later: builds the partition from a root hash (or a partition that already names one)
 * and an externally made DER signature — byte-identical to signing at compose time with the
 * same key. The signature must verify over the root hash; its embedded signer certificate
 * gives the fingerprint.
 */
export function joinSignature(rootHashOrPartition: Uint8Array, signatureDer: Uint8Array, where = "signature"): Uint8Array {
  const rootHash = rootHashOrPartition.length === VERITY_SIGNATURE_PARTITION_SIZE_BYTES
    ? parseVeritySignature(rootHashOrPartition).rootHash
    : rootHashOrPartition;
  const parsed = parseSignedData(signatureDer, where);
  const problem = checkSignedData(signatureDer, ascii(toHex(rootHash)), where);
  if (problem !== undefined) fail(ErrorCode.Signing, `${problem} over root hash ${toHex(rootHash)}`, "sign the lowercase hex root hash without a newline (openssl smime -sign -binary -noattr -outform DER)");
  return encodeVeritySignaturePartition({ rootHash, signature: signatureDer, ...(parsed.signer ? { certificateFingerprint: certificateFingerprint(parsed.signer) } : {}) });
}

/**
 * Checks a signature partition against a root hash and, optionally, the certificate the
 * caller trusts; returns one-line problems (empty when fine). For `gptimg verify`.
 */
export function checkVeritySignaturePartition(bytes: Uint8Array, rootHash: Uint8Array, trustedCertificatePem?: string, where = "verity signature partition"): string[] {
  try {
    const parsed = parseVeritySignature(bytes, where);
    const problems: string[] = [];
    if (toHex(parsed.rootHash) !== toHex(rootHash)) problems.push(`${where}: rootHash ${toHex(parsed.rootHash)} is not the tree's root hash ${toHex(rootHash)}`);
    const trusted = trustedCertificatePem === undefined ? undefined : loadCertificates(trustedCertificatePem, "certificate")[0];
    const problem = checkSignedData(parsed.signature, ascii(toHex(parsed.rootHash)), where, trusted);
    if (problem !== undefined) problems.push(problem);
    return problems;
  } catch (error) {
    if (isGptimgError(error)) return [error.message];
    throw error;
  }
}
