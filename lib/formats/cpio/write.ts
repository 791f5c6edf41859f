/**
 * Initrd writer: a Tree as a newc cpio archive (optionally gzip/zstd-compressed) into a
 * SequentialSink, and the concatenation of several initrds the way the kernel and ukify take
 * them (uncompressed microcode archives first, each part padded to 4 bytes).
 */
import { ErrorCode, fail } from "../../core/errors.js";
import { alignUp } from "../../core/int.js";
import { sourceChunks, type ByteSource } from "../../io/source.js";
import { padTo, writeZeros, type SequentialSink } from "../../io/stream.js";
import { utf8 } from "../../core/bytes.js";
import type { DirNode } from "../../tree/tree.js";
import { compressingSink, type InitrdCompression } from "./compress.js";
import { encodeCpioHeader, encodeCpioTrailer, planCpioEntries } from "./encode.js";
import { CPIO_ALIGNMENT_BYTES, CPIO_NEWC_MAGIC } from "./layout.js";

export interface CpioWriteOptions {
  readonly compression?: InitrdCompression;
  /** gzip 0-9 (default 6) and zstd 1-22 (default 3): the defaults of the gzip and zstd commands. */
  readonly level?: number;
  /** What the compression setting is, for messages (default "initrd compression"). */
  readonly description?: string;
}

export interface CpioWriteResult {
  /** Size of the cpio archive before compression. */
  readonly archiveBytes: number;
  /** Bytes written to the sink. */
  readonly writtenBytes: number;
}

const READ_CHUNK_BYTES = 1024 * 1024;

export async function writeCpio(root: DirNode, sink: SequentialSink, options: CpioWriteOptions = {}): Promise<CpioWriteResult> {
  const startPosition = sink.position;
  const output = await compressingSink(sink, options.compression ?? "none", options.description ?? "initrd compression", options.level);
  for (const entry of planCpioEntries(root)) {
    await output.write(encodeCpioHeader(entry.header));
    if (!entry.carriesData) continue;
    if (entry.node.kind === "file") {
      let copied = 0;
      for await (const chunk of sourceChunks(entry.node.content, READ_CHUNK_BYTES)) {
        await output.write(chunk);
        copied += chunk.length;
      }
      if (copied !== entry.node.size) fail(ErrorCode.Input, `${entry.node.content.description}: yielded ${copied} bytes, the tree recorded ${entry.node.size}`, "do not modify the input tree during a build");
    } else if (entry.node.kind === "symlink") {
      await output.write(utf8(entry.node.target));
    }
    await padTo(output, CPIO_ALIGNMENT_BYTES);
  }
  await output.write(encodeCpioTrailer());
  const archiveBytes = output.position;
  await output.finish();
  return { archiveBytes, writtenBytes: sink.position - startPosition };
}

export interface InitrdParts {
  /** Uncompressed newc archives with CPU microcode (kernel/x86/microcode/…); they go first. */
  readonly microcode?: readonly ByteSource[];
  /** Any initrds (compressed or not), in order. */
  readonly initrds: readonly ByteSource[];
}

/**
 * Concatenates initrd parts. The early microcode loader only scans an uncompressed cpio at
 * the very start of the initrd (Documentation/arch/x86/microcode.rst), so microcode parts
 * must be plain newc and come first. Each part is padded with zeros to 4 bytes, which
 * unpack_to_rootfs() skips between archives (init/initramfs.c), as ukify does.
 */
export async function concatenateInitrds(parts: InitrdParts, sink: SequentialSink): Promise<number> {
  const start = sink.position;
  for (const microcode of parts.microcode ?? []) {
    const magic = new TextDecoder().decode(await microcode.read(0, Math.min(6, microcode.size)));
    if (magic !== CPIO_NEWC_MAGIC) fail(ErrorCode.Input, `${microcode.description}: microcode initrd is not an uncompressed newc cpio (starts with "${magic}")`, "give the microcode archive uncompressed; the kernel's early loader cannot read compressed ones");
  }
  for (const part of [...(parts.microcode ?? []), ...parts.initrds]) {
    for await (const chunk of sourceChunks(part, READ_CHUNK_BYTES)) await sink.write(chunk);
    await writeZeros(sink, alignUp(part.size, CPIO_ALIGNMENT_BYTES) - part.size);
  }
  return sink.position - start;
}
