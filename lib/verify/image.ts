/**
 * verifyImage(): re-reads an image and reports every problem as a finding, never throwing on
 * bad bytes — GPT headers and entries (readGpt), DPS rules, each verity tree against the root
 * hash its PARTUUIDs (and its signature partition) name, and each signature.
 */
import { stat } from "node:fs/promises";
import { toHex } from "../core/bytes.js";
import { ErrorCode, fail, isGptimgError } from "../core/errors.js";
import { guidToBytes } from "../core/guid.js";
import { parseSignedData } from "../crypto/cms-verify.js";
import { certificateFingerprint } from "../crypto/x509.js";
import { readGpt } from "../formats/gpt/decode.js";
import { checkVeritySignaturePartition, parseVeritySignature } from "../formats/verity/signature.js";
import { DIGEST_SIZE_BYTES, SUPERBLOCK_SIZE_BYTES } from "../formats/verity/plan.js";
import { decodeSuperblock } from "../formats/verity/superblock.js";
import { verifyVerity } from "../formats/verity/verify.js";
import { FileSliceSource } from "../io/source.js";
import { checkDpsRules } from "./dps.js";
import { pairVerityPartitions, topDigest, uuidHex, type VerityTriple } from "./pairs.js";
import { describePartitions, type ImagePartition } from "./partitions.js";
import type { ImageVerification, VerifyFinding, VerifyOptions, VerityPairReport } from "./types.js";

/** dissect-image reads at most this much of a signature partition. */
const MAX_SIGNATURE_PARTITION_BYTES = 4 * 1024 * 1024;

export async function verifyImage(path: string, options: VerifyOptions): Promise<ImageVerification> {
  let sizeBytes: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) fail(ErrorCode.Image, `${path}: not a regular file`, "give the path of an image file");
    sizeBytes = info.size;
  } catch (error) {
    if (isGptimgError(error)) throw error;
    return fail(ErrorCode.Image, `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path");
  }
  const findings: VerifyFinding[] = [];
  const probe = await readGpt(new FileSliceSource(path, 0, sizeBytes));
  for (const finding of probe.findings) findings.push({ severity: finding.severity, area: "gpt", message: finding.message });
  if (!probe.gpt) return { image: path, sizeBytes, findings, verity: [] };

  const partitions = describePartitions(probe.gpt.entries, probe.gpt.sectorSize);
  findings.push(...checkDpsRules(partitions));
  const readable = partitions.filter((partition) => {
    const inside = partition.sizeBytes > 0 && partition.offsetBytes + partition.sizeBytes <= sizeBytes;
    if (!inside && partition.role !== undefined && !partition.placeholder) {
      findings.push({ severity: "error", area: "image", message: `${partition.name}: bytes ${partition.offsetBytes}-${partition.offsetBytes + partition.sizeBytes} lie beyond the end of the ${sizeBytes}-byte image` });
    }
    return inside;
  });
  const open = (partition: ImagePartition): FileSliceSource => new FileSliceSource(path, partition.offsetBytes, partition.sizeBytes, partition.name);
  const readSmall = async (partition: ImagePartition): Promise<Uint8Array | undefined> =>
    partition.sizeBytes <= MAX_SIGNATURE_PARTITION_BYTES ? open(partition).read(0, partition.sizeBytes) : undefined;

  const pairing = await pairVerityPartitions(readable, open, readSmall);
  for (const hash of pairing.unpairedHash) {
    if (readable.some((other) => other.role === "data" && other.family === hash.family && !other.placeholder)) {
      findings.push({ severity: "error", area: "verity", message: `${hash.name}: no data partition's PARTUUID pairs with it (data PARTUUID ‖ hash PARTUUID must be the root hash)` });
    }
  }
  for (const signature of pairing.unpairedSignature) {
    if (readable.some((other) => other.role === "hash" && other.family === signature.family && !other.placeholder)) {
      findings.push({ severity: "error", area: "signature", message: `${signature.name}: matches no verity data/hash pair (its rootHash names none, and the pair is ambiguous)` });
    }
  }
  for (const signature of readable.filter((partition) => partition.role === "signature" && !partition.placeholder && partition.sizeBytes > MAX_SIGNATURE_PARTITION_BYTES)) {
    findings.push({ severity: "error", area: "signature", message: `${signature.name}: ${signature.sizeBytes} bytes, larger than the 4 MiB systemd reads` });
  }
  const verity: VerityPairReport[] = [];
  for (const triple of pairing.triples) verity.push(await checkTriple(triple, open, readSmall, options, findings));
  return { image: path, sizeBytes, findings, verity };
}

async function checkTriple(
  triple: VerityTriple,
  open: (partition: ImagePartition) => FileSliceSource,
  readSmall: (partition: ImagePartition) => Promise<Uint8Array | undefined>,
  options: VerifyOptions,
  findings: VerifyFinding[],
): Promise<VerityPairReport> {
  const before = findings.filter((finding) => finding.severity === "error").length;
  const { data, hash, signature } = triple;
  // DPS: the PARTUUIDs are the first and last 128 bits of the root hash, so for 256-bit
  // digests they are the whole root hash.
  const fromUuids = new Uint8Array([...guidToBytes(data.entry.uuid), ...guidToBytes(hash.entry.uuid)]);
  let fromSignature: Uint8Array | undefined;
  let signatureBytes: Uint8Array | undefined;
  if (signature) {
    signatureBytes = await readSmall(signature);
    if (signatureBytes !== undefined) {
      try {
        fromSignature = parseVeritySignature(signatureBytes, signature.name).rootHash;
      } catch (error) {
        if (!isGptimgError(error)) throw error;
        findings.push({ severity: "error", area: "signature", message: error.message });
      }
    }
  }
  // sha256: the PARTUUIDs are the whole root hash. Other digests (sha1, sha512 trees copied in
  // with CopyBlocks=) only start and end with them; then the signature or the top hash block
  // names the root hash, and it must agree with the PARTUUIDs.
  const digestBytes = await superblockDigestBytes(open(hash));
  const topHash = fromSignature === undefined && digestBytes !== undefined && digestBytes !== fromUuids.length ? await topDigest(open(hash)) : undefined;
  const named = fromSignature ?? topHash;
  if (named !== undefined && !agreesWithUuids(named, data, hash)) {
    const what = fromSignature !== undefined ? `${signature!.name}: rootHash` : `${hash.name}: top hash block digest`;
    findings.push({ severity: "error", area: fromSignature !== undefined ? "signature" : "verity", message: `${what} ${toHex(named)} disagrees with the PARTUUIDs of ${data.name} and ${hash.name} (${toHex(fromUuids)})` });
  }
  const rootHash = named !== undefined && named.length !== fromUuids.length ? named : fromUuids;
  const result = await verifyVerity(open(data), open(hash), rootHash, { concurrency: options.concurrency });
  for (const finding of result.findings) findings.push({ severity: "error", area: "verity", message: finding.message });
  if (result.superblock && result.superblock.dataBlocks * result.superblock.dataBlockSize < data.sizeBytes) {
    findings.push({ severity: "warning", area: "verity", message: `${hash.name}: the tree covers ${result.superblock.dataBlocks * result.superblock.dataBlockSize} of the ${data.sizeBytes} bytes of ${data.name}; the rest is not protected` });
  }
  if (signature && signatureBytes !== undefined && fromSignature !== undefined) {
    // Checked over the JSON's own rootHash; disagreement with the tree is reported above.
    for (const problem of checkVeritySignaturePartition(signatureBytes, fromSignature, options.certificatePem, signature.name)) findings.push({ severity: "error", area: "signature", message: problem });
    const fingerprintProblem = checkFingerprint(signatureBytes, signature.name);
    if (fingerprintProblem !== undefined) findings.push({ severity: "error", area: "signature", message: fingerprintProblem });
  }
  const after = findings.filter((finding) => finding.severity === "error").length;
  return {
    dataIndex: data.index,
    hashIndex: hash.index,
    ...(signature ? { signatureIndex: signature.index } : {}),
    rootHash: toHex(rootHash),
    ok: after === before,
  };
}

/** DPS: the data PARTUUID is the root hash's first 128 bits, the hash PARTUUID its last 128 bits. */
function agreesWithUuids(rootHash: Uint8Array, data: ImagePartition, hash: ImagePartition): boolean {
  const hex = toHex(rootHash);
  return hex.startsWith(uuidHex(data.entry.uuid)) && hex.endsWith(uuidHex(hash.entry.uuid));
}

async function superblockDigestBytes(hash: FileSliceSource): Promise<number | undefined> {
  if (hash.size < SUPERBLOCK_SIZE_BYTES) return undefined;
  const superblock = decodeSuperblock(await hash.read(0, SUPERBLOCK_SIZE_BYTES));
  return typeof superblock === "string" ? undefined : DIGEST_SIZE_BYTES[superblock.algorithm];
}

/** The JSON's certificateFingerprint, when present, must be the SHA-256 of the embedded signer's certificate. */
function checkFingerprint(bytes: Uint8Array, where: string): string | undefined {
  try {
    const parsed = parseVeritySignature(bytes, where);
    if (parsed.certificateFingerprint === undefined) return undefined;
    if (!/^[0-9a-f]{64}$/.test(parsed.certificateFingerprint)) return `${where}: certificateFingerprint "${parsed.certificateFingerprint}" is not 64 lowercase hex digits`;
    const signer = parseSignedData(parsed.signature, where).signer;
    if (signer !== undefined && certificateFingerprint(signer) !== parsed.certificateFingerprint) return `${where}: certificateFingerprint ${parsed.certificateFingerprint} is not the signer's certificate (${certificateFingerprint(signer)})`;
    return undefined;
  } catch (error) {
    if (isGptimgError(error)) return undefined;
    throw error;
  }
}

/** The exit status `gptimg verify` uses: 3 when any finding is an error. */
export function hasErrors(verification: ImageVerification): boolean {
  return verification.findings.some((finding) => finding.severity === "error");
}
