/**
 * Image files: a new image is written under a temporary name and renamed at the end; an
 * existing image is only opened for writing after everything was validated and planned.
 * Partition contents go first, the GPT last (verity partitions' UUIDs come from their root
 * hashes, known only after hashing).
 */
import { ErrorCode, fail } from "../core/errors.js";
import { encodeGpt, type GptEntry } from "../formats/gpt/encode.js";
import { FileSink, writeAtomically, type BlockSink } from "../io/sink.js";
import type { Layout, PlannedPartition } from "../plan/layout.js";

/** Writes the partitions and returns the final UUIDs that differ from the planned ones. */
export type PartitionWriter = (sink: BlockSink) => Promise<ReadonlyMap<PlannedPartition, string>>;

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

async function writeTable(layout: Layout, sink: BlockSink, finalUuids: ReadonlyMap<PlannedPartition, string>): Promise<void> {
  const encoded = encodeGpt({
    sectorSize: layout.sectorSize,
    totalSectors: layout.diskSizeBytes / layout.sectorSize,
    ...(layout.firstUsableLba !== undefined ? { firstUsableLba: layout.firstUsableLba } : {}),
    diskGuid: layout.diskGuid,
    entries: gptEntries(layout, finalUuids),
  });
  await sink.writeAt(0, encoded.primary);
  await sink.writeAt(encoded.backupOffsetBytes, encoded.backup);
}

export async function writeNewImage(path: string, layout: Layout, writePartitions: PartitionWriter): Promise<ReadonlyMap<PlannedPartition, string>> {
  return writeAtomically(path, layout.diskSizeBytes, async (sink) => {
    const finalUuids = await writePartitions(sink);
    await writeTable(layout, sink, finalUuids);
    return finalUuids;
  });
}

/**
 * Repartitions an existing image in place, as systemd-repart does: grows the file if asked,
 * fills new partitions, rewrites both tables. Existing partitions' data is never touched.
 */
export async function updateExistingImage(path: string, layout: Layout, currentSizeBytes: number, writePartitions: PartitionWriter): Promise<ReadonlyMap<PlannedPartition, string>> {
  let sink: FileSink;
  try {
    sink = await FileSink.openExisting(path);
  } catch (error) {
    return fail(ErrorCode.Io, `${path}: cannot open for writing (${(error as NodeJS.ErrnoException).code ?? error})`, "check the file's permissions");
  }
  try {
    if (layout.diskSizeBytes > currentSizeBytes) await sink.truncate(layout.diskSizeBytes);
    const finalUuids = await writePartitions(sink);
    await writeTable(layout, sink, finalUuids);
    return finalUuids;
  } finally {
    await sink.close();
  }
}
