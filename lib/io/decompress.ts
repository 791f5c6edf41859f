/**
 * Decompression of input archives (.tar.gz, .tar.xz, .tar.zst) into a spool file, so that
 * archive members become plain slices of a host file (FileSliceSource) and nothing is held in
 * memory. The codec is chosen from the magic bytes, never from the file name suffix.
 *
 * - gzip: fflate's streaming Gunzip (multi-member, RFC 1952).
 * - xz: xz-decompress's XzReadableStream (a web stream over the file).
 * - zstd: @foxglove/wasm-zstd only exposes one-shot ZSTD_decompress, so the input is
 *   split into its frames (RFC 8878 §3.1.1, walking block headers without decoding them) and
 *   decompressed one frame at a time. Memory is bounded by the largest frame, not the archive.
 */
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { Gunzip } from "fflate";
import xzDecompress from "xz-decompress";
import { decompressZstdFrame, loadZstdCodec, zstdCallFits } from "../compress/zstd.js";
import { ErrorCode, fail, isGptimgError } from "../core/errors.js";

export type CompressionKind = "none" | "gzip" | "xz" | "zstd";

const READ_CHUNK_BYTES = 1024 * 1024;
/** zstd frame magic 0xFD2FB528 and skippable frames 0x184D2A50..5F (RFC 8878 §3.1.1, §3.1.2). */
const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_SKIPPABLE_MASK = 0xfffffff0;
const ZSTD_SKIPPABLE_MAGIC = 0x184d2a50;

/** gzip 1f 8b (RFC 1952 §2.3.1); xz FD '7zXZ' 00 (xz-file-format §2.1.1.1); zstd 28 B5 2F FD. */
export function compressionFromMagic(head: Uint8Array): CompressionKind {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) return "xz";
  if (head.length >= 4 && new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) === ZSTD_MAGIC) return "zstd";
  return "none";
}

export async function sniffCompression(path: string): Promise<CompressionKind> {
  const handle = await openInput(path);
  try {
    const head = new Uint8Array(8);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return compressionFromMagic(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

export interface SpoolFile {
  readonly path: string;
  readonly size: number;
}

/**
 * Decompresses `inputPath` (of the given kind) into a new file in `scratchDirectory`.
 * `spoolName` must be unique within the scratch directory.
 */
export async function decompressToSpool(inputPath: string, kind: Exclude<CompressionKind, "none">, scratchDirectory: string, spoolName: string): Promise<SpoolFile> {
  const spoolPath = join(scratchDirectory, spoolName);
  const output = await open(spoolPath, "wx");
  const writer = new SpoolWriter(output);
  try {
    if (kind === "gzip") await gunzipInto(inputPath, writer);
    else if (kind === "xz") await unxzInto(inputPath, writer);
    else await unzstdInto(inputPath, writer);
  } catch (error) {
    if (isGptimgError(error)) throw error;
    fail(ErrorCode.Input, `${inputPath}: corrupt ${kind} data (${error instanceof Error ? error.message : String(error)})`, "check that the archive is complete and not damaged");
  } finally {
    await output.close();
  }
  return { path: spoolPath, size: writer.size };
}

class SpoolWriter {
  size = 0;
  constructor(private readonly handle: FileHandle) {}
  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.size + done);
      done += bytesWritten;
    }
    this.size += bytes.length;
  }
}

async function* readChunks(path: string): AsyncGenerator<Uint8Array> {
  const handle = await openInput(path);
  try {
    for (let position = 0; ; ) {
      const buffer = new Uint8Array(READ_CHUNK_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

async function gunzipInto(path: string, writer: SpoolWriter): Promise<void> {
  const pending: Uint8Array[] = [];
  const gunzip = new Gunzip((data) => pending.push(data));
  let previous: Uint8Array | undefined;
  // fflate needs to know which push is final; hold one chunk back to find out.
  for await (const chunk of readChunks(path)) {
    if (previous) gunzip.push(previous, false);
    previous = chunk;
    for (const data of pending.splice(0)) await writer.write(data);
  }
  gunzip.push(previous ?? new Uint8Array(0), true);
  for (const data of pending.splice(0)) await writer.write(data);
}

async function unxzInto(path: string, writer: SpoolWriter): Promise<void> {
  const compressed = Readable.toWeb(createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) as unknown as ReadableStream<Uint8Array>;
  const reader = (new xzDecompress.XzReadableStream(compressed) as unknown as NodeReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    await writer.write(value);
  }
}

/** Reads exactly `length` bytes at `position`, or fewer at the end of the file. */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

async function unzstdInto(path: string, writer: SpoolWriter): Promise<void> {
  await loadZstdCodec();
  const handle = await openInput(path);
  try {
    const fileSize = (await handle.stat()).size;
    for (let position = 0; position < fileSize; ) {
      const frame = await zstdFrameExtent(handle, position, fileSize, path);
      if (!frame.skippable) {
        if (!zstdCallFits(frame.lengthBytes, frame.decompressedBoundBytes)) {
          fail(ErrorCode.Input, `${path}: zstd frame at offset ${position} (${frame.lengthBytes} bytes) may decompress to ${frame.decompressedBoundBytes} bytes, more than gptimg decodes at once`, "recompress with smaller frames (e.g. zstd --long=0 on split input) or use gzip/xz");
        }
        const bytes = await readAt(handle, position, frame.lengthBytes);
        let decompressed: Uint8Array;
        try {
          decompressed = decompressZstdFrame(bytes, Math.max(1, frame.decompressedBoundBytes));
        } catch (error) {
          return fail(ErrorCode.Input, `${path}: zstd frame at offset ${position} does not decompress (${error instanceof Error ? error.message : String(error)})`, "the archive is corrupt; recreate it");
        }
        await writer.write(decompressed);
      }
      position += frame.lengthBytes;
    }
  } finally {
    await handle.close();
  }
}

interface ZstdFrameExtent {
  readonly lengthBytes: number;
  readonly skippable: boolean;
  /**
   * Upper bound of the decompressed size from the block headers alone: a Raw or RLE block
   * yields exactly Block_Size bytes, a Compressed block at most Block_Maximum_Size = 128 KiB
   * (RFC 8878 §3.1.1.2.3, §3.1.1.2.4).
   */
  readonly decompressedBoundBytes: number;
}

const ZSTD_BLOCK_MAXIMUM_BYTES = 128 * 1024;

/** Where the zstd (or skippable) frame starting at `position` ends (RFC 8878 §3.1.1). */
async function zstdFrameExtent(handle: FileHandle, position: number, fileSize: number, path: string): Promise<ZstdFrameExtent> {
  const truncated = (): never => fail(ErrorCode.Input, `${path}: zstd data truncated in the frame at offset ${position}`, "the archive is incomplete; copy it again");
  const header = await readAt(handle, position, 18);
  if (header.length < 8) truncated();
  const headerView = new DataView(header.buffer, header.byteOffset, header.length);
  const magic = headerView.getUint32(0, true);
  if ((magic & ZSTD_SKIPPABLE_MASK) === ZSTD_SKIPPABLE_MAGIC) return { lengthBytes: 8 + headerView.getUint32(4, true), skippable: true, decompressedBoundBytes: 0 };
  if (magic !== ZSTD_MAGIC) fail(ErrorCode.Input, `${path}: no zstd frame at offset ${position}`, "the archive has trailing garbage or is corrupt");
  // Frame_Header_Descriptor: FCS_Flag (bits 7-6), Single_Segment (5), Checksum (2), Dict_ID_Flag (1-0).
  const descriptor = header[4]!;
  const contentSizeFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const hasChecksum = (descriptor >> 2) & 1;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3]!;
  const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag]!;
  let cursor = position + 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes;
  let decompressedBoundBytes = 0;
  for (;;) {
    const blockHeader = await readAt(handle, cursor, 3);
    if (blockHeader.length < 3) truncated();
    // Block_Header (§3.1.1.2): Last_Block (bit 0), Block_Type (bits 1-2), Block_Size (bits 3-23).
    const value = blockHeader[0]! | (blockHeader[1]! << 8) | (blockHeader[2]! << 16);
    const blockType = (value >> 1) & 3;
    const blockSize = value >>> 3;
    if (blockType === 3) fail(ErrorCode.Input, `${path}: reserved zstd block type at offset ${cursor}`, "the archive is corrupt");
    cursor += 3 + (blockType === 1 ? 1 : blockSize);
    decompressedBoundBytes += blockType === 2 ? ZSTD_BLOCK_MAXIMUM_BYTES : blockSize;
    if (cursor > fileSize) truncated();
    if (value & 1) break;
  }
  cursor += hasChecksum ? 4 : 0;
  if (cursor > fileSize) truncated();
  return { lengthBytes: cursor - position, skippable: false, decompressedBoundBytes };
}

async function openInput(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (error) {
    return fail(ErrorCode.Input, `${path}: cannot open (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path in the spec");
  }
}
