/**
 * PartitionContent: what goes into a partition, known well enough before placement to size
 * it (`minimumBytes`), then written once the partition's final size is known.
 */
import { stat } from "node:fs/promises";
import { ErrorCode, fail } from "../core/errors.js";
import { FileSliceSource, sourceChunks, type ByteSource } from "../io/source.js";
import type { SequentialSink } from "../io/stream.js";

/** A verity data partition's root hash, as contents that embed it (the UKI command line) see it. */
export interface VerityDependency {
  readonly designator: "root" | "usr" | undefined;
  readonly rootHash: Uint8Array | string;
}

export interface ContentDependencies {
  readonly verity: readonly VerityDependency[];
}

export interface PartitionContent {
  /** What the content needs at least, for the planner; undefined = nothing to write. */
  readonly minimumBytes: number | undefined;
  /** Written after every verity tree is known (it embeds root hashes). */
  readonly needsVerity?: boolean;
  /** Writes the content from the start of the partition; the rest of it stays zero. */
  write(sink: SequentialSink, partitionSizeBytes: number, dependencies: ContentDependencies): Promise<void>;
}

/** Raw bytes from a source (CopyBlocks=, a spooled filesystem image). */
export function sourceContent(source: ByteSource): PartitionContent {
  return {
    minimumBytes: source.size,
    async write(sink) {
      for await (const chunk of sourceChunks(source, 1024 * 1024)) await sink.write(chunk);
    },
  };
}

/** repart's CopyBlocks=PATH: a regular file whose size is a non-zero multiple of 512. */
export async function copyBlocksContent(path: string, where: string): Promise<PartitionContent> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile() && !info.isBlockDevice()) fail(ErrorCode.Input, `${where}: CopyBlocks=${path} is not a regular file`, "point CopyBlocks= at an image file");
    size = info.size;
  } catch (error) {
    if ((error as { name?: string }).name === "GptimgError") throw error;
    return fail(ErrorCode.Input, `${where}: cannot read CopyBlocks=${path} (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path (relative paths are resolved against --copy-source= or the spec's directory)");
  }
  if (size === 0 || size % 512 !== 0) fail(ErrorCode.Input, `${where}: CopyBlocks=${path} is ${size} bytes, not a non-zero multiple of 512`, "pad the image to a multiple of 512 bytes");
  return sourceContent(new FileSliceSource(path, 0, size));
}
