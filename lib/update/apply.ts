/**
 * `gptimg update IMAGE --from DIR`: what systemd-sysupdate does on a device, offline, for
 * factory provisioning and tests (issue 8). For every slotted partition in the manifest the
 * target is a partition of the same type labelled `_empty`, else the one holding the oldest
 * version — never the newest, which is what runs. The UKI goes into the ESP's /EFI/Linux
 * under its boot-counting name, and UKIs beyond InstancesMax are removed oldest first.
 *
 * Everything is checked and prepared before the image is opened for writing: checksums,
 * architecture (partition types), slot sizes, decompression into scratch files, the rebuilt
 * ESP. Then slots are written, then the ESP, and the GPT (labels, UUIDs, flags) last; a refusal
 * leaves the image byte-identical.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, fail, isGptimgError } from "../core/errors.js";
import { readFatVolume } from "../formats/fat/read.js";
import { planFat } from "../formats/fat/plan.js";
import { writeFat } from "../formats/fat/write.js";
import { readGpt, type DecodedGpt } from "../formats/gpt/decode.js";
import { encodeGpt, type GptEntry } from "../formats/gpt/encode.js";
import { describePartitionType } from "../formats/gpt/types.js";
import { ukiFileName } from "../formats/pe/esp.js";
import { decompressToSpool } from "../io/decompress.js";
import { FileSink, withScratchDirectory } from "../io/sink.js";
import { OffsetSink, writeZeros } from "../io/stream.js";
import { FileSliceSource, sourceChunks } from "../io/source.js";
import { TreeBuilder } from "../tree/builder.js";
import { walkTree, type FileNode } from "../tree/tree.js";
import { fileSha256, readArtifacts, type VerifiedArtifacts } from "./manifest.js";
import type { PartitionArtifact } from "./artifacts.js";
import { EMPTY_SLOT_LABEL } from "./slots.js";
import { compareVersions, matchPattern } from "./version.js";

const ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const UKI_DIRECTORY = "EFI/Linux";

export interface SlotUpdate {
  readonly type: string;
  /** 1-based partition number, as /dev/sdaN. */
  readonly partitionNumber: number;
  readonly previousLabel: string;
  readonly label: string;
  readonly uuid: string;
}

export interface UpdateResult {
  readonly version: string;
  readonly slots: readonly SlotUpdate[];
  readonly ukiInstalled: string | undefined;
  readonly ukisRemoved: readonly string[];
  readonly written: boolean;
}

export interface UpdateRequest {
  readonly imagePath: string;
  readonly artifactsDirectory: string;
  readonly dryRun: boolean;
}

interface SlotChoice {
  readonly artifact: PartitionArtifact;
  readonly entry: GptEntry;
  readonly fileName: string;
  readonly compression: "zstd" | "gzip" | "none";
}

export async function applyUpdate(request: UpdateRequest): Promise<UpdateResult> {
  const artifacts = await readArtifacts(request.artifactsDirectory);
  const { manifest } = artifacts;
  const source = await imageSource(request.imagePath);
  const probe = await readGpt(source);
  const gpt = probe.gpt;
  if (!gpt) fail(ErrorCode.Image, `${request.imagePath}: no GPT`, "update an image made by gptimg compose");
  const damaged = gpt.findings.find((finding) => finding.severity === "error");
  if (damaged) fail(ErrorCode.Image, `${request.imagePath}: the partition table is damaged (${damaged.message})`, "run `gptimg verify` on it");
  const choices = manifest.partitions.map((artifact, index) => chooseSlot(gpt, artifact, artifacts, index, request.imagePath));
  const bytesOf = (entry: GptEntry): number => (entry.lastLba - entry.firstLba + 1) * gpt.sectorSize;
  return withScratchDirectory(request.imagePath, async (scratch) => {
    const payloads: Array<{ choice: SlotChoice; path: string; sizeBytes: number }> = [];
    for (const [index, choice] of choices.entries()) {
      const path = join(artifacts.directory, choice.fileName);
      const spool = choice.compression === "none" ? { path, size: (await stat(path)).size } : await decompressToSpool(path, choice.compression, scratch, `slot-${index}.raw`);
      if (spool.size !== choice.artifact.sizeBytes || (await fileSha256(spool.path)) !== choice.artifact.sha256) {
        fail(ErrorCode.Input, `${path}: decompressed content does not match the manifest (size or sha256)`, "the artifact is damaged: rebuild or fetch it again");
      }
      if (spool.size > bytesOf(choice.entry)) fail(ErrorCode.Size, `${path}: ${spool.size} bytes do not fit slot ${choice.entry.slot + 1} ("${choice.entry.label}", ${bytesOf(choice.entry)} bytes)`, "build the artifacts with the image's slotSize");
      payloads.push({ choice, path: spool.path, sizeBytes: spool.size });
    }
    const esp = manifest.uki ? await rebuildEsp(request.imagePath, gpt, artifacts, scratch) : undefined;
    const slots: SlotUpdate[] = choices.map((choice) => ({
      type: choice.artifact.type,
      partitionNumber: choice.entry.slot + 1,
      previousLabel: choice.entry.label,
      label: choice.artifact.label,
      uuid: choice.artifact.uuid,
    }));
    const result = { version: manifest.imageVersion, slots, ukiInstalled: esp?.installed, ukisRemoved: esp?.removed ?? [], written: !request.dryRun };
    if (request.dryRun) return result;

    const sink = await FileSink.openExisting(request.imagePath);
    try {
      for (const payload of payloads) {
        await copyInto(sink, payload.path, payload.sizeBytes, payload.choice.entry.firstLba * gpt.sectorSize, bytesOf(payload.choice.entry));
      }
      if (esp) await copyInto(sink, esp.path, esp.sizeBytes, esp.entry.firstLba * gpt.sectorSize, bytesOf(esp.entry));
      const entries = gpt.entries.map((entry) => {
        const choice = choices.find((candidate) => candidate.entry === entry);
        return choice ? { ...entry, label: choice.artifact.label, uuid: choice.artifact.uuid, attributes: BigInt(choice.artifact.flags) } : entry;
      });
      const encoded = encodeGpt({ sectorSize: gpt.sectorSize, totalSectors: gpt.totalSectors, firstUsableLba: gpt.header.firstUsableLba, diskGuid: gpt.header.diskGuid, entries });
      await sink.writeAt(encoded.backupOffsetBytes, encoded.backup);
      await sink.writeAt(0, encoded.primary);
    } finally {
      await sink.close();
    }
    return result;
  });
}

async function imageSource(path: string): Promise<FileSliceSource> {
  try {
    const info = await stat(path);
    if (!info.isFile()) fail(ErrorCode.Image, `${path}: not a regular file`, "gptimg updates image files");
    return new FileSliceSource(path, 0, info.size);
  } catch (error) {
    if (isGptimgError(error)) throw error;
    return fail(ErrorCode.Image, `${path}: cannot open (${(error as NodeJS.ErrnoException).code ?? error})`, "give an existing image file");
  }
}

function chooseSlot(gpt: DecodedGpt, artifact: PartitionArtifact, artifacts: VerifiedArtifacts, index: number, imagePath: string): SlotChoice {
  const { manifest } = artifacts;
  const candidates = gpt.entries.filter((entry) => entry.typeUuid === artifact.typeUuid);
  if (candidates.length === 0) {
    const present = [...new Set(gpt.entries.map((entry) => describePartitionType(entry.typeUuid).name).filter((name) => name !== undefined))].join(", ");
    fail(ErrorCode.Image, `${imagePath}: no ${artifact.type} partition for ${manifest.imageId} ${manifest.imageVersion} (wrong architecture or image? the image has ${present})`, `use artifacts built for this image's architecture (these are ${manifest.architecture})`);
  }
  const versions = candidates.map((entry) => ({ entry, version: entry.label === EMPTY_SLOT_LABEL ? undefined : matchPattern(artifact.labelPattern, entry.label)?.version }));
  if (versions.some((candidate) => candidate.version === manifest.imageVersion)) fail(ErrorCode.Image, `${imagePath}: ${manifest.imageId} ${manifest.imageVersion} is already installed (${artifact.type})`, "nothing to do; build a newer version");
  const installed = versions.filter((candidate) => candidate.version !== undefined).sort((left, right) => compareVersions(left.version!, right.version!));
  const newest = installed.at(-1);
  if (newest && compareVersions(manifest.imageVersion, newest.version!) < 0) fail(ErrorCode.Image, `${imagePath}: ${manifest.imageVersion} is older than the installed ${newest.version} (${artifact.type})`, "updates only go forward, as systemd-sysupdate's");
  const target = versions.find((candidate) => candidate.entry.label === EMPTY_SLOT_LABEL) ?? (installed.length >= 2 ? installed[0] : undefined);
  if (!target) fail(ErrorCode.Image, `${imagePath}: no free ${artifact.type} slot (no "${EMPTY_SLOT_LABEL}" partition and only the running version ${newest?.version ?? "(none)"})`, 'compose the image with "slots": 2 or more');
  const file = artifacts.files[index]!;
  return { artifact, entry: target.entry, fileName: file.name, compression: file.compression };
}

async function rebuildEsp(imagePath: string, gpt: DecodedGpt, artifacts: VerifiedArtifacts, scratch: string): Promise<{ entry: GptEntry; path: string; sizeBytes: number; installed: string; removed: string[] }> {
  const uki = artifacts.manifest.uki!;
  const version = artifacts.manifest.imageVersion;
  const espEntries = gpt.entries.filter((entry) => entry.typeUuid === ESP_TYPE);
  if (espEntries.length !== 1) fail(ErrorCode.Image, `${imagePath}: found ${espEntries.length} ESPs, need exactly one for the UKI`, "the image must have one esp partition");
  const entry = espEntries[0]!;
  const sizeBytes = (entry.lastLba - entry.firstLba + 1) * gpt.sectorSize;
  const espSource = new FileSliceSource(imagePath, entry.firstLba * gpt.sectorSize, sizeBytes, `${imagePath} (ESP)`);
  const { tree, fatType, volumeId } = await readFatVolume(espSource, `${imagePath}: ESP (partition ${entry.slot + 1})`);
  const espFiles = [...walkTree(tree)];
  const linux = espFiles.filter(({ path, node }) => node.kind === "file" && path.toLowerCase().startsWith(`${UKI_DIRECTORY.toLowerCase()}/`) && !path.slice(UKI_DIRECTORY.length + 1).includes("/"));
  const ukis = linux
    .map(({ path }) => ({ path, version: uki.targetPatterns.map((pattern) => matchPattern(pattern, path.slice(UKI_DIRECTORY.length + 1))?.version).find((found) => found !== undefined) }))
    .filter((candidate): candidate is { path: string; version: string } => candidate.version !== undefined)
    .sort((left, right) => compareVersions(left.version, right.version));
  const installed = `${UKI_DIRECTORY}/${ukiFileName({ id: uki.id, version, ...(uki.triesLeft !== undefined ? { triesLeft: uki.triesLeft } : {}) })}`;
  // Keep the newest InstancesMax-1 existing UKIs: with the new one that makes InstancesMax.
  const removed = ukis.slice(0, Math.max(0, ukis.length - (uki.instancesMax - 1))).map((candidate) => candidate.path);
  const builder = new TreeBuilder(tree.meta);
  for (const { path, node } of espFiles) {
    if (path === "" || removed.includes(path)) continue;
    if (node.kind === "dir") builder.addDirectory(path, node.meta);
    else builder.addNode(path, node);
  }
  const newest = ukis.at(-1);
  const meta = newest ? (espFiles.find(({ path }) => path === newest.path)!.node as FileNode).meta : tree.meta;
  const ukiPath = join(artifacts.directory, uki.name);
  const ukiSize = (await stat(ukiPath)).size;
  builder.addFile(installed, { ...meta, mode: 0o644 }, new FileSliceSource(ukiPath, 0, ukiSize, ukiPath));
  const plan = (() => {
    try {
      return planFat({ tree: builder.build(), sizeBytes, sectorSize: gpt.sectorSize as 512 | 4096, label: entry.label, volumeId, fatType, where: `${imagePath}: ESP` });
    } catch (error) {
      if (!isGptimgError(error)) throw error;
      return fail(ErrorCode.Size, `${imagePath}: the ESP (${sizeBytes} bytes) cannot hold ${installed} (${ukiSize} bytes) next to what it has (${(error as Error).message})`, "compose the image with a bigger ESP (sizeMinBytes), or lower update.instancesMax");
    }
  })();
  const path = join(scratch, "esp.fat");
  const sink = await FileSink.create(path, sizeBytes);
  try {
    await writeFat(plan, new OffsetSink(sink, 0, sizeBytes, path));
  } finally {
    await sink.close();
  }
  return { entry, path, sizeBytes, installed, removed };
}

/** Writes `sizeBytes` of `path` at `offsetBytes`, then zeros up to `slotBytes` (old data must not show through). */
async function copyInto(sink: FileSink, path: string, sizeBytes: number, offsetBytes: number, slotBytes: number): Promise<void> {
  const target = new OffsetSink(sink, offsetBytes, slotBytes, path);
  for await (const chunk of sourceChunks(new FileSliceSource(path, 0, sizeBytes), 1024 * 1024)) await target.write(chunk);
  await writeZeros(target, slotBytes - target.position);
}
