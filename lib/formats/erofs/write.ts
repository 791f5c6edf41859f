/**
 * writeErofs: emits a planned erofs image strictly front to back into a SequentialSink:
 * block 0 (superblock), the data area (every file read once, in bounded chunks, read ahead in
 * order by prefetch.ts), then the metadata (inodes, xattrs, inline tails, shared xattrs)
 * assembled in a window of whole blocks that moves forward with the offsets the plan recorded.
 * Inline tails met in the data pass are kept for the meta pass up to tailStashBytes; past
 * that they are read again. Memory: the tail stash, one window, one output chunk and at most
 * 16 MiB of read-ahead.
 */
import { alignDown } from "../../core/int.js";
import type { ByteSource } from "../../io/source.js";
import type { SequentialSink } from "../../io/stream.js";
import { encodeDirBlock, encodeInodeInto, encodeSuperblock, inodeCoreBytes, sealBlockZero, type DirentFields } from "./encode.js";
import type { DirectoryItem } from "./dir.js";
import { BLOCK_SIZE_BYTES, SUPERBLOCK_OFFSET_BYTES } from "./layout.js";
import { prefetchInOrder } from "./prefetch.js";
import type { ErofsPlan, PlannedInode } from "./plan.js";
import { encodeXattrBodyInto, encodeXattrEntryInto, xattrInodeCount } from "./xattrs.js";

export interface WriteErofsOptions {
  /** Read and write granularity in bytes (default 1 MiB); the output never depends on it. */
  readonly chunkBytes?: number;
  /** Memory for inline tails kept from the data pass (default 64 MiB); output never depends on it. */
  readonly tailStashBytes?: number;
}

const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** Inode records (≤ one block each with their tails) read ahead in the metadata pass. */
const RECORDS_IN_FLIGHT = 64;
/** Data read ahead: at most this many bytes (and pieces) in flight. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;
const MAX_PIECES_IN_FLIGHT = 64;
/** Inline tails kept from the data pass (each < 4 KiB); beyond this they are read again. */
const DEFAULT_TAIL_STASH_BYTES = 64 * 1024 * 1024;

export async function writeErofs(plan: ErofsPlan, sink: SequentialSink, options: WriteErofsOptions = {}): Promise<void> {
  const chunkBytes = Math.max(1, Math.floor(options.chunkBytes ?? DEFAULT_CHUNK_BYTES));
  const startPosition = sink.position;
  const output = new CoalescingWriter(sink, chunkBytes);

  // Block 0 holds only the superblock, so its checksum is known before anything else.
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
  }), SUPERBLOCK_OFFSET_BYTES);
  sealBlockZero(blockZero);
  await output.write(blockZero);

  const tails = new Map<PlannedInode, Uint8Array>();
  const piecesInFlight = Math.max(2, Math.min(MAX_PIECES_IN_FLIGHT, Math.floor(READ_AHEAD_BYTES / chunkBytes)));
  const tailStashBytes = Math.max(0, options.tailStashBytes ?? DEFAULT_TAIL_STASH_BYTES);
  for await (const piece of prefetchInOrder(dataPieces(plan, chunkBytes, tailStashBytes), piecesInFlight)) {
    if (piece.startsInode && output.position !== piece.startsInode.dataBlockAddress * BLOCK_SIZE_BYTES) {
      throw new Error(`internal: erofs data of ${piece.startsInode.path || "/"} planned at block ${piece.startsInode.dataBlockAddress}, writer is at byte ${output.position}`);
    }
    if (piece.bytes.length > 0) await output.write(piece.bytes);
    if (piece.tail) {
      const { inode, offset, bytes } = piece.tail;
      let tail = tails.get(inode);
      if (!tail) tails.set(inode, (tail = new Uint8Array(inode.tailBytes)));
      tail.set(bytes, offset);
    }
  }

  const meta = new MetadataWindow(output, plan.metaBlockAddress * BLOCK_SIZE_BYTES, plan.sizeBytes, Math.max(BLOCK_SIZE_BYTES, alignDown(chunkBytes, BLOCK_SIZE_BYTES)));
  const byOffset = [...plan.inodes].sort((left, right) => left.offsetBytes - right.offsetBytes);
  const records = prefetchInOrder(byOffset.map((inode) => async () => ({ inode, bytes: await encodeInodeRecord(plan, inode, tails.get(inode)) })), RECORDS_IN_FLIGHT);
  for await (const { inode, bytes } of records) {
    tails.delete(inode);
    await meta.put(inode.offsetBytes, bytes);
  }
  let sharedOffset = plan.xattrBlockAddress * BLOCK_SIZE_BYTES;
  for (const xattr of plan.sharedXattrs) {
    const entry = new Uint8Array(xattr.entryBytes);
    encodeXattrEntryInto(entry, 0, xattr);
    await meta.put(sharedOffset, entry);
    sharedOffset += xattr.entryBytes;
  }
  await meta.finish();
  await output.flush();
  if (sink.position - startPosition !== plan.sizeBytes) {
    throw new Error(`internal: erofs writer produced ${sink.position - startPosition} bytes, plan says ${plan.sizeBytes}`);
  }
}

/** Inode core + xattr body + inline tail, as stored at the inode's offset. */
async function encodeInodeRecord(plan: ErofsPlan, inode: PlannedInode, keptTail: Uint8Array | undefined): Promise<Uint8Array> {
  const coreBytes = inodeCoreBytes(inode.extended);
  const out = new Uint8Array(coreBytes + inode.xattrBodyBytes + inode.tailBytes);
  encodeInodeInto(out, 0, {
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
  if (inode.xattrBodyBytes > 0) encodeXattrBodyInto(out, coreBytes, inode.sharedXattrIds, inode.inlineXattrs);
  if (inode.tailBytes > 0) out.set(keptTail ?? (await readTail(plan, inode)), coreBytes + inode.xattrBodyBytes);
  return out;
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

interface DataPiece {
  /** Set on the first piece of an inode's data blocks, to check it lands where the plan put it. */
  readonly startsInode: PlannedInode | undefined;
  /** Bytes for the data area (may be empty when the piece only carries tail bytes). */
  readonly bytes: Uint8Array;
  /** Part of a file's inline tail, read in the same pass, for the meta area. */
  readonly tail?: { readonly inode: PlannedInode; readonly offset: number; readonly bytes: Uint8Array };
}

/**
 * Every byte of the data area, in order, as lazily started pieces of at most `chunkBytes`.
 * A file is read once from start to end: bytes below its data-block part go to the data
 * area, the rest is its inline tail (kept while the stash has room, else read again later).
 */
function* dataPieces(plan: ErofsPlan, chunkBytes: number, tailStashBytes: number): Generator<() => Promise<DataPiece>> {
  let stashedBytes = 0;
  for (const inode of plan.inodes) {
    const node = inode.node;
    const dataBytes = inode.dataBlocks * BLOCK_SIZE_BYTES;
    if (node.kind === "file") {
      const blockContentBytes = Math.min(inode.sizeBytes, dataBytes);
      const keepTail = inode.tailBytes > 0 && stashedBytes + inode.tailBytes <= tailStashBytes;
      if (keepTail) stashedBytes += inode.tailBytes;
      const readBytes = keepTail ? inode.sizeBytes : blockContentBytes;
      for (let offset = 0; offset < readBytes; offset += chunkBytes) {
        const length = Math.min(chunkBytes, readBytes - offset);
        const first = offset === 0 && inode.dataBlocks > 0 ? inode : undefined;
        yield async () => {
          const bytes = await readExact(node.content, offset, length, inode.path);
          const split = Math.max(0, Math.min(length, blockContentBytes - offset));
          if (split === length) return { startsInode: first, bytes };
          return { startsInode: first, bytes: bytes.subarray(0, split), tail: { inode, offset: offset + split - blockContentBytes, bytes: bytes.subarray(split) } };
        };
      }
      if (dataBytes > blockContentBytes) yield async () => ({ startsInode: undefined, bytes: new Uint8Array(dataBytes - blockContentBytes) });
    } else if (inode.dataBlocks === 0) {
      continue;
    } else if (node.kind === "dir") {
      const blocks = inode.directory!.blocks.slice(0, inode.dataBlocks);
      for (const [index, block] of blocks.entries()) {
        yield async () => {
          const out = new Uint8Array(BLOCK_SIZE_BYTES);
          out.set(encodeDirBlock(resolveDirents(plan, block)));
          return { startsInode: index === 0 ? inode : undefined, bytes: out };
        };
      }
    } else if (node.kind === "symlink") {
      yield async () => {
        const out = new Uint8Array(dataBytes);
        out.set(new TextEncoder().encode(node.target));
        return { startsInode: inode, bytes: out };
      };
    } else {
      throw new Error(`internal: erofs ${node.kind} ${inode.path} has data blocks`);
    }
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

/** Coalesces small writes into chunks of `chunkBytes`; large writes pass straight through. */
class CoalescingWriter {
  private pending: Uint8Array;
  private pendingBytes = 0;
  private flushed = 0;

  constructor(private readonly sink: SequentialSink, private readonly chunkBytes: number) {
    this.pending = new Uint8Array(chunkBytes);
  }

  get position(): number {
    return this.flushed + this.pendingBytes;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= this.chunkBytes) {
      await this.flush();
      await this.sink.write(bytes);
      this.flushed += bytes.length;
      return;
    }
    let done = 0;
    while (done < bytes.length) {
      const count = Math.min(bytes.length - done, this.chunkBytes - this.pendingBytes);
      this.pending.set(bytes.subarray(done, done + count), this.pendingBytes);
      this.pendingBytes += count;
      done += count;
      if (this.pendingBytes === this.chunkBytes) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    // The buffer is reused once write() resolves: SequentialSinks consume bytes before that
    // (stream.ts writeZeros relies on the same contract).
    const chunk = this.pending.subarray(0, this.pendingBytes);
    this.flushed += this.pendingBytes;
    this.pendingBytes = 0;
    await this.sink.write(chunk);
  }
}

/** Assembles [startBytes, endBytes) from pieces put at increasing offsets, a window at a time. */
class MetadataWindow {
  private window: Uint8Array;

  constructor(private readonly output: CoalescingWriter, private windowStart: number, private readonly endBytes: number, private readonly windowBytes: number) {
    this.window = new Uint8Array(windowBytes);
  }

  async put(offset: number, bytes: Uint8Array): Promise<void> {
    if (offset < this.windowStart || offset + bytes.length > this.endBytes) {
      throw new Error(`internal: erofs metadata piece at ${offset} (+${bytes.length}) is outside [${this.windowStart}, ${this.endBytes})`);
    }
    let done = 0;
    while (done < bytes.length) {
      const at = offset + done - this.windowStart;
      if (at >= this.windowBytes) {
        await this.emitWindow();
        continue;
      }
      const count = Math.min(bytes.length - done, this.windowBytes - at);
      this.window.set(bytes.subarray(done, done + count), at);
      done += count;
    }
  }

  async finish(): Promise<void> {
    while (this.windowStart < this.endBytes) await this.emitWindow();
  }

  private async emitWindow(): Promise<void> {
    const length = Math.min(this.windowBytes, this.endBytes - this.windowStart);
    await this.output.write(this.window.subarray(0, length));
    this.windowStart += this.windowBytes;
    this.window = new Uint8Array(this.windowBytes);
  }
}
