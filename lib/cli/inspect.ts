/** `gptimg inspect IMAGE`: the partition table as gptimg reads it, with every problem as a finding. */
import type { Command } from "commander";
import { inspectImage, type InspectReport } from "../build/inspect.js";
import { formatSize } from "../core/size.js";

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
  for (const pair of report.verity) lines.push(`  verity: data ${pair.data}, hash ${pair.hash}: ${pair.kernelCommandLine} (from PARTUUIDs)`);
  for (const finding of report.findings) lines.push(`  ${finding.severity}: ${finding.message}`);
  return lines.join("\n");
}
