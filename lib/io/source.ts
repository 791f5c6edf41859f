/**
 * ByteSource: where file contents and partition payloads come from. Formats never touch the
 * host directly; they read through a source, which also guards against inputs that change
 * size while gptimg reads them.
 */
import { closeSync, fstatSync, openSync, readvSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { ErrorCode, fail } from "../core/errors.js";

export interface ByteSource {
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`; fails if the source became shorter. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Fills `targets`, one after another, with the bytes from `offset` on, with blocking calls:
   * for writers that assemble output in place (no buffer per read, no promise per small file,
   * one open for a file whose bytes go to several places). Sources without it are read with
   * read().
   */
  readInto?(offset: number, targets: readonly Uint8Array[]): void;
  /** A short name for messages: a host path, an archive member, "inline:/etc/hostname". */
  readonly description: string;
}

export class BytesSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array, readonly description = "inline data") {
    this.size = bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.bytes.subarray(offset, offset + length);
  }
  readInto(offset: number, targets: readonly Uint8Array[]): void {
    let position = offset;
    for (const target of targets) {
      target.set(this.bytes.subarray(position, position + target.length));
      position += target.length;
    }
  }
}

export class ZeroSource implements ByteSource {
  readonly description = "zeros";
  constructor(readonly size: number) {}
  async read(_offset: number, length: number): Promise<Uint8Array> {
    return new Uint8Array(length);
  }
  readInto(_offset: number, targets: readonly Uint8Array[]): void {
    for (const target of targets) target.fill(0);
  }
}

/**
 * A host file (or a slice of one, e.g. a member of an uncompressed tar). The file is opened
 * per read burst and closed again, so a tree of 100,000 files holds no descriptors.
 * `size` is what the tree recorded; a read past the file's actual end is reported, never
 * padded silently.
 */
export class FileSliceSource implements ByteSource {
  constructor(
    readonly path: string,
    readonly start: number,
    readonly size: number,
    readonly description = path,
  ) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    // Small reads (most files of an OS tree) are cheaper as three blocking syscalls than as
    // three round trips through libuv's thread pool.
    if (length <= SMALL_READ_BYTES) return readSmall(this.path, this.start + offset, length, this.description);
    const handle = await openForRead(this.path, this.description);
    try {
      return await readExactly(handle, this.start + offset, length, this.description);
    } finally {
      await handle.close();
    }
  }

  readInto(offset: number, targets: readonly Uint8Array[]): void {
    readBlocking(this.path, this.start + offset, targets, this.description);
  }

  /** Reads the whole slice in chunks with one open descriptor; checks the size did not change. */
  async *chunks(chunkSize: number): AsyncGenerator<Uint8Array> {
    if (this.size <= SMALL_READ_BYTES && this.size <= chunkSize) {
      yield readSmall(this.path, this.start, this.size, this.description, this.start === 0 ? this.size : undefined);
      return;
    }
    const handle = await openForRead(this.path, this.description);
    try {
      const stat = await handle.stat();
      if (this.start === 0 && stat.size !== this.size) {
        fail(ErrorCode.Input, `${this.description}: changed size while gptimg read it (${this.size} → ${stat.size} bytes)`, "do not modify the input tree during a build");
      }
      for (let offset = 0; offset < this.size; offset += chunkSize) {
        yield await readExactly(handle, this.start + offset, Math.min(chunkSize, this.size - offset), this.description);
      }
    } finally {
      await handle.close();
    }
  }
}

const SMALL_READ_BYTES = 256 * 1024;

/** Reads `length` bytes at `position`; with `expectedFileSize`, also checks the file still has that size. */
function readSmall(path: string, position: number, length: number, description: string, expectedFileSize?: number): Uint8Array {
  const buffer = new Uint8Array(length);
  readBlocking(path, position, [buffer], description, expectedFileSize);
  return buffer;
}

/** Fills `targets` in order from `position`; with `expectedFileSize`, also checks the file still has that size. */
function readBlocking(path: string, position: number, targets: readonly Uint8Array[], description: string, expectedFileSize?: number): void {
  let descriptor: number;
  try {
    descriptor = openSync(path, "r");
  } catch (error) {
    return fail(ErrorCode.Io, `${description}: cannot open for reading (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the file exists and is readable");
  }
  try {
    if (expectedFileSize !== undefined) {
      const actual = fstatSync(descriptor).size;
      if (actual !== expectedFileSize) fail(ErrorCode.Input, `${description}: changed size while gptimg read it (${expectedFileSize} → ${actual} bytes)`, "do not modify the input tree during a build");
    }
    let pending = targets.filter((target) => target.length > 0);
    for (let done = 0; pending.length > 0; ) {
      const bytesRead = readvSync(descriptor, pending, position + done);
      if (bytesRead === 0) fail(ErrorCode.Input, `${description}: changed size while gptimg read it (ended after ${position + done} bytes)`, "do not modify the input tree during a build");
      done += bytesRead;
      pending = unfilled(pending, bytesRead);
    }
  } finally {
    closeSync(descriptor);
  }
}

/** What is left of `targets` after a (possibly short) read filled the first `bytesRead` bytes. */
function unfilled(targets: Uint8Array[], bytesRead: number): Uint8Array[] {
  let skipped = 0;
  let left = bytesRead;
  while (skipped < targets.length && targets[skipped]!.length <= left) left -= targets[skipped++]!.length;
  const rest = targets.slice(skipped);
  if (rest.length > 0 && left > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}

async function openForRead(path: string, description: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (error) {
    return fail(ErrorCode.Io, `${description}: cannot open for reading (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the file exists and is readable");
  }
}

async function readExactly(handle: FileHandle, position: number, length: number, description: string): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      fail(ErrorCode.Input, `${description}: changed size while gptimg read it (ended after ${position + done} bytes)`, "do not modify the input tree during a build");
    }
    done += bytesRead;
  }
  return buffer;
}

/** Streams any source in chunks of `chunkSize` (the last one shorter). */
export async function* sourceChunks(source: ByteSource, chunkSize: number): AsyncGenerator<Uint8Array> {
  if (source instanceof FileSliceSource) {
    yield* source.chunks(chunkSize);
    return;
  }
  for (let offset = 0; offset < source.size; offset += chunkSize) {
    yield await source.read(offset, Math.min(chunkSize, source.size - offset));
  }
}

/** Reads a whole (small) source; for configuration files and headers, never partitions. */
export async function readAll(source: ByteSource): Promise<Uint8Array> {
  return source.read(0, source.size);
}
