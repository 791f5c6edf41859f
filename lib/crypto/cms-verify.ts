/**
 * Reading and checking a one-signer PKCS#7/CMS SignedData (RFC 5652 §5.6): used by
 * `gptimg verify` for verity signatures and by sign-later to find the embedded certificate.
 * Trust is by certificate identity: the caller passes the certificate it trusts and the
 * signer's certificate must be exactly that one (no chain building or expiry checks; the
 * kernel and systemd do their own keyring checks at boot).
 */
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { ErrorCode, fail } from "../core/errors.js";
import { childrenOf, decodeObjectIdentifier, DerTag, expectTag, readTlv, readWhole, setOf, type DerNode } from "./der.js";
import { OID } from "./cms.js";
import { parseCertificate, type Certificate } from "./x509.js";

export interface ParsedSignedData {
  readonly contentType: string;
  /** Encapsulated content TLV when present (absent for detached signatures). */
  readonly content?: Uint8Array;
  readonly certificates: readonly Certificate[];
  /** The signer's certificate, found by issuer + serial number, when embedded. */
  readonly signer?: Certificate;
  readonly digestAlgorithm: string;
  /** Signed attributes re-encoded as SET OF (the bytes that were signed), when present. */
  readonly signedAttributes?: Uint8Array;
  /** messageDigest attribute value, when signed attributes are present. */
  readonly messageDigest?: Uint8Array;
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
}

/** ContentInfo { signedData, [0] SignedData } → the fields of its single SignerInfo. */
export function parseSignedData(der: Uint8Array, where: string): ParsedSignedData {
  const bad = (what: string): never => fail(ErrorCode.Signing, `${where}: ${what}`, "give a DER PKCS#7 SignedData (openssl smime -sign -binary -outform DER)");
  const contentInfo = childrenOf(readWhole(der, DerTag.Sequence, where), where);
  if (decodeObjectIdentifier(expectTag(contentInfo[0], DerTag.ObjectIdentifier, "contentType", where)) !== OID.signedData) bad("not a PKCS#7 SignedData");
  const wrapped = expectTag(contentInfo[1], DerTag.ContextConstructed0, "content [0]", where);
  const fields = childrenOf(expectTag(childrenOf(wrapped, where)[0], DerTag.Sequence, "SignedData", where), where);
  const encapsulated = childrenOf(expectTag(fields[2], DerTag.Sequence, "encapContentInfo", where), where);
  const contentType = decodeObjectIdentifier(expectTag(encapsulated[0], DerTag.ObjectIdentifier, "eContentType", where));
  const contentWrapper = encapsulated[1];
  let index = 3;
  const certificates: Certificate[] = [];
  if (fields[index]?.tag === DerTag.ContextConstructed0) {
    for (const node of childrenOf(fields[index]!, where)) if (node.tag === DerTag.Sequence) certificates.push(parseCertificate(node.raw, where));
    index++;
  }
  if (fields[index]?.tag === 0xa1) index++; // crls [1]
  const signerInfos = childrenOf(expectTag(fields[index], DerTag.Set, "signerInfos", where), where);
  if (signerInfos.length !== 1) bad(`${signerInfos.length} signers, expected exactly 1`);
  const info = childrenOf(signerInfos[0]!, where);
  const sid = childrenOf(expectTag(info[1], DerTag.Sequence, "issuerAndSerialNumber", where), where);
  const issuer = expectTag(sid[0], DerTag.Sequence, "issuer", where).raw;
  const serial = expectTag(sid[1], DerTag.Integer, "serialNumber", where).raw;
  const signer = certificates.find((certificate) => sameBytes(certificate.issuer, issuer) && sameBytes(certificate.serialNumber, serial));
  const digestAlgorithm = algorithmOf(info[2], "digestAlgorithm", where);
  let next = 3;
  let signedAttributes: Uint8Array | undefined;
  let messageDigest: Uint8Array | undefined;
  if (info[next]?.tag === DerTag.ContextConstructed0) {
    const attributes = childrenOf(info[next]!, where);
    signedAttributes = setOf(attributes.map((attribute) => attribute.raw));
    for (const attribute of attributes) {
      const [type, values] = childrenOf(attribute, where);
      if (type && values && decodeObjectIdentifier(type) === OID.messageDigest) messageDigest = childrenOf(values, where)[0]?.content;
    }
    next++;
  }
  const signatureAlgorithm = algorithmOf(info[next], "signatureAlgorithm", where);
  const signature = expectTag(info[next + 1], DerTag.OctetString, "signature", where).content;
  return {
    contentType,
    ...(contentWrapper ? { content: childrenOf(contentWrapper, where)[0]?.raw ?? new Uint8Array(0) } : {}),
    certificates,
    ...(signer ? { signer } : {}),
    digestAlgorithm,
    ...(signedAttributes ? { signedAttributes } : {}),
    ...(messageDigest ? { messageDigest } : {}),
    signatureAlgorithm,
    signature,
  };
}

/**
 * Checks a detached (or encapsulated) signature over `data`. Returns a one-line reason when it
 * does not verify, undefined when it does. `trusted`, when given, must be the signer.
 */
export function checkSignedData(der: Uint8Array, data: Uint8Array | undefined, where: string, trusted?: Certificate): string | undefined {
  const parsed = parseSignedData(der, where);
  const signer = parsed.signer;
  if (signer === undefined) return `${where}: the signer's certificate is not embedded`;
  if (trusted !== undefined && !sameBytes(signer.der, trusted.der)) return `${where}: signed by a different certificate than the one given`;
  if (parsed.digestAlgorithm !== OID.sha256) return `${where}: digest algorithm ${parsed.digestAlgorithm} is not SHA-256`;
  const signedContent = data ?? (parsed.content ? readTlv(parsed.content, 0, where).content : undefined);
  if (signedContent === undefined) return `${where}: detached signature but no data to check it against`;
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(signer.subjectPublicKeyInfo), format: "der", type: "spki" });
  } catch (error) {
    return `${where}: the signer's public key cannot be read (${(error as Error).message})`;
  }
  if (parsed.signedAttributes !== undefined) {
    const digest = new Uint8Array(createHash("sha256").update(signedContent).digest());
    if (parsed.messageDigest === undefined || !sameBytes(parsed.messageDigest, digest)) return `${where}: messageDigest attribute does not match the data`;
  }
  let ok: boolean;
  try {
    ok = verify("sha256", parsed.signedAttributes ?? signedContent, publicKey, parsed.signature);
  } catch {
    ok = false;
  }
  return ok ? undefined : `${where}: signature does not verify`;
}

function algorithmOf(node: DerNode | undefined, what: string, where: string): string {
  return decodeObjectIdentifier(expectTag(childrenOf(expectTag(node, DerTag.Sequence, what, where), where)[0], DerTag.ObjectIdentifier, what, where));
}

function sameBytes(left: Uint8Array, right: Uint8Array): boolean {
  return left.length === right.length && left.every((byte, index) => byte === right[index]);
}
