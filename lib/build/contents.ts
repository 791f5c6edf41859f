/**
 * Turns each definition into PartitionContent: CopyBlocks= files, and filesystems that
 * gptimg writes itself (vfat, squashfs, erofs) from a tree composed of CopyFiles=,
 * ExcludeFiles= and MakeDirectories=. Sizes are known before placement: squashfs is spooled
 * (its size exists only after compression), erofs (compressed first when asked) and FAT are
 * planned exactly.
 */
import { isAbsolute, join, resolve } from "node:path";
import { ErrorCode, fail } from "../core/errors.js";
import { loadCodec, resolveLevel } from "../compress/codec.js";
import { compressErofsFiles, type ErofsAlgorithm, type ErofsCompressedData } from "../formats/erofs/compress.js";
import { planErofs } from "../formats/erofs/plan.js";
import { writeErofs } from "../formats/erofs/write.js";
import { planFat } from "../formats/fat/plan.js";
import { writeFat } from "../formats/fat/write.js";
import { writeSquashfs, type SquashfsCompression } from "../formats/squashfs/write.js";
import { encodeSwapHeader } from "../formats/swap/encode.js";
import { FileSink } from "../io/sink.js";
import { FileSliceSource } from "../io/source.js";
import type { PartitionDefinition } from "../plan/definition.js";
import { fatVolumeId } from "../plan/ids.js";
import { buildPartitionTree } from "../tree/compose.js";
import type { DirNode } from "../tree/tree.js";
import { copyBlocksContent, sourceContent, type PartitionContent } from "./content.js";

export interface ContentContext {
  /** Relative CopyBlocks=/CopyFiles= sources are resolved against this directory. */
  readonly copySource: string;
  /**
   * repart's --copy-source=: absolute CopyFiles= sources live below this directory (repart
   * resolves them in --copy-source/--root, else on the host). Undefined: absolute = host path.
   */
  readonly copyFilesRoot?: string;
  readonly scratchDirectory: string;
  readonly sourceDateEpoch: number | undefined;
  readonly concurrency: number;
  readonly sectorSize: number;
  readonly grainBytes: number;
}

/** Identity a filesystem needs before placement: label and the seed-derived fs UUID. */
export interface ContentIdentity {
  readonly label: string;
  readonly filesystemUuid: string;
}

/** repart (main) refuses a vfat ESP/XBOOTLDR below 100 MiB (260 MiB with 4K sectors); firmware needs FAT32 room. */
export function espMinimumBytes(sectorSize: number): number {
  return (sectorSize >= 4096 ? 260 : 100) * 1024 * 1024;
}

export async function definitionContent(definition: PartitionDefinition, identity: ContentIdentity, context: ContentContext): Promise<PartitionContent | undefined> {
  if (definition.copyBlocks !== undefined) {
    if (definition.copyBlocks === "auto") fail(ErrorCode.Definitions, `${definition.source}: CopyBlocks=auto copies from the running system`, "gptimg builds images offline: give the path of an image file");
    const path = isAbsolute(definition.copyBlocks) ? definition.copyBlocks : resolve(context.copySource, definition.copyBlocks);
    return copyBlocksContent(path, definition.source);
  }
  switch (definition.format) {
    case undefined:
      return undefined;
    case "swap":
      return {
        minimumBytes: undefined,
        write: (sink, partitionSizeBytes) => sink.write(encodeSwapHeader(partitionSizeBytes, identity.filesystemUuid, identity.label)),
      };
    case "squashfs":
      return squashfsContent(definition, await partitionTree(definition, context), identity, context);
    case "erofs":
      return await erofsContent(definition, await partitionTree(definition, context), identity, context);
    case "vfat":
      return fatContent(definition, await partitionTree(definition, context), identity, context);
    default:
      return fail(ErrorCode.Definitions, `${definition.source}: Format=${definition.format} is not supported by gptimg`, "use vfat, squashfs or erofs, or CopyBlocks= a prebuilt image");
  }
}

export function partitionTree(definition: PartitionDefinition, context: ContentContext): Promise<DirNode> {
  const root = context.copyFilesRoot;
  const copyFiles = root === undefined ? definition.copyFiles : definition.copyFiles.map((copy) => (copy.startsWith("/") ? join(root, copy) : copy));
  return buildPartitionTree(
    { copyFiles, excludeFiles: definition.excludeFiles, excludeFilesTarget: definition.excludeFilesTarget, makeDirectories: definition.makeDirectories, ...definition.tree },
    context.copySource,
    { scratchDirectory: context.scratchDirectory, sourceDateEpoch: context.sourceDateEpoch },
  );
}

const SQUASHFS_COMPRESSION: Readonly<Record<string, SquashfsCompression>> = { gzip: "gzip", zlib: "gzip", zstd: "zstd", none: "none" };

function compressionLevel(definition: PartitionDefinition): number | undefined {
  if (definition.compressionLevel === undefined) return undefined;
  const level = Number(definition.compressionLevel);
  if (!Number.isInteger(level)) fail(ErrorCode.Definitions, `${definition.source}: CompressionLevel=${definition.compressionLevel} is not an integer`, "use e.g. 9 for gzip or 15 for zstd");
  return level;
}

async function squashfsContent(definition: PartitionDefinition, tree: DirNode, identity: ContentIdentity, context: ContentContext): Promise<PartitionContent> {
  const compression = SQUASHFS_COMPRESSION[definition.compression ?? "gzip"];
  if (!compression) fail(ErrorCode.Definitions, `${definition.source}: Compression=${definition.compression} is not supported for squashfs`, "use gzip, zstd or none");
  // The size of a compressed filesystem exists only after compressing it: spool it once,
  // then copy the spool into the partition.
  const spool = join(context.scratchDirectory, `squashfs-${identity.filesystemUuid}.img`);
  const sink = await FileSink.create(spool, 0);
  let sizeBytes: number;
  try {
    ({ sizeBytes } = await writeSquashfs(tree, { compression, compressionLevel: compressionLevel(definition), sourceDateEpoch: context.sourceDateEpoch, concurrency: context.concurrency }, sink));
    // The sink skips zero runs, so the trailing padding must be made real by sizing the file.
    await sink.truncate(sizeBytes);
  } finally {
    await sink.close();
  }
  return sourceContent(new FileSliceSource(spool, 0, sizeBytes, `${definition.source} (squashfs)`));
}

/**
 * repart passes Compression= to mkfs.erofs -z. gptimg writes lz4 (lz4hc's search is its
 * levels 2–12), deflate (libdeflate writes the same stream) and zstd; not lzma.
 */
const EROFS_COMPRESSION: Readonly<Record<string, ErofsAlgorithm | "none">> = { lz4: "lz4", lz4hc: "lz4", deflate: "deflate", libdeflate: "deflate", zstd: "zstd", none: "none" };

async function erofsContent(definition: PartitionDefinition, tree: DirNode, identity: ContentIdentity, context: ContentContext): Promise<PartitionContent> {
  const algorithm = EROFS_COMPRESSION[definition.compression ?? "none"];
  if (!algorithm) fail(ErrorCode.Definitions, `${definition.source}: Compression=${definition.compression} is not supported for erofs`, "use lz4, zstd, deflate or none (gptimg does not write lzma)");
  // Compressing comes first, so that the plan (and the partition size) is still exact.
  let compressed: ErofsCompressedData | undefined;
  if (algorithm !== "none") {
    const level = resolveLevel(await loadCodec(algorithm), compressionLevel(definition), `${definition.source}: CompressionLevel`);
    compressed = await compressErofsFiles(tree, { algorithm, level }, { concurrency: context.concurrency, spoolPath: join(context.scratchDirectory, `erofs-${identity.filesystemUuid}.clusters`) });
  }
  const plan = planErofs(tree, { uuid: identity.filesystemUuid, sourceDateEpoch: context.sourceDateEpoch, compressed });
  return { minimumBytes: plan.sizeBytes, write: (sink) => writeErofs(plan, sink) };
}

function fatContent(definition: PartitionDefinition, tree: DirNode, identity: ContentIdentity, context: ContentContext): PartitionContent {
  const isBootPartition = definition.type.designator === "esp" || definition.type.designator === "xbootldr";
  const common = {
    tree,
    sectorSize: context.sectorSize as 512 | 4096,
    label: identity.label,
    volumeId: fatVolumeId(identity.filesystemUuid),
    grainBytes: context.grainBytes,
    where: definition.source,
  };
  const smallest = planFat({ ...common, minSizeBytes: isBootPartition ? espMinimumBytes(context.sectorSize) : 0 });
  return {
    minimumBytes: smallest.sizeBytes,
    // mkfs.vfat formats the whole partition, so the FAT is re-planned for the final size.
    write: (sink, partitionSizeBytes) => writeFat(partitionSizeBytes === smallest.sizeBytes ? smallest : planFat({ ...common, sizeBytes: partitionSizeBytes }), sink),
  };
}
