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
import { BytesSource, readAll, sourceChunks, ZeroSource, type ByteSource } from "../../io/source.js";
import { PeChecksum } from "./checksum.js";
import { DataDirectory, WIN_CERT_REVISION_2_0, WIN_CERT_TYPE_PKCS_SIGNED_DATA, WIN_CERTIFICATE, WIN_CERTIFICATE_ALIGNMENT, WIN_CERTIFICATE_HEADER_SIZE } from "./layout.js";
import { parsePe, type PeImage } from "./parse.js";
import { ConcatSource, SliceSource } from "./sources.js";

const CHUNK_BYTES = 4 * 1024 * 1024;
const HEADER_PROBE_BYTES = 64 * 1024;

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
export async function signPe(bytes: Uint8Array, privateKeyPem: string, certificatePem: string, options: SignPeOptions = {}): Promise<Uint8Array> {
  return readAll(await signPeSource(new BytesSource(bytes, options.imageWhere ?? "PE image"), privateKeyPem, certificatePem, options));
}

/**
 * Signs an unsigned PE32+ image given as a source and returns the signed image as a source:
 * patched headers, the rest of the input read on demand, padding, certificate table. The
 * input is read twice (image hash, then the checksum of the result) and never buffered whole.
 */
export async function signPeSource(source: ByteSource, privateKeyPem: string, certificatePem: string, options: SignPeOptions = {}): Promise<ByteSource> {
  const where = options.imageWhere ?? "PE image";
  const { headers, image } = await readUnsigned(source, where);
  // The certificate table must start 8-byte aligned; the zero padding before it is hashed
  // as trailing data (sbsign pads the same way).
  const unsignedLength = alignUp(source.size, WIN_CERTIFICATE_ALIGNMENT);
  const body = new ConcatSource([new SliceSource(source, headers.length, source.size - headers.length), new ZeroSource(unsignedLength - source.size)], where);
  const digest = await authenticodeDigest(headers, body, image, unsignedLength);
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
  const certificateTable = new Uint8Array(entryBytes);
  const entry = view(certificateTable);
  // dwLength includes the padding, as osslsigncode, pesign and signtool write it.
  entry.setUint32(WIN_CERTIFICATE.dwLength[0], entryBytes, true);
  entry.setUint16(WIN_CERTIFICATE.wRevision[0], WIN_CERT_REVISION_2_0, true);
  entry.setUint16(WIN_CERTIFICATE.wCertificateType[0], WIN_CERT_TYPE_PKCS_SIGNED_DATA, true);
  certificateTable.set(pkcs7, WIN_CERTIFICATE_HEADER_SIZE);

  const patched = Uint8Array.from(headers);
  const fields = view(patched);
  fields.setUint32(image.certificateDirectoryOffsetBytes!, unsignedLength, true);
  fields.setUint32(image.certificateDirectoryOffsetBytes! + 4, entryBytes, true);
  fields.setUint32(image.checksumOffsetBytes, 0, true);
  const checksum = new PeChecksum();
  checksum.update(patched);
  for await (const chunk of sourceChunks(body, CHUNK_BYTES)) checksum.update(chunk);
  checksum.update(certificateTable);
  fields.setUint32(image.checksumOffsetBytes, checksum.digest(), true);
  return new ConcatSource([new BytesSource(patched, `${where} headers`), body, new BytesSource(certificateTable, `${where} signature`)], `signed ${where}`);
}

/**
 * The Authenticode SHA-256 image hash: `headers` are the first SizeOfHeaders bytes, `body`
 * the rest of the image up to `hashedEndBytes` (for a signed image: the certificate table's
 * offset).
 */
export async function authenticodeDigest(headers: Uint8Array, body: ByteSource, image: PeImage, hashedEndBytes: number): Promise<Uint8Array> {
  const hash = createHash("sha256");
  const directory = image.certificateDirectoryOffsetBytes;
  if (directory === undefined) fail(ErrorCode.Signing, "PE image: no certificate table data directory (NumberOfRvaAndSizes < 5)", "sign a standard PE32+ image");
  // Headers minus CheckSum and the certificate table entry (the checksum precedes the
  // directories in every PE32+ optional header).
  hash.update(headers.subarray(0, image.checksumOffsetBytes));
  hash.update(headers.subarray(image.checksumOffsetBytes + 4, directory));
  hash.update(headers.subarray(directory + 8, image.sizeOfHeaders));
  const fromBody = async (start: number, end: number): Promise<void> => {
    for await (const chunk of sourceChunks(new SliceSource(body, start - headers.length, end - start), CHUNK_BYTES)) hash.update(chunk);
  };
  let hashedBytes = image.sizeOfHeaders;
  const sections = image.sections.filter((section) => section.sizeOfRawData > 0).sort((left, right) => left.pointerToRawData - right.pointerToRawData);
  for (const section of sections) {
    await fromBody(section.pointerToRawData, section.pointerToRawData + section.sizeOfRawData);
    hashedBytes = Math.max(hashedBytes, section.pointerToRawData + section.sizeOfRawData);
  }
  if (hashedEndBytes > hashedBytes) await fromBody(hashedBytes, hashedEndBytes);
  return new Uint8Array(hash.digest());
}

async function readUnsigned(source: ByteSource, where: string): Promise<{ headers: Uint8Array; image: PeImage }> {
  let head = await source.read(0, Math.min(source.size, HEADER_PROBE_BYTES));
  let parsed = parsePe(head, { fileSizeBytes: source.size });
  if (parsed.image !== undefined && parsed.image.sizeOfHeaders > head.length && parsed.image.sizeOfHeaders <= source.size) {
    head = await source.read(0, parsed.image.sizeOfHeaders);
    parsed = parsePe(head, { fileSizeBytes: source.size });
  }
  const image = parsed.image;
  if (image === undefined || !parsed.ok) {
    return fail(ErrorCode.Signing, `${where}: not a valid PE32+ image (${parsed.findings.find((finding) => finding.severity === "error")?.message})`, "sign the UKI or systemd-boot EFI binary");
  }
  const certificates = image.dataDirectories[DataDirectory.Certificate];
  if (certificates === undefined || image.certificateDirectoryOffsetBytes === undefined) {
    return fail(ErrorCode.Signing, `${where}: no certificate table data directory (NumberOfRvaAndSizes < 5)`, "sign a standard PE32+ image");
  }
  if (certificates.virtualAddress !== 0 || certificates.size !== 0) {
    fail(ErrorCode.Signing, `${where}: already signed (certificate table at ${certificates.virtualAddress}, ${certificates.size} bytes)`, "sign the unsigned image");
  }
  if (image.sizeOfHeaders > head.length || image.sizeOfHeaders < image.certificateDirectoryOffsetBytes + 8) {
    fail(ErrorCode.Signing, `${where}: SizeOfHeaders ${image.sizeOfHeaders} does not cover the data directories`, "sign a standard PE32+ image");
  }
  return { headers: head.subarray(0, image.sizeOfHeaders), image };
}
