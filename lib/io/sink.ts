/**
 * Output: images are written through a BlockSink at explicit offsets, so the writer never
 * holds a partition in memory. New files are created under a temporary name next to the
 * destination and renamed into place only after everything succeeded: a failed run leaves
 * no output file behind.
 */
import { open, rename, rm, mkdtemp, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isAllZero } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";

export interface BlockSink {
  writeAt(offset: number, bytes: Uint8Array): Promise<void>;
}

/**
 * A file opened for writing at offsets. All-zero chunks are skipped, and the file is sized
 * with ftruncate up front, so holes stay sparse on the host file system.
 */
export class FileSink implements BlockSink {
  private constructor(private readonly handle: FileHandle, readonly path: string, private readonly skipZeros: boolean) {}

  static async create(path: string, sizeBytes: number): Promise<FileSink> {
    const handle = await open(path, "wx", 0o644);
    await handle.truncate(sizeBytes);
    return new FileSink(handle, path, true);
  }

  /** Opens an existing file in place; zeros are written, since they may replace old data. */
  static async openExisting(path: string): Promise<FileSink> {
    const handle = await open(path, "r+");
    return new FileSink(handle, path, false);
  }

  async writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    if (this.skipZeros && isAllZero(bytes)) return;
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async truncate(sizeBytes: number): Promise<void> {
    await this.handle.truncate(sizeBytes);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The temporary path a new output is written under before it is renamed into place. */
export function temporaryPathFor(destination: string): string {
  return join(dirname(destination), `.${basename(destination)}.gptimg-tmp`);
}

/**
 * Creates `destination` atomically: `produce` writes to a temporary sibling, which is renamed
 * over the destination only when `produce` resolves. On any failure the temporary file is
 * removed and the error rethrown.
 */
export async function writeAtomically<T>(destination: string, sizeBytes: number, produce: (sink: FileSink) => Promise<T>): Promise<T> {
  const temporary = temporaryPathFor(destination);
  await rm(temporary, { force: true });
  let sink: FileSink;
  try {
    sink = await FileSink.create(temporary, sizeBytes);
  } catch (error) {
    return fail(ErrorCode.Io, `${destination}: cannot create output (${(error as NodeJS.ErrnoException).code ?? error})`, "check that the directory exists and is writable");
  }
  try {
    const result = await produce(sink);
    await sink.close();
    await rename(temporary, destination);
    return result;
  } catch (error) {
    await sink.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
}

/** A private scratch directory next to the output (same file system, so spools can be renamed). */
export async function withScratchDirectory<T>(near: string, use: (directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(join(dirname(near), ".gptimg-scratch-"));
  try {
    return await use(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
