/** `gptimg inspect IMAGE`: the partition table as gptimg reads it, with every problem as a finding. */
import type { Command } from "commander";
import { stat } from "node:fs/promises";
import { ErrorCode, fail } from "../core/errors.js";
import { formatSize } from "../core/size.js";
import { readGpt } from "../formats/gpt/decode.js";
import { describePartitionType } from "../formats/gpt/types.js";
import { FileSliceSource } from "../io/source.js";

export interface InspectReport {
  readonly image: string;
  readonly sizeBytes: number;
  readonly sectorSize: number | undefined;
  readonly diskGuid: string | undefined;
  readonly firstUsableLba: number | undefined;
  readonly lastUsableLba: number | undefined;
  readonly partitions: ReadonlyArray<{
    index: number; type: string; typeUuid: string; uuid: string; label: string;
    firstLba: number; lastLba: number; offsetBytes: number; sizeBytes: number; attributes: string; flags: string[];
  }>;
  readonly findings: ReadonlyArray<{ severity: string; message: string }>;
}

const FLAG_NAMES: ReadonlyArray<[bigint, string]> = [[1n, "required"], [2n, "no-block-io"], [4n, "legacy-bios-bootable"], [1n << 59n, "grow-fs"], [1n << 60n, "read-only"], [1n << 63n, "no-auto"]];

export async function inspectImage(path: string): Promise<InspectReport> {
  let sizeBytes: number;
  try {
    sizeBytes = (await stat(path)).size;
  } catch (error) {
    return fail(ErrorCode.Image, `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path");
  }
  const probe = await readGpt(new FileSliceSource(path, 0, sizeBytes));
  const gpt = probe.gpt;
  return {
    image: path,
    sizeBytes,
    sectorSize: gpt?.sectorSize,
    diskGuid: gpt?.header.diskGuid,
    firstUsableLba: gpt?.header.firstUsableLba,
    lastUsableLba: gpt?.header.lastUsableLba,
    partitions: (gpt?.entries ?? []).map((entry) => ({
      index: entry.slot + 1,
      type: describePartitionType(entry.typeUuid).name ?? "unknown",
      typeUuid: entry.typeUuid,
      uuid: entry.uuid,
      label: entry.label,
      firstLba: entry.firstLba,
      lastLba: entry.lastLba,
      offsetBytes: entry.firstLba * gpt!.sectorSize,
      sizeBytes: (entry.lastLba - entry.firstLba + 1) * gpt!.sectorSize,
      attributes: `0x${entry.attributes.toString(16).padStart(16, "0")}`,
      flags: FLAG_NAMES.filter(([bit]) => (entry.attributes & bit) !== 0n).map(([, name]) => name),
    })),
    findings: probe.findings,
  };
}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("Show an image's partition table and report every problem found")
    .argument("<image>", "image file")
    .option("--json", "print a JSON report")
    .addHelpText("after", "\nExamples:\n  gptimg inspect disk.raw\n  gptimg inspect disk.raw --json | jq '.partitions[].label'")
    .action(async (image: string, flags: { json?: boolean }) => {
      const report = await inspectImage(image);
      if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(`${renderInspect(report)}\n`);
      if (report.findings.some((finding) => finding.severity === "error")) process.exitCode = 3;
    });
}

function renderInspect(report: InspectReport): string {
  const lines = [`${report.image}: ${formatSize(report.sizeBytes)}${report.sectorSize ? `, ${report.sectorSize}-byte sectors, disk ${report.diskGuid}, usable LBAs ${report.firstUsableLba}-${report.lastUsableLba}` : ""}`];
  for (const partition of report.partitions) {
    lines.push(`  ${partition.index}: ${partition.type} "${partition.label}" ${partition.uuid} LBA ${partition.firstLba}-${partition.lastLba} (${formatSize(partition.sizeBytes)})${partition.flags.length ? ` [${partition.flags.join(",")}]` : ""}`);
  }
  for (const finding of report.findings) lines.push(`  ${finding.severity}: ${finding.message}`);
  return lines.join("\n");
}
