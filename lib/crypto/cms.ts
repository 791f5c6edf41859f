/**
 * PKCS#7 / CMS SignedData (RFC 2315 §9, RFC 5652 §5) with one signer.
 *
 * Two shapes are needed:
 *  (a) dm-verity root-hash signatures: detached, no signed attributes — what OpenSSL's
 *      PKCS7_sign(…, PKCS7_DETACHED|PKCS7_NOATTR|PKCS7_BINARY) writes and the kernel's
 *      root_hash_sig_key_desc and systemd accept (formats.md §2.4);
 *  (b) Authenticode-style: content encapsulated in [0] EXPLICIT as PKCS#7 puts it (the content
 *      TLV itself, e.g. SpcIndirectDataContent, not an OCTET STRING around it) with signed
 *      attributes contentType + messageDigest (+ caller-supplied ones).
 *
 * The ASN.1 is assembled here; the signature primitive comes from node:crypto (OpenSSL
 * underneath): RSA PKCS#1 v1.5 or ECDSA with DER-encoded (r, s). That avoids a new dependency
 * for the one part that must be constant-time and well reviewed, while the byte layout stays
 * under our control (no OpenSSL CMS defaults such as signingTime or SMIMECapabilities).
 */
import { createHash, sign, type KeyObject } from "node:crypto";
import { concatBytes } from "../core/bytes.js";
import { algorithmIdentifier, DerTag, explicit, integer, objectIdentifier, octetString, readTlv, sequence, setOf, tlv } from "./der.js";
import { assertKeyMatchesCertificate, loadCertificates, loadPrivateKey } from "./x509.js";

export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  sha256: "2.16.840.1.101.3.4.2.1",
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
} as const;

/** One signed attribute: Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY }. */
export interface SignedAttribute {
  readonly oid: string;
  /** Complete DER TLVs of the values. */
  readonly values: readonly Uint8Array[];
}

export interface SignedDataOptions {
  /** eContentType: OID.data for plain data, or e.g. SPC_INDIRECT_DATA_OBJID for Authenticode. */
  readonly contentType: string;
  /** DER TLV of the encapsulated content (placed inside [0] EXPLICIT). Excludes detachedData. */
  readonly content?: Uint8Array;
  /** Bytes signed but not included (detached signature). Excludes content. */
  readonly detachedData?: Uint8Array;
  /** false/absent: none (NOATTR). true: contentType + messageDigest. Array: those plus these. */
  readonly signedAttributes?: boolean | readonly SignedAttribute[];
  readonly privateKeyPem: string;
  /** Signer certificate first; further CERTIFICATE blocks are included as the chain. */
  readonly certificatePem: string;
  readonly digest: "sha256";
  /** Names of the key and certificate inputs for error messages (e.g. "--private-key=k.pem"). */
  readonly privateKeyWhere?: string;
  readonly certificateWhere?: string;
}

/** Builds ContentInfo { signedData, [0] SignedData } as DER. */
export function signedData(options: SignedDataOptions): Uint8Array {
  const keyWhere = options.privateKeyWhere ?? "private key";
  const certificateWhere = options.certificateWhere ?? "certificate";
  if ((options.content === undefined) === (options.detachedData === undefined)) {
    throw new Error("internal: signedData needs exactly one of content and detachedData");
  }
  const key = loadPrivateKey(options.privateKeyPem, keyWhere);
  const certificates = loadCertificates(options.certificatePem, certificateWhere);
  const signer = certificates[0]!;
  assertKeyMatchesCertificate(key, signer, keyWhere, certificateWhere);

  // RFC 2315 §9.3: the digest covers the content's value octets (no tag/length), which for
  // id-data is the data itself and for Authenticode the SpcIndirectDataContent body.
  const digested = options.detachedData ?? readTlv(options.content!, 0, "signedData content").content;
  const messageDigest = createHash(options.digest).update(digested).digest();

  let signedAttributesSet: Uint8Array | undefined;
  if (options.signedAttributes) {
    const extra = options.signedAttributes === true ? [] : options.signedAttributes;
    const attributes: SignedAttribute[] = [
      { oid: OID.contentType, values: [objectIdentifier(options.contentType)] },
      { oid: OID.messageDigest, values: [octetString(messageDigest)] },
      ...extra,
    ];
    signedAttributesSet = setOf(attributes.map((attribute) => sequence(objectIdentifier(attribute.oid), setOf(attribute.values))));
  }
  // RFC 5652 §5.4: with attributes the signature covers their DER as an explicit SET OF
  // (tag 0x31), although they are stored as [0] IMPLICIT; without them, the content itself.
  const signature = new Uint8Array(sign(options.digest, signedAttributesSet ?? digested, key));

  const digestAlgorithm = algorithmIdentifier(OID.sha256, true);
  const signerInfo = sequence(
    integer(1),
    sequence(signer.issuer, signer.serialNumber),
    digestAlgorithm,
    ...(signedAttributesSet ? [tlv(DerTag.ContextConstructed0, signedAttributesSet.subarray(contentOffset(signedAttributesSet)))] : []),
    signatureAlgorithm(key),
    octetString(signature),
  );
  const encapsulated = sequence(objectIdentifier(options.contentType), ...(options.content ? [explicit(0, options.content)] : []));
  const body = sequence(
    // PKCS#7 v1.5 SignedData version 1, as OpenSSL's PKCS7_sign and Authenticode write it.
    integer(1),
    setOf([digestAlgorithm]),
    encapsulated,
    tlv(DerTag.ContextConstructed0, concatBytes(certificates.map((certificate) => certificate.der))),
    setOf([signerInfo]),
  );
  return sequence(objectIdentifier(OID.signedData), explicit(0, body));
}

/** OpenSSL's choices (PKCS7_SIGNER_INFO_set): rsaEncryption + NULL, or ecdsa-with-SHA256. */
function signatureAlgorithm(key: KeyObject): Uint8Array {
  return key.asymmetricKeyType === "rsa" ? algorithmIdentifier(OID.rsaEncryption, true) : algorithmIdentifier(OID.ecdsaWithSha256, false);
}

function contentOffset(encoded: Uint8Array): number {
  return encoded.length - readTlv(encoded, 0, "internal").content.length;
}
