/**
 * Executes a Layout: writes every partition's content at its planned offset, then the GPT.
 * A new image is written under a temporary name and renamed at the end; an existing image
 * is only opened for writing after everything was validated and planned.
 */
import { ErrorCode, fail } from "../core/errors.js";
import { encodeGpt, type GptEntry } from "../formats/gpt/encode.js";
import { FileSink, writeAtomically, type BlockSink } from "../io/sink.js";
import { OffsetSink } from "../io/stream.js";
import type { Layout, PlannedPartition } from "../plan/layout.js";
import type { PartitionContent } from "./content.js";

export interface WriteOptions {
  readonly contents: ReadonlyMap<PlannedPartition, PartitionContent>;
  /** Final UUIDs decided while writing (verity partitions take theirs from the root hash). */
  readonly finalUuids?: () => ReadonlyMap<PlannedPartition, string>;
}

export function gptEntries(layout: Layout, finalUuids: ReadonlyMap<PlannedPartition, string>): GptEntry[] {
  return layout.partitions.map((partition) => ({
    slot: partition.slot,
    typeUuid: partition.type.uuid,
    uuid: finalUuids.get(partition) ?? partition.uuid,
    firstLba: partition.offsetBytes / layout.sectorSize,
    lastLba: (partition.offsetBytes + partition.sizeBytes) / layout.sectorSize - 1,
    attributes: partition.attributes,
    label: partition.label,
  }));
}

async function writeContents(layout: Layout, sink: BlockSink, options: WriteOptions): Promise<void> {
  for (const partition of layout.partitions) {
    const content = options.contents.get(partition);
    if (!content || partition.exists) continue;
    const window = new OffsetSink(sink, partition.offsetBytes, partition.sizeBytes, `partition ${partition.slot + 1} (${partition.label})`);
    await content.write(window, partition.sizeBytes);
  }
}

async function writeTable(layout: Layout, sink: BlockSink, options: WriteOptions): Promise<void> {
  const encoded = encodeGpt({
    sectorSize: layout.sectorSize,
    totalSectors: layout.diskSizeBytes / layout.sectorSize,
    diskGuid: layout.diskGuid,
    entries: gptEntries(layout, options.finalUuids?.() ?? new Map()),
  });
  await sink.writeAt(0, encoded.primary);
  await sink.writeAt(encoded.backupOffsetBytes, encoded.backup);
}

export async function writeNewImage(path: string, layout: Layout, options: WriteOptions): Promise<void> {
  await writeAtomically(path, layout.diskSizeBytes, async (sink) => {
    await writeContents(layout, sink, options);
    await writeTable(layout, sink, options);
  });
}

/**
 * Repartitions an existing image in place, as systemd-repart does: grows the file if asked,
 * fills new partitions, rewrites both tables. Existing partitions' data is never touched.
 */
export async function updateExistingImage(path: string, layout: Layout, currentSizeBytes: number, options: WriteOptions): Promise<void> {
  let sink: FileSink;
  try {
    sink = await FileSink.openExisting(path);
  } catch (error) {
    return fail(ErrorCode.Io, `${path}: cannot open for writing (${(error as NodeJS.ErrnoException).code ?? error})`, "check the file's permissions");
  }
  try {
    if (layout.diskSizeBytes > currentSizeBytes) await sink.truncate(layout.diskSizeBytes);
    await writeContents(layout, sink, options);
    await writeTable(layout, sink, options);
  } finally {
    await sink.close();
  }
}
