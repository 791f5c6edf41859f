/**
 * erofs compression (lz4, deflate or zstd), run before the layout is planned so that the plan is
 * still exact: every regular file larger than one block is cut into physical clusters of
 * `pclusterBytes` decompressed bytes (whole 4 KiB logical clusters), and each cluster is
 * compressed on the worker pool. A cluster keeps its compressed stream only when that saves
 * at least one block (and the stream does not start with a zero byte, which the kernel
 * would take for padding); otherwise it is stored plain, one block per logical cluster. A
 * file is stored compressed only when its clusters take fewer blocks than its uncompressed
 * whole blocks; else it stays flat, with its tail inline. Kept streams go to a spool file
 * in order, so memory holds only the clusters in flight; the writer copies them from there.
 *
 * Results are consumed in submission order, so neither the spool nor the image depends on
 * the number of workers.
 */
import { open } from "node:fs/promises";
import { loadCodec, resolveLevel } from "../../compress/codec.js";
import { CompressionPool, type CompressReply } from "../../compress/pool.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { FileSliceSource, type ByteSource } from "../../io/source.js";
import type { DirNode, FileNode, TreeNode } from "../../tree/tree.js";
import { BLOCK_SIZE_BYTES, COMPRESSION_ALGORITHM } from "./layout.js";

export type ErofsAlgorithm = keyof typeof COMPRESSION_ALGORITHM;

export interface ErofsCompressionOptions {
  readonly algorithm: ErofsAlgorithm;
  /** Default: the codec's (lz4 9, deflate 9, zstd 15). */
  readonly level?: number;
  /** Decompressed bytes per physical cluster: whole blocks, at most 1 MiB; default 64 KiB. */
  readonly pclusterBytes?: number;
}

export interface Pcluster {
  readonly lclusters: number;
  /** Blocks it takes: its stream rounded up, or one per logical cluster when stored plain. */
  readonly blocks: number;
  /** Where its compressed stream is in the spool; undefined when it is stored plain. */
  readonly stream: { readonly offset: number; readonly bytes: number } | undefined;
}

export interface CompressedFile {
  readonly pclusters: readonly Pcluster[];
  readonly blocks: number;
}

export interface ErofsCompressedData {
  readonly algorithm: ErofsAlgorithm;
  readonly pclusterBytes: number;
  /** The files stored compressed; every other file stays flat. */
  readonly files: ReadonlyMap<TreeNode, CompressedFile>;
  /** The kept streams, back to back. */
  readonly spool: ByteSource;
}

export const DEFAULT_PCLUSTER_BYTES = 64 * 1024;
/** Z_EROFS_PCLUSTER_MAX_SIZE: the kernel's largest physical cluster. */
const MAX_PCLUSTER_BYTES = 1024 * 1024;

interface PendingCluster {
  readonly file: FileNode;
  readonly first: boolean;
  readonly last: boolean;
  readonly rawBytes: number;
  readonly reply: Promise<CompressReply>;
}

/** Compresses the tree's files into the spool at `context.spoolPath`; the caller removes it once the image is written. */
export async function compressErofsFiles(tree: DirNode, options: ErofsCompressionOptions, context: { readonly concurrency: number; readonly spoolPath: string }): Promise<ErofsCompressedData> {
  if (!(options.algorithm in COMPRESSION_ALGORITHM)) fail(ErrorCode.Spec, `erofs.compression: "${String(options.algorithm)}" is not supported`, "use lz4, deflate, zstd or none");
  const pclusterBytes = options.pclusterBytes ?? DEFAULT_PCLUSTER_BYTES;
  if (!Number.isInteger(pclusterBytes) || pclusterBytes % BLOCK_SIZE_BYTES !== 0 || pclusterBytes < BLOCK_SIZE_BYTES || pclusterBytes > MAX_PCLUSTER_BYTES) {
    fail(ErrorCode.Spec, `erofs.pclusterBytes: ${pclusterBytes} is not a multiple of ${BLOCK_SIZE_BYTES} from ${BLOCK_SIZE_BYTES} to ${MAX_PCLUSTER_BYTES}`, "use e.g. 65536");
  }
  const level = resolveLevel(await loadCodec(options.algorithm), options.level, "erofs.compressionLevel");
  const workers = Math.max(1, context.concurrency);
  const maxInFlight = 4 * workers + 2;
  const pool = new CompressionPool(options.algorithm, level, workers);
  const spool = await open(context.spoolPath, "w");
  const files = new Map<TreeNode, CompressedFile>();
  const inFlight: PendingCluster[] = [];
  let spoolBytes = 0;
  let fileStart = 0;
  let pclusters: Pcluster[] = [];

  const consumeOldest = async (): Promise<void> => {
    const cluster = inFlight.shift()!;
    const stream = (await cluster.reply).bytes;
    if (cluster.first) {
      fileStart = spoolBytes;
      pclusters = [];
    }
    const lclusters = Math.ceil(cluster.rawBytes / BLOCK_SIZE_BYTES);
    const streamBlocks = Math.ceil(stream.length / BLOCK_SIZE_BYTES);
    if (streamBlocks < lclusters && stream[0] !== 0) {
      await spool.write(stream, 0, stream.length, spoolBytes);
      pclusters.push({ lclusters, blocks: streamBlocks, stream: { offset: spoolBytes, bytes: stream.length } });
      spoolBytes += stream.length;
    } else {
      pclusters.push({ lclusters, blocks: lclusters, stream: undefined });
    }
    if (!cluster.last) return;
    const blocks = pclusters.reduce((total, pcluster) => total + pcluster.blocks, 0);
    // Flat, the file takes its whole blocks and keeps its tail inline (at best).
    if (blocks < Math.floor(cluster.file.size / BLOCK_SIZE_BYTES)) files.set(cluster.file, { pclusters, blocks });
    else spoolBytes = fileStart;
  };

  try {
    for (const file of compressibleFiles(tree)) {
      for (let offset = 0; offset < file.size; offset += pclusterBytes) {
        const rawBytes = Math.min(pclusterBytes, file.size - offset);
        const raw = await file.content.read(offset, rawBytes);
        if (raw.length !== rawBytes) fail(ErrorCode.Input, `${file.content.description}: changed size while gptimg read it`, "do not modify the input tree during a build");
        // The cluster is transferred to a worker: only a file read is ours to give away;
        // other sources may hand out views of bytes the tree still holds.
        const reply = pool.compress(file.content instanceof FileSliceSource ? raw : raw.slice(), true);
        // A failure surfaces where the cluster is consumed; until then it is not unhandled.
        reply.catch(() => undefined);
        inFlight.push({ file, first: offset === 0, last: offset + rawBytes === file.size, rawBytes, reply });
        while (inFlight.length >= maxInFlight) await consumeOldest();
      }
    }
    while (inFlight.length > 0) await consumeOldest();
  } finally {
    await spool.close();
    await pool.close();
  }
  return { algorithm: options.algorithm, pclusterBytes, files, spool: new FileSliceSource(context.spoolPath, 0, spoolBytes, "erofs compression spool") };
}

/** Regular files larger than one block (smaller ones are inline tails), each node once, in tree order. */
function compressibleFiles(tree: DirNode): FileNode[] {
  const seen = new Set<TreeNode>();
  const found: FileNode[] = [];
  const walk = (directory: DirNode): void => {
    for (const { node } of directory.entries) {
      if (node.kind === "dir") walk(node);
      else if (node.kind === "file" && node.size > BLOCK_SIZE_BYTES && !seen.has(node)) {
        seen.add(node);
        found.push(node);
      }
    }
  };
  walk(tree);
  return found;
}
