/**
 * The one pipeline behind `gptimg compose` and `gptimg repart`: definitions → contents sized
 * → layout planned → contents written → GPT written last → report. Nothing is written
 * before the layout is complete and valid.
 */
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { isAllZero } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import { readGpt, type DecodedGpt } from "../formats/gpt/decode.js";
import { temporaryPathFor } from "../io/sink.js";
import { FileSliceSource } from "../io/source.js";
import type { PartitionDefinition } from "../plan/definition.js";
import { planLayout, type ExistingTable, type Layout, type PlannedPartition } from "../plan/layout.js";
import { checkVeritySiblings } from "../plan/validate.js";
import { copyBlocksContent, type PartitionContent } from "./content.js";
import { updateExistingImage, writeNewImage } from "./image.js";
import { resolveSplitName } from "./split.js";

export type EmptyMode = "refuse" | "allow" | "require" | "force" | "create";

export interface ComposeRequest {
  readonly imagePath: string;
  readonly definitions: readonly PartitionDefinition[];
  readonly seed: Uint8Array;
  /** undefined: probe (existing image) or 512. */
  readonly sectorSize: number | undefined;
  readonly size: number | "auto" | undefined;
  readonly empty: EmptyMode;
  readonly dryRun: boolean;
  /** Base directory for relative CopyBlocks=/CopyFiles= sources. */
  readonly copySource: string;
  /** Type UUIDs whose partitions are sized and placed but not written (--defer-partitions=). */
  readonly deferredTypes: ReadonlySet<string>;
  readonly split: boolean;
}

export interface ComposeResult {
  readonly layout: Layout;
  readonly finalUuids: ReadonlyMap<PlannedPartition, string>;
  readonly splitFiles: ReadonlyMap<PlannedPartition, string>;
  /** False when nothing was written (dry run). */
  readonly written: boolean;
}

/** Exit status 77 in repart: "not GPT, so not doing anything". */
export class NotRepartitioningError extends Error {}

export async function compose(request: ComposeRequest): Promise<ComposeResult> {
  checkVeritySiblings(request.definitions);
  const probe = await probeImage(request);
  const contents = await resolveContents(request);
  const contentSizes = new Map<number, number>();
  request.definitions.forEach((definition, index) => {
    const content = contents.get(definition);
    if (content?.minimumBytes !== undefined) contentSizes.set(index, content.minimumBytes);
  });
  const sectorSize = probe.sectorSize;
  const layout = planLayout({
    definitions: request.definitions,
    seed: request.seed,
    sectorSize,
    size: request.size,
    existing: probe.existing,
    currentSizeBytes: probe.currentSizeBytes,
    contentSizes,
    filesystemSectorSize: request.sectorSize ?? 4096,
  });
  const written = layout.partitions.filter((partition) => !request.deferredTypes.has(partition.type.uuid));
  const writtenLayout: Layout = { ...layout, partitions: written };
  const partitionContents = new Map<PlannedPartition, PartitionContent>();
  for (const partition of written) {
    const content = partition.definition ? contents.get(partition.definition) : undefined;
    if (content) partitionContents.set(partition, content);
  }
  const finalUuids = new Map<PlannedPartition, string>();
  const splitFiles = new Map<PlannedPartition, string>();
  if (request.split) {
    for (const partition of written) {
      const template = partition.definition?.splitName;
      if (!partition.definition || template === null) continue;
      splitFiles.set(partition, splitPath(request.imagePath, resolveSplitName(template ?? "%t", partition, finalUuids.get(partition) ?? partition.uuid)));
    }
    const seen = new Map<string, PlannedPartition>();
    for (const [partition, path] of splitFiles) {
      const other = seen.get(path);
      if (other) fail(ErrorCode.Layout, `${other.definition!.source} and ${partition.definition!.source} have the same resolved split name "${path}", refusing`, "give them different SplitName= templates");
      seen.set(path, partition);
    }
  }
  if (request.dryRun) return { layout: writtenLayout, finalUuids, splitFiles, written: false };

  const options = { contents: partitionContents, finalUuids: () => finalUuids };
  if (probe.existing || (probe.currentSizeBytes > 0 && request.empty !== "create")) {
    await updateExistingImage(request.imagePath, writtenLayout, probe.currentSizeBytes, options);
  } else {
    await writeNewImage(request.imagePath, writtenLayout, options);
  }
  await writeSplitFiles(request.imagePath, splitFiles);
  return { layout: writtenLayout, finalUuids, splitFiles, written: true };
}

interface ImageProbe {
  readonly sectorSize: number;
  readonly currentSizeBytes: number;
  readonly existing: ExistingTable | undefined;
}

async function probeImage(request: ComposeRequest): Promise<ImageProbe> {
  let currentSizeBytes = 0;
  let exists = true;
  try {
    const info = await stat(request.imagePath);
    if (!info.isFile()) fail(ErrorCode.Image, `${request.imagePath}: not a regular file`, "gptimg writes image files, not block devices");
    currentSizeBytes = info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    exists = false;
  }
  if (request.empty === "create") {
    if (exists) fail(ErrorCode.Image, `${request.imagePath}: already exists, refusing to create it (--empty=create)`, "remove it first, or use --empty=force to reinitialize it");
    if (request.size === undefined) fail(ErrorCode.Usage, `${request.imagePath}: a new image needs a size`, 'pass --size=auto or a size like "2G"');
    return { sectorSize: request.sectorSize ?? 512, currentSizeBytes: 0, existing: undefined };
  }
  if (!exists) fail(ErrorCode.Image, `${request.imagePath}: no such file`, "create it with --empty=create --size=…");
  if (request.empty === "force") return { sectorSize: request.sectorSize ?? 512, currentSizeBytes, existing: undefined };

  const source = new FileSliceSource(request.imagePath, 0, currentSizeBytes);
  const probe = await readGpt(source, request.sectorSize);
  const hasLabel = probe.gpt !== undefined || probe.hasMbr;
  if (request.empty === "require") {
    if (hasLabel) throw new NotRepartitioningError(`${request.imagePath}: already has a disk label, refusing (--empty=require)`);
    return { sectorSize: request.sectorSize ?? 512, currentSizeBytes, existing: undefined };
  }
  if (!probe.gpt) {
    if (request.empty === "allow" && !hasLabel) return { sectorSize: request.sectorSize ?? 512, currentSizeBytes, existing: undefined };
    throw new NotRepartitioningError(`${request.imagePath}: has no GPT disk label, not repartitioning`);
  }
  const errors = probe.gpt.findings.filter((finding) => finding.severity === "error");
  if (errors.length > 0) {
    fail(ErrorCode.Image, `${request.imagePath}: the partition table is damaged (${errors[0]!.message})`, "run `gptimg inspect` to see every finding; repair it before repartitioning");
  }
  return { sectorSize: probe.gpt.sectorSize, currentSizeBytes, existing: existingTable(probe.gpt) };
}

function existingTable(gpt: DecodedGpt): ExistingTable {
  return { sectorSize: gpt.sectorSize, totalSectors: gpt.totalSectors, diskGuid: gpt.header.diskGuid, entries: gpt.entries };
}

async function resolveContents(request: ComposeRequest): Promise<Map<PartitionDefinition, PartitionContent>> {
  const contents = new Map<PartitionDefinition, PartitionContent>();
  for (const definition of request.definitions) {
    if (definition.copyBlocks !== undefined) {
      if (definition.copyBlocks === "auto") fail(ErrorCode.Definitions, `${definition.source}: CopyBlocks=auto copies from the running system`, "gptimg builds images offline: give the path of an image file");
      const path = isAbsolute(definition.copyBlocks) ? definition.copyBlocks : resolve(request.copySource, definition.copyBlocks);
      contents.set(definition, await copyBlocksContent(path, definition.source));
    }
  }
  return contents;
}

/** repart --split: DIR/BASE.<name>[.raw], ".raw" kept only if the image name had it. */
function splitPath(imagePath: string, resolvedName: string): string {
  const name = basename(imagePath);
  const hasRaw = name.endsWith(".raw");
  const base = hasRaw ? name.slice(0, -4) : name;
  return join(dirname(imagePath), `${base}.${resolvedName}${hasRaw ? ".raw" : ""}`);
}

async function writeSplitFiles(imagePath: string, splitFiles: ReadonlyMap<PlannedPartition, string>): Promise<void> {
  for (const path of splitFiles.values()) {
    if (await exists(path)) fail(ErrorCode.Io, `${path}: split file already exists, refusing to overwrite`, "remove it first");
  }
  const created: string[] = [];
  try {
    for (const [partition, path] of splitFiles) {
      created.push(temporaryPathFor(path));
      await copyRange(imagePath, temporaryPathFor(path), partition.offsetBytes, partition.sizeBytes);
    }
    for (const path of splitFiles.values()) await rename(temporaryPathFor(path), path);
  } catch (error) {
    await Promise.all(created.map((path) => rm(path, { force: true })));
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function copyRange(from: string, to: string, offsetBytes: number, sizeBytes: number): Promise<void> {
  const input = await open(from, "r");
  const output = await open(to, "w", 0o644);
  try {
    await output.truncate(sizeBytes);
    const buffer = new Uint8Array(1024 * 1024);
    for (let done = 0; done < sizeBytes; ) {
      const length = Math.min(buffer.length, sizeBytes - done);
      const { bytesRead } = await input.read(buffer, 0, length, offsetBytes + done);
      const chunk = buffer.subarray(0, bytesRead);
      if (!isAllZero(chunk)) await output.write(chunk, 0, bytesRead, done);
      done += bytesRead;
      if (bytesRead === 0) break;
    }
  } finally {
    await input.close();
    await output.close();
  }
}
