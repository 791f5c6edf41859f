/**
 * Output stages for initrds: plain, gzip (fflate, streaming) or zstd (lib/compress/zstd.ts, one frame).
 * Input is regrouped into fixed 1 MiB blocks before it reaches a compressor, so the output
 * depends only on the bytes, never on how the writer happened to chunk them.
 *
 * zstd is one frame over the whole archive: the kernel's unzstd() decodes exactly one frame
 * per call and unpack_to_rootfs() then requires the cpio parser to be between entries
 * (init/initramfs.c "junk at the end of compressed archive"), and the zstd module only has
 * one-shot ZSTD_compress. The uncompressed archive is therefore held in memory for zstd.
 */
import { Gzip } from "fflate";
import type { Codec } from "../../compress/codec.js";
import { loadZstdCodec, zstdCallFits, zstdCompressBound } from "../../compress/zstd.js";
import { ErrorCode, fail } from "../../core/errors.js";
import type { SequentialSink } from "../../io/stream.js";

export type InitrdCompression = "none" | "gzip" | "zstd";

export interface CompressingSink extends SequentialSink {
  /** Flushes everything into the target; no writes afterwards. */
  finish(): Promise<void>;
}

const BLOCK_BYTES = 1024 * 1024;

/** Collects writes into exact BLOCK_BYTES blocks (the last one shorter) for `emit`. */
class Blocker {
  private readonly block = new Uint8Array(BLOCK_BYTES);
  private filled = 0;
  constructor(private readonly emit: (block: Uint8Array) => Promise<void>) {}

  async write(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length; ) {
      const take = Math.min(BLOCK_BYTES - this.filled, bytes.length - offset);
      this.block.set(bytes.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === BLOCK_BYTES) {
        await this.emit(this.block.slice());
        this.filled = 0;
      }
    }
  }

  remainder(): Uint8Array {
    const rest = this.block.slice(0, this.filled);
    this.filled = 0;
    return rest;
  }
}

/** `description` names the archive's compression setting in messages (e.g. a spec path). */
export async function compressingSink(target: SequentialSink, compression: InitrdCompression, description: string, level?: number): Promise<CompressingSink> {
  if (compression === "gzip") return new GzipSink(target, level ?? 6);
  if (compression === "zstd") return new ZstdSink(target, await loadZstdCodec(), level ?? 3, description);
  return new PlainSink(target);
}

class PlainSink implements CompressingSink {
  position = 0;
  private readonly blocker: Blocker;
  constructor(private readonly target: SequentialSink) {
    this.blocker = new Blocker((block) => target.write(block));
  }
  async write(bytes: Uint8Array): Promise<void> {
    await this.blocker.write(bytes);
    this.position += bytes.length;
  }
  async finish(): Promise<void> {
    const rest = this.blocker.remainder();
    if (rest.length > 0) await this.target.write(rest);
  }
}

class GzipSink implements CompressingSink {
  position = 0;
  private readonly pending: Uint8Array[] = [];
  private readonly gzip: Gzip;
  private readonly blocker: Blocker;
  constructor(private readonly target: SequentialSink, level: number) {
    // mtime 0: RFC 1952 "no time stamp available"; fflate would otherwise stamp Date.now().
    this.gzip = new Gzip({ level: level as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9, mtime: 0 }, (data) => this.pending.push(data));
    this.blocker = new Blocker(async (block) => {
      this.gzip.push(block, false);
      await this.drain();
    });
  }
  async write(bytes: Uint8Array): Promise<void> {
    await this.blocker.write(bytes);
    this.position += bytes.length;
  }
  async finish(): Promise<void> {
    this.gzip.push(this.blocker.remainder(), true);
    await this.drain();
  }
  private async drain(): Promise<void> {
    for (const data of this.pending.splice(0)) await this.target.write(data);
  }
}

class ZstdSink implements CompressingSink {
  position = 0;
  private readonly blocks: Uint8Array[] = [];
  private readonly blocker = new Blocker(async (block) => {
    this.blocks.push(block);
  });
  constructor(private readonly target: SequentialSink, private readonly codec: Codec, private readonly level: number, private readonly description: string) {}
  async write(bytes: Uint8Array): Promise<void> {
    // Checked as the archive grows, so an oversized one fails before it is all in memory.
    const archiveBytes = this.position + bytes.length;
    if (!zstdCallFits(archiveBytes, zstdCompressBound(archiveBytes))) {
      fail(ErrorCode.Input, `${this.description}: the cpio archive passes ${archiveBytes} bytes, more than zstd compresses in one frame here`, 'use "gzip" for this initrd, or split its tree over several initrds');
    }
    await this.blocker.write(bytes);
    this.position += bytes.length;
  }
  async finish(): Promise<void> {
    this.blocks.push(this.blocker.remainder());
    const whole = new Uint8Array(this.position);
    let offset = 0;
    for (const block of this.blocks.splice(0)) {
      whole.set(block, offset);
      offset += block.length;
    }
    await this.target.write(this.codec.compress(whole, this.level));
  }
}
