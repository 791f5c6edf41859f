/** `gptimg update IMAGE --from DIR`: install a new version into the free slot, offline. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { applyUpdate, type UpdateResult } from "../update/apply.js";

interface UpdateFlags {
  from: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerUpdate(program: Command): void {
  program
    .command("update")
    .description("Install a new version from `compose --artifacts` output into an image's free A/B slot, as systemd-sysupdate would on the device")
    .argument("<image>", "image file made by gptimg compose with slots")
    .requiredOption("--from <dir>", "artifact directory (SHA256SUMS, manifest.json, slot images, UKI)")
    .option("--dry-run", "check everything and print what would change, write nothing")
    .option("--json", "print a machine-readable report")
    .addHelpText("after", `
The image is changed only after every check passed (checksums, architecture, slot sizes, ESP
space); slots are written first and the partition table last.

Examples:
  gptimg compose spec.json --image-version 2 --artifacts v2/
  gptimg update disk.raw --from v2/
  gptimg update disk.raw --from v2/ --dry-run --json`)
    .action(async (image: string, flags: UpdateFlags) => {
      const result = await applyUpdate({ imagePath: resolve(image), artifactsDirectory: resolve(flags.from), dryRun: flags.dryRun ?? false });
      process.stdout.write(`${flags.json ? JSON.stringify(result, null, 2) : renderUpdate(result)}\n`);
    });
}

function renderUpdate(result: UpdateResult): string {
  const lines = [`${result.written ? "installed" : "would install"} version ${result.version}:`];
  for (const slot of result.slots) lines.push(`  partition ${slot.partitionNumber} (${slot.type}): "${slot.previousLabel}" -> "${slot.label}" uuid ${slot.uuid}`);
  if (result.ukiInstalled) lines.push(`  ESP: + ${result.ukiInstalled}`);
  for (const removed of result.ukisRemoved) lines.push(`  ESP: - ${removed}`);
  return lines.join("\n");
}
