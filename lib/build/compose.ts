/**
 * The one pipeline behind `gptimg compose` and `gptimg repart`: definitions → contents sized
 * → layout planned → contents written → GPT written last → report. Nothing is written
 * before the layout is complete and valid.
 */
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isAllZero } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import { readGpt, type DecodedGpt } from "../formats/gpt/decode.js";
import { temporaryPathFor, withScratchDirectory, type BlockSink } from "../io/sink.js";
import { FileSliceSource } from "../io/source.js";
import type { PartitionDefinition } from "../plan/definition.js";
import { definitionIdentities, planLayout, type ExistingTable, type Layout, type PlannedPartition } from "../plan/layout.js";
import { isReadOnlyFormat, needsPopulate } from "../plan/definition.js";
import { alignUp } from "../core/int.js";
import { formatSize } from "../core/size.js";
import { planVerity } from "../formats/verity/plan.js";
import type { SigningKey } from "../formats/verity/signature.js";
import { checkVeritySiblings } from "../plan/validate.js";
import type { PartitionContent, VerityDependency } from "./content.js";
import { definitionContent, partitionTree } from "./contents.js";
import { bootEspContent, PLACEHOLDER_HASH, type BootRequest } from "./boot.js";
import { writePartitions, type VerityOutcome } from "./execute.js";
import { updateExistingImage, writeNewImage } from "./image.js";
import { resolveSplitName } from "./split.js";

export type EmptyMode = "refuse" | "allow" | "require" | "force" | "create";

export interface ComposeRequest {
  readonly imagePath: string;
  readonly definitions: readonly PartitionDefinition[];
  readonly seed: Uint8Array;
  /** undefined: probe (existing image) or 512. */
  readonly sectorSize: number | undefined;
  /** repart's filesystem sector size, the default verity block size: --sector-size= if given, else 4096. */
  readonly filesystemSectorSize: number;
  readonly size: number | "auto" | undefined;
  readonly empty: EmptyMode;
  readonly dryRun: boolean;
  /** Base directory for relative CopyBlocks=/CopyFiles= sources. */
  readonly copySource: string;
  /** repart --copy-source=: where absolute CopyFiles= sources are found (undefined: on the host). */
  readonly copyFilesRoot?: string;
  /** Type UUIDs whose partitions are sized and placed but not written (--defer-partitions=). */
  readonly deferredTypes: ReadonlySet<string>;
  readonly split: boolean;
  readonly sourceDateEpoch: number | undefined;
  readonly concurrency: number;
  readonly signingKey: SigningKey | undefined;
  /** Sign later: ready signature partitions by lowercase hex root hash (repart v258 --join-signature=). */
  readonly joinedSignatures?: ReadonlyMap<string, Uint8Array>;
  /**
   * Size partitions whose content size is known (read-only filesystems, CopyBlocks=, verity)
   * exactly to their content unless sizes are given (the spec's default; repart needs
   * Minimize=best for that).
   */
  readonly fitContent: boolean;
  /** See LayoutRequest.repartAttributeQuirk: `gptimg repart` mirrors repart bit for bit. */
  readonly repartAttributeQuirk: boolean;
  readonly progress?: (doneBytes: number, totalBytes: number) => void;
  /** systemd-boot + UKI in the ESP partition `boot.espIndex` (spec `boot` section). */
  readonly boot?: BootRequest & { readonly espIndex: number };
}

export interface ComposeResult {
  readonly layout: Layout;
  readonly finalUuids: ReadonlyMap<PlannedPartition, string>;
  readonly splitFiles: ReadonlyMap<PlannedPartition, string>;
  readonly verity: readonly VerityOutcome[];
  /** False when nothing was written (dry run). */
  readonly written: boolean;
}

/** Exit status 77 in repart: "not GPT, so not doing anything". */
export class NotRepartitioningError extends Error {}

export async function compose(request: ComposeRequest): Promise<ComposeResult> {
  checkVeritySiblings(request.definitions);
  const probe = await probeImage(request);
  const sectorSize = probe.sectorSize;
  const grainBytes = Math.max(4096, sectorSize);
  const filesystemSectorSize = request.filesystemSectorSize;
  const identities = definitionIdentities({ definitions: request.definitions, existing: probe.existing, seed: request.seed });
  return withScratchDirectory(request.imagePath, async (scratchDirectory) => {
    const contentContext = { copySource: request.copySource, ...(request.copyFilesRoot !== undefined ? { copyFilesRoot: request.copyFilesRoot } : {}), scratchDirectory, sourceDateEpoch: request.sourceDateEpoch, concurrency: request.concurrency, sectorSize, grainBytes };
    const contents = new Map<PartitionDefinition, PartitionContent>();
    for (const [index, definition] of request.definitions.entries()) {
      if (request.deferredTypes.has(definition.type.uuid)) continue;
      const content = request.boot?.espIndex === index
        ? await bootEspContent(definition, needsPopulate(definition) ? await partitionTree(definition, contentContext) : undefined, identities.get(index)!, request.boot, contentContext, verityPlaceholders(request.definitions))
        : await definitionContent(definition, identities.get(index)!, contentContext);
      if (content) contents.set(definition, content);
      const needed = content?.minimumBytes;
      if (needed !== undefined && definition.sizeMaxBytes !== undefined && alignUp(needed, grainBytes) > definition.sizeMaxBytes) {
        fail(ErrorCode.Size, `${definition.source}: the content needs ${formatSize(needed)} (${alignUp(needed, grainBytes)} bytes) but SizeMaxBytes= is ${formatSize(definition.sizeMaxBytes)}`, `raise SizeMaxBytes= to at least ${alignUp(needed, grainBytes)} or drop it`);
      }
    }
    const definitions = fitToContent(request.definitions, contents, grainBytes, filesystemSectorSize, request.fitContent);
    const contentSizes = new Map<number, number>();
    request.definitions.forEach((definition, index) => {
      const minimum = contents.get(definition)?.minimumBytes;
      if (minimum !== undefined) contentSizes.set(index, minimum);
    });
    const layout = planLayout({ definitions, seed: request.seed, sectorSize, size: request.size, existing: probe.existing, currentSizeBytes: probe.currentSizeBytes, contentSizes, filesystemSectorSize, repartAttributeQuirk: request.repartAttributeQuirk });
    const writtenLayout: Layout = { ...layout, partitions: layout.partitions.filter((partition) => !request.deferredTypes.has(partition.type.uuid)) };
    const partitionContents = new Map<PlannedPartition, PartitionContent>();
    for (const partition of writtenLayout.partitions) {
      const content = partition.definitionIndex === undefined ? undefined : contents.get(request.definitions[partition.definitionIndex]!);
      if (content) partitionContents.set(partition, content);
    }
    if (request.dryRun) return { layout: writtenLayout, finalUuids: new Map(), splitFiles: new Map(), verity: [], written: false };

    let verity: readonly VerityOutcome[] = [];
    const writePartitionsInto = async (sink: BlockSink): Promise<ReadonlyMap<PlannedPartition, string>> => {
      const result = await writePartitions(writtenLayout, sink, {
        contents: partitionContents,
        veritySalt: layout.veritySalt,
        verityUuid: layout.verityUuid,
        concurrency: request.concurrency,
        signingKey: request.signingKey,
        ...(request.joinedSignatures ? { joinedSignatures: request.joinedSignatures } : {}),
        zeroFill: !probe.fresh,
        progress: request.progress,
      });
      verity = result.verity;
      return result.finalUuids;
    };
    const finalUuids = probe.fresh
      ? await writeNewImage(request.imagePath, writtenLayout, writePartitionsInto)
      : await updateExistingImage(request.imagePath, writtenLayout, probe.currentSizeBytes, writePartitionsInto);
    const splitFiles = request.split ? splitPaths(request.imagePath, writtenLayout, finalUuids) : new Map<PlannedPartition, string>();
    try {
      await writeSplitFiles(request.imagePath, splitFiles);
    } catch (error) {
      // A new image is only kept when everything asked for was written.
      if (probe.fresh) await rm(request.imagePath, { force: true });
      throw error;
    }
    return { layout: writtenLayout, finalUuids, splitFiles, verity, written: true };
  });
}

/** Same-length stand-ins for the root hashes, in the order execute() reports them (hash partitions in definition order). */
function verityPlaceholders(definitions: readonly PartitionDefinition[]): VerityDependency[] {
  return definitions
    .filter((definition) => definition.verity === "hash")
    .map((hash) => {
      const designator = definitions.find((other) => other.verity === "data" && other.verityMatchKey === hash.verityMatchKey)?.type.designator;
      return { designator: designator === "root" || designator === "usr" ? designator : undefined, rootHash: PLACEHOLDER_HASH };
    });
}

/**
 * The spec's default sizing (and repart's Minimize=): a partition whose content has a known
 * size and no size of its own (read-only filesystem, CopyBlocks=, verity data) is exactly its
 * content, rounded to the grain; its verity hash partition is exactly the hash tree of that.
 */
export function fitToContent(definitions: readonly PartitionDefinition[], contents: ReadonlyMap<PartitionDefinition, PartitionContent>, grainBytes: number, filesystemSectorSize: number, byDefault: boolean): PartitionDefinition[] {
  const fitted = new Map<PartitionDefinition, PartitionDefinition>();
  for (const definition of definitions) {
    const content = contents.get(definition)?.minimumBytes;
    // Without the spec's default, only Minimize= asks for it (repart: the minimized image becomes the content).
    const wantsFit = byDefault || definition.minimize !== "off";
    const fixedContent = wantsFit && (definition.copyBlocks !== undefined || isReadOnlyFormat(definition.format) || definition.verity === "data");
    if (content === undefined || !fixedContent || definition.sizeMaxBytes !== undefined) continue;
    const exact = Math.max(alignUp(content, grainBytes), definition.sizeMinBytes ?? 0);
    fitted.set(definition, { ...definition, sizeMinBytes: exact, sizeMaxBytes: exact });
  }
  return definitions.map((definition) => {
    if (definition.verity !== "hash" || (!byDefault && definition.minimize === "off") || definition.sizeMinBytes !== undefined || definition.sizeMaxBytes !== undefined) return fitted.get(definition) ?? definition;
    const data = definitions.find((other) => other.verity === "data" && other.verityMatchKey === definition.verityMatchKey);
    const dataSize = data ? fitted.get(data)?.sizeMaxBytes : undefined;
    if (dataSize === undefined) return definition;
    const hashSize = planVerity(dataSize, {
      dataBlockSize: definition.verityDataBlockSizeBytes ?? filesystemSectorSize,
      hashBlockSize: definition.verityHashBlockSizeBytes ?? filesystemSectorSize,
      algorithm: "sha256",
    }, definition.source).hashImageSizeBytes;
    return { ...definition, sizeMinBytes: alignUp(hashSize, grainBytes), sizeMaxBytes: alignUp(hashSize, grainBytes) };
  });
}

function splitPaths(imagePath: string, layout: Layout, finalUuids: ReadonlyMap<PlannedPartition, string>): Map<PlannedPartition, string> {
  const splitFiles = new Map<PlannedPartition, string>();
  const seen = new Map<string, PlannedPartition>();
  for (const partition of layout.partitions) {
    const template = partition.definition?.splitName;
    if (!partition.definition || template === null) continue;
    const path = splitPath(imagePath, resolveSplitName(template ?? "%t", partition, finalUuids.get(partition) ?? partition.uuid));
    const other = seen.get(path);
    if (other) fail(ErrorCode.Layout, `${other.definition!.source} and ${partition.definition.source} have the same resolved split name "${path}", refusing`, "give them different SplitName= templates");
    seen.set(path, partition);
    splitFiles.set(partition, path);
  }
  return splitFiles;
}

interface ImageProbe {
  /** A new file is created (atomically) rather than an existing one updated in place. */
  readonly fresh: boolean;
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
    return { fresh: true, sectorSize: request.sectorSize ?? 512, currentSizeBytes: 0, existing: undefined };
  }
  if (!exists) fail(ErrorCode.Image, `${request.imagePath}: no such file`, "create it with --empty=create --size=…");
  if (request.empty === "force") return { fresh: false, sectorSize: request.sectorSize ?? 512, currentSizeBytes, existing: undefined };

  const source = new FileSliceSource(request.imagePath, 0, currentSizeBytes);
  const probe = await readGpt(source, request.sectorSize);
  const hasLabel = probe.gpt !== undefined || probe.hasMbr;
  if (request.empty === "require") {
    if (hasLabel) throw new NotRepartitioningError(`${request.imagePath}: already has a disk label, refusing (--empty=require)`);
    return { fresh: false, sectorSize: request.sectorSize ?? 512, currentSizeBytes, existing: undefined };
  }
  if (!probe.gpt) {
    if (request.empty === "allow" && !hasLabel) return { fresh: false, sectorSize: request.sectorSize ?? 512, currentSizeBytes, existing: undefined };
    throw new NotRepartitioningError(`${request.imagePath}: has no GPT disk label, not repartitioning`);
  }
  const errors = probe.gpt.findings.filter((finding) => finding.severity === "error");
  if (errors.length > 0) {
    fail(ErrorCode.Image, `${request.imagePath}: the partition table is damaged (${errors[0]!.message})`, "run `gptimg inspect` to see every finding; repair it before repartitioning");
  }
  return { fresh: false, sectorSize: probe.gpt.sectorSize, currentSizeBytes, existing: existingTable(probe.gpt) };
}

function existingTable(gpt: DecodedGpt): ExistingTable {
  return { sectorSize: gpt.sectorSize, totalSectors: gpt.totalSectors, firstUsableLba: gpt.header.firstUsableLba, diskGuid: gpt.header.diskGuid, entries: gpt.entries };
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
