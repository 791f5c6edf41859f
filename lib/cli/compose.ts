/** `gptimg compose SPEC -o IMAGE`: build an image from a JSON spec. */
import type { Command } from "commander";

export function registerCompose(program: Command): void {
  program
    .command("compose")
    .description("Build a disk image from a JSON spec")
    .argument("<spec>", "spec JSON file")
    .requiredOption("-o, --output <image>", "image file to write");
}
