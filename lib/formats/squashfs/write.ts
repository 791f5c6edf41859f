/**
 * writeSquashfs: streams a tree into a squashfs 4.0 image, as squashfs-tools 4.5/4.6 lay it
 * out: superblock, data and fragment blocks, inode table, directory table, fragment table,
 * export table, id table, xattr table, then zero padding to a 4 KiB multiple. Every byte after
 * the superblock is written once, in increasing offsets; the superblock, which needs the
 * table positions, is written last.
 */
import { concatBytes, setU64LE, view } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { alignUp, isPow2 } from "../../core/int.js";
import { loadCodec, resolveLevel, type Codec, type CodecId } from "../../compress/codec.js";
import { CompressionPool } from "../../compress/pool.js";
import { writeAtomically, type BlockSink } from "../../io/sink.js";
import { BytesSource, sourceChunks, type ByteSource } from "../../io/source.js";
import type { DirNode, TreeNode } from "../../tree/tree.js";
import { DataWriter, type FileData } from "./data.js";
import { writeInodeTables } from "./inodes.js";
import {
  COMPRESSION_ID, FLAG, INVALID_BLOCK, MAX_BLOCK_BYTES, MIN_BLOCK_BYTES, PAD_BYTES, SUPERBLOCK_BYTES, XATTR_ID_TABLE,
  XATTR_ID_TABLE_BYTES,
} from "./layout.js";
import { MetadataWriter } from "./metadata.js";
import { planInodes } from "./plan.js";
import { encodeCompressorOptions, encodeSuperblock } from "./superblock.js";
import { encodeFragmentEntries, encodeLookupTable, encodeU32s, encodeU64s } from "./tables.js";
import { XattrTableWriter } from "./xattr.js";

export interface SquashfsOptions {
  /** Data block size in bytes: a power of two from 4 KiB to 1 MiB (default 128 KiB). */
  readonly blockSize?: number;
  /** Default gzip, as mksquashfs. "none" stores every block and table uncompressed. */
  readonly compression?: SquashfsCompression;
  /** Default: the codec's mksquashfs default (gzip 9, zstd 15). */
  readonly compressionLevel?: number;
  /** Clamps mtimes and becomes the superblock's mkfs time (else 0, so output is reproducible). */
  readonly sourceDateEpoch?: number;
  /** Compression worker threads; the output does not depend on it. */
  readonly concurrency: number;
  /** Size of each read from file sources (default: the block size); does not change the output. */
  readonly readChunkBytes?: number;
}

export interface SquashfsResult {
  /** Bytes written, including the padding to 4 KiB. */
  readonly sizeBytes: number;
  /** The superblock's bytes_used: the file system proper, without padding. */
  readonly bytesUsed: number;
  readonly inodes: number;
  readonly fragments: number;
  readonly ids: number;
  readonly xattrIds: number;
  readonly blockSize: number;
  readonly compression: SquashfsCompression;
}

export const DEFAULT_BLOCK_BYTES = 128 * 1024;
/** The codecs gptimg writes squashfs with (raw deflate and lz4 are erofs's here). */
export type SquashfsCompression = Exclude<CodecId, "deflate" | "lz4">;
const SQUASHFS_CODECS: readonly SquashfsCompression[] = ["gzip", "zstd", "none"];

interface Settings {
  readonly blockSize: number;
  readonly compression: SquashfsCompression;
  readonly codec: Codec;
  readonly level: number;
  readonly concurrency: number;
  readonly readChunkBytes: number;
}

async function resolveSettings(options: SquashfsOptions): Promise<Settings> {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_BYTES;
  if (!isPow2(blockSize) || blockSize < MIN_BLOCK_BYTES || blockSize > MAX_BLOCK_BYTES) {
    fail(ErrorCode.Spec, `squashfs.blockSize: ${blockSize} is not a power of two from ${MIN_BLOCK_BYTES} to ${MAX_BLOCK_BYTES}`, "use e.g. 131072 (128 KiB)");
  }
  const compression = options.compression ?? "gzip";
  if (!(SQUASHFS_CODECS as readonly unknown[]).includes(compression)) fail(ErrorCode.Spec, `squashfs.compression: "${String(compression)}" is not supported`, "use gzip, zstd or none");
  const codec = await loadCodec(compression);
  const level = resolveLevel(codec, options.compressionLevel, "squashfs.compressionLevel");
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) fail(ErrorCode.Spec, `squashfs.concurrency: ${options.concurrency} is not a positive integer`, "give at least 1");
  const readChunkBytes = options.readChunkBytes ?? blockSize;
  if (!Number.isInteger(readChunkBytes) || readChunkBytes < 1) fail(ErrorCode.Spec, `squashfs.readChunkBytes: ${readChunkBytes} is not a positive integer`, "give a chunk size in bytes");
  return { blockSize, compression, codec, level, concurrency: options.concurrency, readChunkBytes };
}

/**
 * Reads the next few small files (up to one block each) while earlier ones are processed, so
 * the many open/read/close round trips of a real tree overlap instead of leaving the
 * compression workers idle. Order of processing is unchanged; at most PREFETCH_FILES small
 * files (each ≤ one block) are held.
 */
class SmallFilePrefetch {
  private static readonly PREFETCH_FILES = 64;
  private readonly pending = new Map<number, Promise<Uint8Array>>();
  private scheduledUpTo = 0;

  constructor(private readonly contents: readonly ByteSource[], private readonly blockSize: number, private readonly readChunkBytes: number) {}

  async take(index: number): Promise<ByteSource> {
    const limit = Math.min(this.contents.length, index + SmallFilePrefetch.PREFETCH_FILES);
    for (; this.scheduledUpTo < limit; this.scheduledUpTo++) {
      const content = this.contents[this.scheduledUpTo]!;
      if (content.size === 0 || content.size > this.blockSize) continue;
      const read = readWhole(content, this.readChunkBytes);
      // Failures surface when the file's turn comes; this keeps an abandoned one quiet.
      read.catch(() => undefined);
      this.pending.set(this.scheduledUpTo, read);
    }
    const read = this.pending.get(index);
    if (!read) return this.contents[index]!;
    this.pending.delete(index);
    return new BytesSource(await read, this.contents[index]!.description);
  }
}

async function readWhole(content: ByteSource, readChunkBytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of sourceChunks(content, readChunkBytes)) parts.push(chunk);
  return parts.length === 1 ? parts[0]! : concatBytes(parts);
}

/**
 * Writes the image to `out` at `baseOffset`: everything after the superblock in increasing
 * offsets, the 96-byte superblock last. Returns sizes known only after writing.
 */
export async function writeSquashfs(tree: DirNode, options: SquashfsOptions, out: BlockSink, baseOffset = 0): Promise<SquashfsResult> {
  const settings = await resolveSettings(options);
  const { compression, codec, level, blockSize } = settings;
  const plan = planInodes(tree);

  const compressorOptions = compression !== "none" && level !== codec.defaultLevel ? encodeCompressorOptions(compression, level) : undefined;
  if (compressorOptions) await out.writeAt(baseOffset + SUPERBLOCK_BYTES, compressorOptions);
  const pool = codec.id === "none" ? undefined : new CompressionPool(codec.id, level, settings.concurrency);
  const fileData = new Map<TreeNode, FileData>();
  // Blocks in flight: enough to keep every worker busy while the main thread reads ahead.
  const data = new DataWriter(out, baseOffset, SUPERBLOCK_BYTES + (compressorOptions?.length ?? 0), {
    blockSize,
    readChunkBytes: settings.readChunkBytes,
    maxInFlight: 4 * settings.concurrency + 4,
    compress: pool ? (block) => pool.compress(block) : undefined,
  });
  try {
    const prefetch = new SmallFilePrefetch(plan.files.map((file) => file.node.content), blockSize, settings.readChunkBytes);
    for (let index = 0; index < plan.files.length; index++) {
      const file = plan.files[index]!;
      const content = await prefetch.take(index);
      fileData.set(file.node, await data.addFile(content, file.node.size, file.sizeShared, file.path || "/"));
    }
    await data.finish();
  } finally {
    await pool?.close();
  }

  const xattrs = new XattrTableWriter(codec, level);
  const tables = writeInodeTables(tree, { plan, fileData, xattrs, sourceDateEpoch: options.sourceDateEpoch }, new MetadataWriter(codec, level), new MetadataWriter(codec, level));

  let position = data.positionBytes;
  const emit = async (parts: readonly Uint8Array[]): Promise<void> => {
    const bytes = concatBytes(parts);
    await out.writeAt(baseOffset + position, bytes);
    position += bytes.length;
  };
  const lookupTable = async (entries: Uint8Array): Promise<number> => {
    const table = encodeLookupTable(entries, position, codec, level);
    const start = position + table.indexOffset;
    await emit(table.parts);
    return start;
  };

  const inodeTableStart = position;
  await emit(tables.inodes.finish());
  const directoryTableStart = position;
  await emit(tables.directories.finish());
  const fragmentTableStart = await lookupTable(encodeFragmentEntries(data.fragments));
  const lookupTableStart = await lookupTable(encodeU64s(tables.exportRefs));
  const idTableStart = await lookupTable(encodeU32s(plan.ids));
  let xattrIdTableStart = INVALID_BLOCK;
  if (xattrs.count > 0) {
    // Key/value blocks, then the xattr id entries, then the header the superblock points
    // at (squashfs_xattr_id_table), directly followed by the index of the id blocks.
    const valuesStart = position;
    await emit(xattrs.values.finish());
    const idTable = encodeLookupTable(xattrs.encodeIds(), position, codec, level);
    const header = new Uint8Array(XATTR_ID_TABLE_BYTES);
    setU64LE(view(header), XATTR_ID_TABLE["xattr_table_start"]![0], valuesStart);
    view(header).setUint32(XATTR_ID_TABLE["xattr_ids"]![0], xattrs.count, true);
    xattrIdTableStart = position + idTable.indexOffset;
    await emit([...idTable.parts.slice(0, -1), header, idTable.parts[idTable.parts.length - 1]!]);
  }
  const bytesUsed = position;
  const sizeBytes = alignUp(bytesUsed, PAD_BYTES);
  await emit([new Uint8Array(sizeBytes - bytesUsed)]);

  const uncompressed = codec.id === "none"
    ? FLAG.uncompressedInodes | FLAG.uncompressedData | FLAG.uncompressedFragments | FLAG.uncompressedXattrs | FLAG.uncompressedIds
    : 0;
  const superblock = encodeSuperblock({
    inodes: plan.inodeCount,
    mkfsTime: options.sourceDateEpoch ?? 0,
    blockSize,
    fragments: data.fragments.length,
    // "none" has no superblock id: every block is stored raw, under the gzip id (mksquashfs -noI -noD -noF -noX).
    compression: codec.id === "zstd" ? COMPRESSION_ID.zstd : COMPRESSION_ID.gzip,
    // mksquashfs sets NO_XATTR only for -no-xattrs; an image without xattrs just has no table.
    flags: FLAG.duplicates | FLAG.exportable | uncompressed | (compressorOptions ? FLAG.compressorOptions : 0),
    ids: plan.ids.length,
    rootInodeRef: tables.rootRef,
    bytesUsed,
    idTableStart,
    xattrIdTableStart,
    inodeTableStart,
    directoryTableStart,
    fragmentTableStart,
    lookupTableStart,
  });
  await out.writeAt(baseOffset, superblock);
  return { sizeBytes, bytesUsed, inodes: plan.inodeCount, fragments: data.fragments.length, ids: plan.ids.length, xattrIds: xattrs.count, blockSize, compression };
}

/** Writes a standalone image file atomically: on any error no file is left at `path`. */
export async function buildSquashfsFile(tree: DirNode, options: SquashfsOptions, path: string): Promise<SquashfsResult> {
  return writeAtomically(path, 0, async (sink) => {
    const result = await writeSquashfs(tree, options, sink, 0);
    // The file sink skips all-zero writes, so the 4 KiB padding is made by sizing the file.
    await sink.truncate(result.sizeBytes);
    return result;
  });
}
