/** Human and JSON renderings of a composed layout, shared by compose and repart. */
import { formatSize } from "../core/size.js";
import type { ComposeResult } from "../build/compose.js";
import { toHex } from "../core/bytes.js";
import type { PlannedPartition } from "../plan/layout.js";

export interface PartitionReport {
  readonly partno: number;
  readonly type: string;
  readonly typeUuid: string;
  readonly label: string;
  readonly uuid: string;
  readonly offset: number;
  readonly size: number;
  readonly padding: number;
  readonly flags: string;
  readonly activity: "create" | "resize" | "unchanged";
  readonly file: string | undefined;
  readonly split: string | undefined;
  readonly roothash?: string;
}

export function partitionReports(result: ComposeResult): PartitionReport[] {
  const rootHashOf = (partition: PlannedPartition): string | undefined => {
    const outcome = result.verity.find((candidate) => candidate.data === partition || candidate.hash === partition || candidate.signature === partition);
    return outcome ? toHex(outcome.rootHash) : undefined;
  };
  return result.layout.partitions.map((partition) => ({
    partno: partition.slot,
    type: partition.type.name ?? partition.type.uuid,
    typeUuid: partition.type.uuid,
    label: partition.label,
    uuid: result.finalUuids.get(partition) ?? partition.uuid,
    offset: partition.offsetBytes,
    size: partition.sizeBytes,
    padding: partition.paddingBytes,
    flags: `0x${partition.attributes.toString(16).padStart(16, "0")}`,
    activity: !partition.exists ? "create" : partition.grows ? "resize" : "unchanged",
    file: partition.definition?.source,
    split: result.splitFiles.get(partition),
    ...(rootHashOf(partition) ? { roothash: rootHashOf(partition) } : {}),
  }));
}

/** compose --json: the disk, its partitions, and per verity group the kernel command-line text. */
export function composeReport(result: ComposeResult): object {
  return {
    diskGuid: result.layout.diskGuid,
    sizeBytes: result.layout.diskSizeBytes,
    sectorSize: result.layout.sectorSize,
    written: result.written,
    partitions: partitionReports(result),
    dropped: result.layout.dropped.map((definition) => definition.source),
    verity: result.verity.map((outcome) => ({
      matchKey: outcome.matchKey,
      rootHash: toHex(outcome.rootHash),
      kernelCommandLine: `${outcome.data.type.designator === "usr" ? "usrhash" : "roothash"}=${toHex(outcome.rootHash)}`,
    })),
  };
}

export function renderTable(result: ComposeResult): string {
  const rows = partitionReports(result).map((report) => [
    String(report.partno), report.type, report.label, report.uuid, String(report.offset), formatSize(report.size), report.activity, report.file ?? "",
  ]);
  const header = ["#", "type", "label", "uuid", "offset", "size", "activity", "file"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]): string => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  const dropped = result.layout.dropped.map((definition) => `dropped (does not fit, priority ${definition.priority}): ${definition.source}`);
  return [line(header), ...rows.map(line), ...dropped, `disk ${result.layout.diskGuid}, ${formatSize(result.layout.diskSizeBytes)} (${result.layout.diskSizeBytes} bytes), ${result.layout.sectorSize}-byte sectors${result.written ? "" : " — dry run, nothing written"}`].join("\n");
}
