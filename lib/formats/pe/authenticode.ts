/**
 * Authenticode signing of PE images for UEFI Secure Boot (Microsoft "Windows Authenticode
 * Portable Executable Signature Format", sections "Calculating the PE Image Hash" and
 * "Authenticode-Specific Structures"), the way sbsign and osslsigncode do it:
 *
 *  1. Image hash (SHA-256) over: the headers up to SizeOfHeaders except OptionalHeader.CheckSum
 *     and the Certificate Table data directory entry; each section's raw data
 *     (PointerToRawData, SizeOfRawData) in file order; then any data after the last section up
 *     to the certificate table (the end of file when unsigned).
 *  2. SpcIndirectDataContent { SpcAttributeTypeAndOptionalValue { SPC_PE_IMAGE_DATAOBJ,
 *     SpcPeImageData { flags '', file [0] { [2] { [0] BMPString "<<<Obsolete>>>" } } } },
 *     DigestInfo { sha256, imageHash } } — the encoding sbsign writes.
 *  3. PKCS#7 SignedData over it (lib/crypto signedData) with signed attributes contentType =
 *     SPC_INDIRECT_DATA_OBJID, messageDigest, and an empty SpcSpOpusInfo (as sbsign).
 *  4. WIN_CERTIFICATE { dwLength, wRevision 0x0200, wCertificateType PKCS_SIGNED_DATA, DER }
 *     padded to 8 bytes, appended at the (8-byte aligned) end of the file; data directory 4
 *     set to its file offset and size; CheckSum recomputed over the result.
 *
 * Only unsigned images are signed: an existing certificate table is an error (re-signing
 * would have to decide whether to append or replace; gptimg signs what it just built).
 */
import { createHash } from "node:crypto";
import { view } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { alignUp } from "../../core/int.js";
import { algorithmIdentifier, DerTag, explicit, objectIdentifier, octetString, sequence, tlv } from "../../crypto/der.js";
import { OID, signedData } from "../../crypto/cms.js";
import { peChecksum } from "./checksum.js";
import { DataDirectory, WIN_CERT_REVISION_2_0, WIN_CERT_TYPE_PKCS_SIGNED_DATA, WIN_CERTIFICATE, WIN_CERTIFICATE_ALIGNMENT, WIN_CERTIFICATE_HEADER_SIZE } from "./layout.js";
import { parsePe, type PeImage } from "./parse.js";

export const AUTHENTICODE_OID = {
  spcIndirectData: "1.3.6.1.4.1.311.2.1.4",
  spcPeImageData: "1.3.6.1.4.1.311.2.1.15",
  spcSpOpusInfo: "1.3.6.1.4.1.311.2.1.12",
} as const;

/** "<<<Obsolete>>>" as UTF-16BE, the SpcLink file name every Authenticode signer writes. */
const OBSOLETE_BMP = Uint8Array.from([..."<<<Obsolete>>>"].flatMap((char) => [0, char.charCodeAt(0)]));

export interface SignPeOptions {
  /** Names of the inputs for error messages, e.g. "boot.secureBoot.key". */
  readonly privateKeyWhere?: string;
  readonly certificateWhere?: string;
  /** What is being signed, for messages ("UKI", "systemd-boot"). */
  readonly imageWhere?: string;
}

/** Returns a signed copy of an unsigned PE32+ image. */
export function signPe(bytes: Uint8Array, privateKeyPem: string, certificatePem: string, options: SignPeOptions = {}): Uint8Array {
  const where = options.imageWhere ?? "PE image";
  const image = readUnsigned(bytes, where);
  // The certificate table must start 8-byte aligned; the zero padding before it is hashed
  // as trailing data (sbsign pads the same way).
  const unsignedLength = alignUp(bytes.length, WIN_CERTIFICATE_ALIGNMENT);
  const padded = new Uint8Array(unsignedLength);
  padded.set(bytes);
  const digest = authenticodeDigest(padded, image, unsignedLength);
  const indirectData = sequence(
    sequence(
      objectIdentifier(AUTHENTICODE_OID.spcPeImageData),
      // SpcPeImageData: flags BIT STRING (empty), file [0] EXPLICIT SpcLink = [2] EXPLICIT SpcString = [0] IMPLICIT BMPString.
      sequence(tlv(DerTag.BitString, new Uint8Array([0])), explicit(0, explicit(2, tlv(0x80, OBSOLETE_BMP)))),
    ),
    sequence(algorithmIdentifier(OID.sha256, true), octetString(digest)),
  );
  const pkcs7 = signedData({
    contentType: AUTHENTICODE_OID.spcIndirectData,
    content: indirectData,
    signedAttributes: [{ oid: AUTHENTICODE_OID.spcSpOpusInfo, values: [sequence()] }],
    privateKeyPem,
    certificatePem,
    digest: "sha256",
    ...(options.privateKeyWhere ? { privateKeyWhere: options.privateKeyWhere } : {}),
    ...(options.certificateWhere ? { certificateWhere: options.certificateWhere } : {}),
  });
  const entryBytes = alignUp(WIN_CERTIFICATE_HEADER_SIZE + pkcs7.length, WIN_CERTIFICATE_ALIGNMENT);
  const signed = new Uint8Array(unsignedLength + entryBytes);
  signed.set(padded);
  const data = view(signed);
  // dwLength includes the padding, as osslsigncode, pesign and signtool write it.
  data.setUint32(unsignedLength + WIN_CERTIFICATE.dwLength[0], entryBytes, true);
  data.setUint16(unsignedLength + WIN_CERTIFICATE.wRevision[0], WIN_CERT_REVISION_2_0, true);
  data.setUint16(unsignedLength + WIN_CERTIFICATE.wCertificateType[0], WIN_CERT_TYPE_PKCS_SIGNED_DATA, true);
  signed.set(pkcs7, unsignedLength + WIN_CERTIFICATE_HEADER_SIZE);
  const directory = image.certificateDirectoryOffsetBytes!;
  data.setUint32(directory, unsignedLength, true);
  data.setUint32(directory + 4, entryBytes, true);
  data.setUint32(image.checksumOffsetBytes, peChecksum(signed, image.checksumOffsetBytes), true);
  return signed;
}

/**
 * The Authenticode SHA-256 image hash of `bytes`, whose data before `hashedEndBytes` is the
 * image (for a signed image: the certificate table's offset).
 */
export function authenticodeDigest(bytes: Uint8Array, image: PeImage, hashedEndBytes: number): Uint8Array {
  const hash = createHash("sha256");
  const directory = image.certificateDirectoryOffsetBytes;
  if (directory === undefined) fail(ErrorCode.Signing, "PE image: no certificate table data directory (NumberOfRvaAndSizes < 5)", "sign a standard PE32+ image");
  // Headers minus CheckSum and the certificate table entry (the checksum precedes the
  // directories in every PE32+ optional header).
  hash.update(bytes.subarray(0, image.checksumOffsetBytes));
  hash.update(bytes.subarray(image.checksumOffsetBytes + 4, directory));
  hash.update(bytes.subarray(directory + 8, image.sizeOfHeaders));
  let hashedBytes = image.sizeOfHeaders;
  const sections = image.sections.filter((section) => section.sizeOfRawData > 0).sort((left, right) => left.pointerToRawData - right.pointerToRawData);
  for (const section of sections) {
    hash.update(bytes.subarray(section.pointerToRawData, section.pointerToRawData + section.sizeOfRawData));
    hashedBytes = Math.max(hashedBytes, section.pointerToRawData + section.sizeOfRawData);
  }
  if (hashedEndBytes > hashedBytes) hash.update(bytes.subarray(hashedBytes, hashedEndBytes));
  return new Uint8Array(hash.digest());
}

function readUnsigned(bytes: Uint8Array, where: string): PeImage {
  const parsed = parsePe(bytes);
  if (parsed.image === undefined || !parsed.ok) {
    return fail(ErrorCode.Signing, `${where}: not a valid PE32+ image (${parsed.findings.find((finding) => finding.severity === "error")?.message})`, "sign the UKI or systemd-boot EFI binary");
  }
  const certificates = parsed.image.dataDirectories[DataDirectory.Certificate];
  if (certificates === undefined) fail(ErrorCode.Signing, `${where}: no certificate table data directory (NumberOfRvaAndSizes < 5)`, "sign a standard PE32+ image");
  if (certificates.virtualAddress !== 0 || certificates.size !== 0) {
    fail(ErrorCode.Signing, `${where}: already signed (certificate table at ${certificates.virtualAddress}, ${certificates.size} bytes)`, "sign the unsigned image");
  }
  if (parsed.image.sizeOfHeaders > bytes.length || parsed.image.sizeOfHeaders <= (parsed.image.certificateDirectoryOffsetBytes ?? 0)) {
    fail(ErrorCode.Signing, `${where}: SizeOfHeaders ${parsed.image.sizeOfHeaders} does not cover the data directories`, "sign a standard PE32+ image");
  }
  return parsed.image;
}
