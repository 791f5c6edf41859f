/** Pure encoder/decoder for the veritysetup superblock (layout.ts; formats.md §3.1). */
import { ascii, getU64LE, setU64LE, view } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { guidFromBytes, guidToBytes, isGuid } from "../../core/guid.js";
import { DIGEST_SIZE_BYTES, SUPERBLOCK_SIZE_BYTES, type VerityAlgorithm } from "./plan.js";
import { MAX_SALT_BYTES, SUPERBLOCK_FIELDS as F, SUPERBLOCK_SIGNATURE, SUPERBLOCK_VERSION } from "./layout.js";

export interface VeritySuperblock {
  /** 1 = normal (salt first); 0 = Chrome OS legacy (salt last). */
  readonly hashType: 0 | 1;
  /** Dashed lowercase UUID; stored in string byte order, not GPT mixed-endian. */
  readonly uuid: string;
  readonly algorithm: VerityAlgorithm;
  readonly dataBlockSize: number;
  readonly hashBlockSize: number;
  readonly dataBlocks: number;
  readonly salt: Uint8Array;
}

export function encodeSuperblock(fields: VeritySuperblock): Uint8Array {
  if (!isGuid(fields.uuid)) fail(ErrorCode.Verity, `verity.uuid: "${fields.uuid}" is not a UUID`, "use the dashed 8-4-4-4-12 form");
  if (fields.salt.length > MAX_SALT_BYTES) fail(ErrorCode.Verity, `verity.salt: ${fields.salt.length} bytes, at most ${MAX_SALT_BYTES} fit the superblock`, "use a shorter salt");
  const out = new Uint8Array(SUPERBLOCK_SIZE_BYTES);
  const fieldView = view(out);
  out.set(SUPERBLOCK_SIGNATURE, F.signature[0]);
  fieldView.setUint32(F.version[0], SUPERBLOCK_VERSION, true);
  fieldView.setUint32(F.hashType[0], fields.hashType, true);
  out.set(guidToBytes(fields.uuid), F.uuid[0]);
  out.set(ascii(fields.algorithm), F.algorithm[0]);
  fieldView.setUint32(F.dataBlockSize[0], fields.dataBlockSize, true);
  fieldView.setUint32(F.hashBlockSize[0], fields.hashBlockSize, true);
  setU64LE(fieldView, F.dataBlocks[0], fields.dataBlocks);
  fieldView.setUint16(F.saltSize[0], fields.salt.length, true);
  out.set(fields.salt, F.salt[0]);
  return out;
}

/** Parses a superblock; returns a reason string instead of throwing so verify can report it. */
export function decodeSuperblock(bytes: Uint8Array): VeritySuperblock | string {
  if (bytes.length < SUPERBLOCK_SIZE_BYTES) return `superblock is ${bytes.length} bytes, expected ${SUPERBLOCK_SIZE_BYTES}`;
  const fieldView = view(bytes);
  for (let index = 0; index < SUPERBLOCK_SIGNATURE.length; index++) {
    if (bytes[index] !== SUPERBLOCK_SIGNATURE[index]) return "no verity superblock signature at the start of the hash device";
  }
  const version = fieldView.getUint32(F.version[0], true);
  if (version !== SUPERBLOCK_VERSION) return `superblock version ${version} is not ${SUPERBLOCK_VERSION}`;
  const hashType = fieldView.getUint32(F.hashType[0], true);
  if (hashType !== 0 && hashType !== 1) return `hash type ${hashType} is not 0 or 1`;
  const nameBytes = bytes.subarray(F.algorithm[0], F.algorithm[0] + F.algorithm[1]);
  const nameEnd = nameBytes.indexOf(0);
  const algorithm = String.fromCharCode(...nameBytes.subarray(0, nameEnd < 0 ? nameBytes.length : nameEnd)).toLowerCase();
  if (!(algorithm in DIGEST_SIZE_BYTES)) return `hash algorithm "${algorithm}" is not supported`;
  const saltSize = fieldView.getUint16(F.saltSize[0], true);
  if (saltSize > MAX_SALT_BYTES) return `salt size ${saltSize} exceeds ${MAX_SALT_BYTES}`;
  const dataBlocks = getU64LE(fieldView, F.dataBlocks[0]);
  if (Number.isNaN(dataBlocks)) return "data block count does not fit 2^53";
  return {
    hashType,
    uuid: guidFromBytes(bytes.subarray(F.uuid[0], F.uuid[0] + 16)),
    algorithm: algorithm as VerityAlgorithm,
    dataBlockSize: fieldView.getUint32(F.dataBlockSize[0], true),
    hashBlockSize: fieldView.getUint32(F.hashBlockSize[0], true),
    dataBlocks,
    salt: bytes.slice(F.salt[0], F.salt[0] + saltSize),
  };
}
