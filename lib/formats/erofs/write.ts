/**
 * writeErofs: emits a planned erofs image strictly front to back into a SequentialSink:
 * block 0 (superblock), the data area (every file read once, front to back), then the
 * metadata (inodes, xattrs, inline tails, shared xattrs) assembled in a window of whole blocks
 * that moves forward with the offsets the plan recorded. Inline tails met in the data pass are
 * kept for the meta pass up to tailStashBytes; past that they are read again. Memory: the
 * tail stash, one window and two output chunks.
 */
import { alignDown, alignUp } from "../../core/int.js";
import type { ByteSource } from "../../io/source.js";
import type { SequentialSink } from "../../io/stream.js";
import type { CompressedFile, ErofsCompressedData } from "./compress.js";
import { encodeCompressedIndexInto, encodeCompressionConfig, encodeDirBlock, encodeInodeInto, encodeSuperblock, inodeCoreBytes, sealBlockZero, type DirentFields } from "./encode.js";
import type { DirectoryItem } from "./dir.js";
import { BLOCK_SIZE_BYTES, COMPRESSION_ALGORITHM, FEATURE_INCOMPAT_COMPR_CFGS, FEATURE_INCOMPAT_ZERO_PADDING, MAP_HEADER_ALIGN_BYTES, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET_BYTES } from "./layout.js";
import { ChunkedOutput, MetadataWindow } from "./output.js";
import type { ErofsPlan, PlannedInode } from "./plan.js";
import { encodeXattrBodyInto, encodeXattrEntryInto, xattrInodeCount } from "./xattrs.js";

export interface WriteErofsOptions {
  /** Read and write granularity in bytes (default 1 MiB); the output never depends on it. */
  readonly chunkBytes?: number;
  /** Memory for inline tails kept from the data pass (default 64 MiB); output never depends on it. */
  readonly tailStashBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** Inline tails kept from the data pass (each < 4 KiB); beyond this they are read again. */
const DEFAULT_TAIL_STASH_BYTES = 64 * 1024 * 1024;
const TAIL_SLAB_BYTES = 1024 * 1024;

export async function writeErofs(plan: ErofsPlan, sink: SequentialSink, options: WriteErofsOptions = {}): Promise<void> {
  const chunkBytes = Math.max(1, Math.floor(options.chunkBytes ?? DEFAULT_CHUNK_BYTES));
  const startPosition = sink.position;
  const output = new ChunkedOutput(sink, chunkBytes);
  await output.write(encodeBlockZero(plan));
  const tails = new TailStash(Math.max(0, options.tailStashBytes ?? DEFAULT_TAIL_STASH_BYTES));
  await writeDataArea(plan, output, chunkBytes, tails);

  const meta = new MetadataWindow(output, plan.metaBlockAddress * BLOCK_SIZE_BYTES, plan.sizeBytes, Math.max(BLOCK_SIZE_BYTES, alignDown(chunkBytes, BLOCK_SIZE_BYTES)));
  const byOffset = [...plan.inodes].sort((left, right) => left.offsetBytes - right.offsetBytes);
  // Records of at most a block (all but those with huge xattrs) are encoded in one scratch block.
  const scratch = new Uint8Array(BLOCK_SIZE_BYTES);
  for (const inode of byOffset) {
    const record = inode.recordBytes <= scratch.length ? scratch.subarray(0, inode.recordBytes) : new Uint8Array(inode.recordBytes);
    encodeInodeRecordInto(record, inode, inode.tailBytes > 0 ? (tails.get(inode) ?? (await readTail(plan, inode))) : undefined, plan.compression);
    await meta.put(inode.offsetBytes, record);
  }
  let sharedOffset = plan.xattrBlockAddress * BLOCK_SIZE_BYTES;
  for (const xattr of plan.sharedXattrs) {
    const entry = new Uint8Array(xattr.entryBytes);
    encodeXattrEntryInto(entry, 0, xattr);
    await meta.put(sharedOffset, entry);
    sharedOffset += xattr.entryBytes;
  }
  await meta.finish();
  await output.finish();
  if (sink.position - startPosition !== plan.sizeBytes) {
    throw new Error(`internal: erofs writer produced ${sink.position - startPosition} bytes, plan says ${plan.sizeBytes}`);
  }
}

/** Block 0 holds only the superblock, so its checksum is known before anything else. */
function encodeBlockZero(plan: ErofsPlan): Uint8Array {
  const blockZero = new Uint8Array(BLOCK_SIZE_BYTES);
  blockZero.set(encodeSuperblock({
    rootNid: plan.rootNid,
    inodeCount: plan.inodes.length,
    buildTimeSeconds: plan.buildTimeSeconds,
    blocks: plan.blocks,
    metaBlockAddress: plan.metaBlockAddress,
    xattrBlockAddress: plan.xattrBlockAddress,
    uuid: plan.uuid,
    volumeName: plan.volumeName,
    featureIncompat: plan.compression ? FEATURE_INCOMPAT_ZERO_PADDING | FEATURE_INCOMPAT_COMPR_CFGS : 0,
    availableCompressionAlgorithms: plan.compression ? 1 << COMPRESSION_ALGORITHM[plan.compression.algorithm] : 0,
  }), SUPERBLOCK_OFFSET_BYTES);
  if (plan.compression) blockZero.set(encodeCompressionConfig(plan.compression.algorithm, plan.compression.pclusterBytes), SUPERBLOCK_OFFSET_BYTES + SUPERBLOCK_BYTES);
  sealBlockZero(blockZero);
  return blockZero;
}

/**
 * Every byte of the data area, in inode order. A file is read once from start to end: bytes
 * below its data-block part go to the data area, the rest is its inline tail (kept while the
 * stash has room, else read again in the meta pass). Sources that can read in place fill the
 * output chunks directly; others are read in pieces of at most `chunkBytes`.
 */
async function writeDataArea(plan: ErofsPlan, output: ChunkedOutput, chunkBytes: number, tails: TailStash): Promise<void> {
  for (const inode of plan.inodes) {
    const node = inode.node;
    const dataBytes = inode.dataBlocks * BLOCK_SIZE_BYTES;
    if (inode.dataBlocks > 0 && output.position !== inode.dataBlockAddress * BLOCK_SIZE_BYTES) {
      throw new Error(`internal: erofs data of ${inode.path || "/"} planned at block ${inode.dataBlockAddress}, writer is at byte ${output.position}`);
    }
    if (node.kind === "file" && inode.compressed) {
      await writeCompressedFile(plan.compression!, inode.compressed, node.content, output);
    } else if (node.kind === "file") {
      const blockContentBytes = Math.min(inode.sizeBytes, dataBytes);
      const tail = inode.tailBytes > 0 ? tails.reserve(inode) : undefined;
      const source = node.content;
      if (source.readInto) {
        await fillInPlace(output, source, blockContentBytes, tail);
      } else {
        const readBytes = tail ? inode.sizeBytes : blockContentBytes;
        for (let offset = 0; offset < readBytes; offset += chunkBytes) {
          const length = Math.min(chunkBytes, readBytes - offset);
          const bytes = await readExact(source, offset, length, inode.path);
          const split = Math.max(0, Math.min(length, blockContentBytes - offset));
          await output.write(bytes.subarray(0, split));
          if (split < length) tail!.set(bytes.subarray(split), offset + split - blockContentBytes);
        }
      }
      await output.writeZeros(dataBytes - blockContentBytes);
    } else if (inode.dataBlocks === 0) {
      continue;
    } else if (node.kind === "dir") {
      for (const block of inode.directory!.blocks.slice(0, inode.dataBlocks)) {
        const encoded = encodeDirBlock(resolveDirents(plan, block));
        await output.write(encoded);
        await output.writeZeros(BLOCK_SIZE_BYTES - encoded.length);
      }
    } else if (node.kind === "symlink") {
      const target = new TextEncoder().encode(node.target);
      await output.write(target);
      await output.writeZeros(dataBytes - target.length);
    } else {
      throw new Error(`internal: erofs ${node.kind} ${inode.path} has data blocks`);
    }
  }
}

/**
 * Reads a file's data-block part straight into the output chunks (no buffer per read, no
 * promise per small file) and its tail into the stash, together with the last run of data
 * (one open and one readv for most files).
 */
async function fillInPlace(output: ChunkedOutput, source: ByteSource, blockContentBytes: number, tail: Uint8Array | undefined): Promise<void> {
  if (tail && blockContentBytes === 0) source.readInto!(0, [tail]);
  await output.fillInPlace(blockContentBytes, (target, doneBytes) => {
    const last = doneBytes + target.length === blockContentBytes;
    source.readInto!(doneBytes, last && tail ? [target, tail] : [target]);
  });
}

/**
 * Inline tails read in the data pass, for the meta pass: packed into shared slabs (one
 * buffer per tail made thousands of small allocations), up to a byte limit.
 */
class TailStash {
  private readonly tails = new Map<PlannedInode, Uint8Array>();
  private slab = new Uint8Array(0);
  private slabUsedBytes = 0;
  private stashedBytes = 0;

  constructor(private readonly limitBytes: number) {}

  /** Room for the tail of `inode`, or undefined when the limit is reached (it is read again later). */
  reserve(inode: PlannedInode): Uint8Array | undefined {
    if (this.stashedBytes + inode.tailBytes > this.limitBytes) return undefined;
    if (this.slabUsedBytes + inode.tailBytes > this.slab.length) {
      this.slab = new Uint8Array(Math.min(TAIL_SLAB_BYTES, this.limitBytes - this.stashedBytes));
      this.slabUsedBytes = 0;
    }
    const tail = this.slab.subarray(this.slabUsedBytes, this.slabUsedBytes + inode.tailBytes);
    this.slabUsedBytes += inode.tailBytes;
    this.stashedBytes += inode.tailBytes;
    this.tails.set(inode, tail);
    return tail;
  }

  get(inode: PlannedInode): Uint8Array | undefined {
    return this.tails.get(inode);
  }
}

/**
 * A compressed file's physical clusters, in order: a kept stream at the end of its blocks,
 * zeros before it (the kernel finds the stream's start by skipping them); a plain cluster's
 * logical clusters each in a block of their own.
 */
async function writeCompressedFile(compression: ErofsCompressedData, file: CompressedFile, content: ByteSource, output: ChunkedOutput): Promise<void> {
  let rawOffset = 0;
  for (const pcluster of file.pclusters) {
    if (pcluster.stream) {
      await output.writeZeros(pcluster.blocks * BLOCK_SIZE_BYTES - pcluster.stream.bytes);
      await output.write(await readExact(compression.spool, pcluster.stream.offset, pcluster.stream.bytes, "compressed cluster"));
    } else {
      const rawBytes = Math.min(pcluster.lclusters * BLOCK_SIZE_BYTES, content.size - rawOffset);
      await output.write(await readExact(content, rawOffset, rawBytes, content.description));
      await output.writeZeros(pcluster.blocks * BLOCK_SIZE_BYTES - rawBytes);
    }
    rawOffset += pcluster.lclusters * BLOCK_SIZE_BYTES;
  }
}

/** Inode core + xattr body + inline tail or compression indexes, as stored at the inode's offset, into `record` (its exact size). */
function encodeInodeRecordInto(record: Uint8Array, inode: PlannedInode, tail: Uint8Array | undefined, compression: ErofsCompressedData | undefined): void {
  const coreBytes = inodeCoreBytes(inode.extended);
  // encodeInodeInto sets only the fields, so reserved bytes and padding come from here.
  record.fill(0);
  encodeInodeInto(record, 0, {
    extended: inode.extended,
    dataLayout: inode.dataLayout,
    xattrCount: xattrInodeCount(inode.xattrBodyBytes),
    mode: inode.mode,
    nlink: inode.nlink,
    sizeBytes: inode.sizeBytes,
    union: inode.union,
    ino: inode.ino,
    uid: inode.node.meta.uid,
    gid: inode.node.meta.gid,
    mtimeSeconds: inode.node.meta.mtime,
  });
  if (inode.xattrBodyBytes > 0) encodeXattrBodyInto(record, coreBytes, inode.sharedXattrIds, inode.inlineXattrs);
  if (tail) record.set(tail, coreBytes + inode.xattrBodyBytes);
  if (inode.compressed) {
    const inodeBytes = coreBytes + inode.xattrBodyBytes;
    encodeCompressedIndexInto(record, alignUp(inodeBytes, MAP_HEADER_ALIGN_BYTES), compression!.algorithm, inode.dataBlockAddress, inode.compressed.pclusters);
  }
}

async function readTail(plan: ErofsPlan, inode: PlannedInode): Promise<Uint8Array> {
  const tailStart = inode.sizeBytes - inode.tailBytes;
  const node = inode.node;
  switch (node.kind) {
    case "file":
      return readExact(node.content, tailStart, inode.tailBytes, inode.path);
    case "symlink":
      return new TextEncoder().encode(node.target).subarray(tailStart);
    case "dir":
      return encodeDirBlock(resolveDirents(plan, inode.directory!.blocks.at(-1)!));
    default:
      throw new Error(`internal: erofs ${node.kind} ${inode.path} has an inline tail`);
  }
}

function resolveDirents(plan: ErofsPlan, items: readonly DirectoryItem[]): DirentFields[] {
  return items.map((item) => ({ nid: plan.inodes[item.inodeIndex]!.nid, nameBytes: item.nameBytes, fileType: item.fileType }));
}

async function readExact(source: ByteSource, offset: number, length: number, path: string): Promise<Uint8Array> {
  const bytes = await source.read(offset, length);
  if (bytes.length !== length) {
    throw new Error(`internal: ${source.description} (${path}) returned ${bytes.length} bytes at ${offset}, asked for ${length}`);
  }
  return bytes;
}
