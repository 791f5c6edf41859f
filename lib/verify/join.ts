/**
 * Sign later (systemd-repart v258 `--join-signature=HASH:SIG`, repart.c
 * `partition_format_verity_sig` with `lookup_verity_settings_by_uuid_pair`): an image is
 * composed, its root hash is signed elsewhere (an HSM, a build service), and the detached
 * PKCS#7 is joined into the verity signature partition in place — no rebuild. The partition
 * is found by the rootHash its JSON already names or, when it holds no JSON yet, by the DPS
 * UUID convention (data PARTUUID ‖ hash PARTUUID = root hash). Everything is checked before a
 * byte is written: the tree has that root hash, the signature verifies over it (and was made
 * by the given certificate), and the JSON fits.
 */
import { readFileSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { ascii, fromHex, isAllZero, toHex } from "../core/bytes.js";
import { ErrorCode, fail, isGptimgError } from "../core/errors.js";
import { checkSignedData } from "../crypto/cms-verify.js";
import { fromBase64 } from "../crypto/pem.js";
import { loadCertificates } from "../crypto/x509.js";
import { readGpt } from "../formats/gpt/decode.js";
import { joinSignature, parseVeritySignature, VERITY_SIGNATURE_PARTITION_SIZE_BYTES } from "../formats/verity/signature.js";
import { verifyVerity } from "../formats/verity/verify.js";
import { FileSliceSource } from "../io/source.js";
import { uuidHex } from "./pairs.js";
import { activeOf, describePartitions, type ImagePartition } from "./partitions.js";

export interface JoinRequest {
  readonly rootHash: Uint8Array;
  /** DER PKCS#7 SignedData, detached, over the lowercase hex root hash. */
  readonly signature: Uint8Array;
}

export interface JoinOptions {
  /** When given (repart requires --certificate= with --join-signature=), the signer must be this certificate. */
  readonly certificatePem?: string;
  readonly concurrency?: number;
}

export interface JoinResult {
  /** 1-based number of the signature partition written. */
  readonly partitionIndex: number;
  readonly rootHash: string;
}

/**
 * Parses `--join-signature=HASH:SIG`: HASH is the hex root hash, SIG a path to a DER file or
 * `base64:` followed by the DER in base64 (repart's `parse_join_signature`).
 */
export function parseJoinSignature(text: string, flag = "--join-signature", readFile: (path: string) => Uint8Array = (path) => readFileSync(path)): JoinRequest {
  const colon = text.indexOf(":");
  const hashText = colon < 0 ? text : text.slice(0, colon);
  if (colon < 0 || !/^([0-9a-fA-F]{2}){16,64}$/.test(hashText)) fail(ErrorCode.Usage, `${flag}=${text}: expected ROOTHASH:SIGNATURE with a hex root hash`, "e.g. --join-signature=$(cat roothash):roothash.p7s or …:base64:MII…");
  const rootHash = fromHex(hashText);
  const source = text.slice(colon + 1);
  if (source.startsWith("base64:")) {
    const decoded = fromBase64(source.slice("base64:".length));
    if (decoded === undefined || decoded.length === 0) fail(ErrorCode.Usage, `${flag}: the text after "base64:" is not base64`, "pass the DER signature base64-encoded, or a path to the DER file");
    return { rootHash, signature: decoded };
  }
  try {
    return { rootHash, signature: Uint8Array.from(readFile(source)) };
  } catch (error) {
    return fail(ErrorCode.Usage, `${flag}: cannot read signature file ${source} (${(error as NodeJS.ErrnoException).code ?? error})`, "pass a path to the DER PKCS#7 signature or base64:…");
  }
}

/** Library form of `gptimg repart IMAGE --join-signature=HASH:SIG`. */
export async function joinVeritySignature(imagePath: string, rootHashHex: string, signatureDer: Uint8Array, options: JoinOptions = {}): Promise<JoinResult> {
  if (!/^([0-9a-fA-F]{2}){16,64}$/.test(rootHashHex)) fail(ErrorCode.Usage, `root hash "${rootHashHex}" is not hex`, "pass the root hash as printed by gptimg compose --json");
  const rootHash = fromHex(rootHashHex);
  const hex = toHex(rootHash);
  const sizeBytes = await imageSize(imagePath);
  const probe = await readGpt(new FileSliceSource(imagePath, 0, sizeBytes));
  const problem = probe.findings.find((finding) => finding.severity === "error");
  if (!probe.gpt || problem) fail(ErrorCode.Image, `${imagePath}: ${problem?.message ?? "no GPT"}`, "run `gptimg verify` to see every finding");
  const partitions = describePartitions(probe.gpt.entries, probe.gpt.sectorSize).filter((partition) => partition.offsetBytes + partition.sizeBytes <= sizeBytes);
  const source = (partition: ImagePartition): FileSliceSource => new FileSliceSource(imagePath, partition.offsetBytes, partition.sizeBytes, partition.name);

  const data = activeOf(partitions, "data").find((partition) => hex.startsWith(uuidHex(partition.entry.uuid)));
  const hash = activeOf(partitions, "hash").find((partition) => hex.endsWith(uuidHex(partition.entry.uuid)) && partition.family === data?.family);
  if (!data || !hash) fail(ErrorCode.Verity, `${imagePath}: no verity data/hash partitions with PARTUUIDs ${hex.slice(0, 32)}…/…${hex.slice(-32)} for root hash ${hex}`, "check the root hash (gptimg verify lists each pair's)");
  const tree = await verifyVerity(source(data), source(hash), rootHash, { concurrency: options.concurrency ?? 1 });
  if (!tree.ok) fail(ErrorCode.Verity, `${imagePath}: ${tree.findings[0]!.message}`, "the image does not have this root hash; do not sign it");

  const target = await findSignaturePartition(activeOf(partitions, "signature").filter((partition) => partition.family === data.family), hex, source);
  if (target.sizeBytes < VERITY_SIGNATURE_PARTITION_SIZE_BYTES) fail(ErrorCode.Verity, `${target.name}: ${target.sizeBytes} bytes, a verity signature partition needs ${VERITY_SIGNATURE_PARTITION_SIZE_BYTES}`, "recompose the image");

  const json = joinedSignaturePartition(rootHash, signatureDer, options.certificatePem);
  // repart pads the JSON with NULs to the whole partition (strgrowpad0 to new_size).
  const bytes = new Uint8Array(target.sizeBytes);
  bytes.set(json, 0);
  const handle = await open(imagePath, "r+");
  try {
    await handle.write(bytes, 0, bytes.length, target.offsetBytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { partitionIndex: target.index, rootHash: hex };
}

/**
 * The 16 KiB signature partition for a root hash and an externally made signature, after
 * checking that it verifies over the root hash and, with a certificate, that it is the signer.
 * Byte-identical to signing at compose time with the same key (PKCS#7 RSA/ECDSA as repart).
 */
export function joinedSignaturePartition(rootHash: Uint8Array, signatureDer: Uint8Array, certificatePem?: string): Uint8Array {
  const hex = toHex(rootHash);
  const trusted = certificatePem === undefined ? undefined : loadCertificates(certificatePem, "certificate")[0];
  const untrusted = checkSignedData(signatureDer, ascii(hex), "signature", trusted);
  if (untrusted !== undefined) fail(ErrorCode.Signing, `${untrusted} (root hash ${hex})`, "sign the lowercase hex root hash without a newline: openssl smime -sign -binary -noattr -outform DER");
  return joinSignature(rootHash, signatureDer);
}

async function imageSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) fail(ErrorCode.Image, `${path}: not a regular file`, "give the path of an image file");
    return info.size;
  } catch (error) {
    if (isGptimgError(error)) throw error;
    return fail(ErrorCode.Image, `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path");
  }
}

/** The signature partition whose JSON names this root hash, else the one reserved (all zero) for the pair's family. */
async function findSignaturePartition(candidates: readonly ImagePartition[], hex: string, source: (partition: ImagePartition) => FileSliceSource): Promise<ImagePartition> {
  const named: ImagePartition[] = [];
  const empty: ImagePartition[] = [];
  for (const partition of candidates) {
    if (partition.sizeBytes > 4 * 1024 * 1024) continue;
    const bytes = await source(partition).read(0, partition.sizeBytes);
    if (isAllZero(bytes)) {
      empty.push(partition);
      continue;
    }
    try {
      if (toHex(parseVeritySignature(bytes, partition.name).rootHash) === hex) named.push(partition);
    } catch (error) {
      if (!isGptimgError(error)) throw error;
    }
  }
  const found = named.length > 0 ? named : empty;
  if (found.length === 1) return found[0]!;
  if (found.length === 0) fail(ErrorCode.Verity, `no verity signature partition for root hash ${hex}: none names it and none is empty`, "compose the image with its Verity=signature partition (e.g. signed with a temporary key) and join the real signature into it");
  return fail(ErrorCode.Verity, `${found.length} verity signature partitions could take root hash ${hex} (${found.map((partition) => partition.name).join(", ")})`, "join into an image with one signature partition per data/hash pair");
}
