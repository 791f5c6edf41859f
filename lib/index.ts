/**
 * gptimg public API: compose images from a spec or repart.d definitions, and the format
 * writers underneath for callers who assemble their own pipelines.
 */
export { GptimgError, ErrorCode, isGptimgError } from "./core/errors.js";

// Whole images
export { compose, type ComposeRequest, type ComposeResult, type EmptyMode } from "./build/compose.js";
export type { BootRequest, BootInitrd } from "./build/boot.js";
export { readSpec, interpretSpec, type ImageSpec } from "./input/spec.js";
export { specJsonSchema } from "./input/schema.js";
export { readDefinitions } from "./input/repartd.js";
export { planLayout, type Layout, type PlannedPartition, type LayoutRequest } from "./plan/layout.js";
export type { PartitionDefinition } from "./plan/definition.js";
export { inspectImage, type InspectReport } from "./build/inspect.js";
export { verifyImage, hasErrors } from "./verify/image.js";
export type { ImageVerification, VerifyFinding, VerityPairReport, VerifyOptions } from "./verify/types.js";
export { joinVeritySignature, parseJoinSignature, joinedSignaturePartition } from "./verify/join.js";

// A/B updates
export { planSlots, type SlotPlan, type SlottedPartition, type UpdateSettings, type PartitionUpdateKeys } from "./update/slots.js";
export { repartDefinitionFiles, sysupdateTransferFiles, type GeneratedFile } from "./update/on-device.js";
export { writeArtifacts, artifactName, type ArtifactManifest, type ArtifactRequest } from "./update/artifacts.js";
export { readArtifacts } from "./update/manifest.js";
export { applyUpdate, type UpdateRequest, type UpdateResult } from "./update/apply.js";
export { compareVersions, matchPattern, formatPattern, type PatternMatch } from "./update/version.js";

// GPT
export { encodeGpt, type GptTable, type GptEntry } from "./formats/gpt/encode.js";
export { readGpt, type DecodedGpt, type Finding } from "./formats/gpt/decode.js";
export { resolvePartitionType, describePartitionType, ARCHITECTURES, GPT_FLAG } from "./formats/gpt/types.js";
export { deriveDiskGuid, derivePartitionUuid, deriveFilesystemUuid } from "./plan/ids.js";

// Trees
export type { DirNode, TreeNode, FileNode, Meta } from "./tree/tree.js";
export { TreeBuilder } from "./tree/builder.js";
export { treeFromDirectory } from "./tree/from-dir.js";
export { treeFromTar } from "./tree/from-tar.js";
export { buildPartitionTree } from "./tree/compose.js";
export { checkCaseCollisions } from "./tree/transform.js";

// Filesystems and archives
export { planFat } from "./formats/fat/plan.js";
export { writeFat } from "./formats/fat/write.js";
export { readFatTree } from "./formats/fat/read.js";
export { writeSquashfs, buildSquashfsFile, DEFAULT_BLOCK_BYTES, type SquashfsOptions, type SquashfsResult } from "./formats/squashfs/write.js";
export { loadCodec, type Codec, type CodecId } from "./compress/codec.js";
export { compressErofsFiles, type ErofsCompressedData, type ErofsCompressionOptions } from "./formats/erofs/compress.js";
export { planErofs, type ErofsOptions } from "./formats/erofs/plan.js";
export { writeErofs } from "./formats/erofs/write.js";
export { writeCpio, concatenateInitrds } from "./formats/cpio/write.js";
export { encodeSwapHeader } from "./formats/swap/encode.js";

// dm-verity and signatures
export { hashVerityFile, VerityHasher } from "./formats/verity/build.js";
export { planVerity, repartVerityHashSizeBytes } from "./formats/verity/plan.js";
export { verityPartitionUuids, repartVerityParameters } from "./formats/verity/ids.js";
export { verifyVerity } from "./formats/verity/verify.js";
export { veritySignaturePartition, joinSignature, parseVeritySignature, checkVeritySignaturePartition } from "./formats/verity/signature.js";
export { signedData } from "./crypto/cms.js";

// Boot chain
export { planUki, writeUki, ukiSource, assembleUki, type UkiInputs, type UkiPlan } from "./formats/pe/uki.js";
export { signPe, signPeSource } from "./formats/pe/authenticode.js";
export { parsePe } from "./formats/pe/parse.js";
export { espTree, ukiFileName } from "./formats/pe/esp.js";

// I/O
export type { ByteSource } from "./io/source.js";
export { BytesSource, FileSliceSource, ZeroSource } from "./io/source.js";
export type { SequentialSink } from "./io/stream.js";
export { MemorySink } from "./io/stream.js";
export { writeAtomically } from "./io/sink.js";
