/** `gptimg compose SPEC -o IMAGE`: build an image from a JSON spec. */
import { resolve } from "node:path";
import type { Command } from "commander";
import { compose } from "../build/compose.js";
import { readSpec } from "../input/spec.js";
import { specJsonSchema } from "../input/schema.js";
import { loadSigningKey, progressBar, sourceDateEpoch } from "./environment.js";
import { parseWorkers, parseArchitecture, parseBoolean, parseImageSize, parseSeed } from "./options.js";
import { composeReport, renderTable } from "./report.js";

interface ComposeFlags {
  output: string;
  seed?: string;
  imageVersion?: string;
  architecture?: string;
  size?: string;
  dryRun?: boolean;
  split?: string;
  privateKey?: string;
  certificate?: string;
  json?: boolean;
  workers?: string;
}

export function registerCompose(program: Command): void {
  program
    .command("compose")
    .description("Build a disk image from a JSON spec (paths in the spec are relative to the spec file)")
    .argument("<spec>", "spec JSON file (schema: schema/spec.schema.json)")
    .requiredOption("-o, --output <image>", "image file to write (created atomically: no partial file on failure)")
    .option("--seed <uuid>", 'override the spec\'s seed; "random" for random UUIDs')
    .option("--image-version <version>", "override the spec's imageVersion (used by %A in labels)")
    .option("--architecture <arch>", "override the spec's architecture")
    .option("--size <bytes>", 'override the spec\'s size: "auto" or e.g. 2G')
    .option("--dry-run", "plan and print the layout, write nothing")
    .option("--split <bool>", "also write each partition to OUTPUT-BASE.<SplitName>[.raw]")
    .option("--private-key <pem>", "key for verity signature partitions (overrides spec.signing)")
    .option("--certificate <pem>", "certificate for verity signature partitions")
    .option("--workers <n>", "worker threads for hashing and compression (default: all cores; output never depends on it)")
    .option("--json", "print a machine-readable report (partitions, UUIDs, root hashes)")
    .addHelpText("after", `
Examples:
  gptimg compose examples/minimal/spec.json -o disk.raw
  gptimg compose spec.json -o disk.raw --seed random --json
  SOURCE_DATE_EPOCH=1700000000 gptimg compose spec.json -o disk.raw`)
    .action(async (specPath: string, flags: ComposeFlags) => {
      const spec = readSpec(specPath, {
        seed: flags.seed,
        imageVersion: flags.imageVersion,
        architecture: flags.architecture === undefined ? undefined : parseArchitecture(flags.architecture, "--architecture"),
        size: parseImageSize(flags.size, "--size"),
      });
      const progress = progressBar(process.stderr, "gptimg compose", !flags.json);
      const result = await compose({
        imagePath: resolve(flags.output),
        definitions: spec.definitions,
        seed: parseSeed(spec.seed, spec.seed === flags.seed ? "--seed" : `${specPath}: seed`),
        sectorSize: spec.sectorSize,
        // 4096-byte verity blocks match the kernel page size whatever the GPT sector size.
        filesystemSectorSize: 4096,
        size: spec.size,
        empty: "create",
        dryRun: flags.dryRun ?? false,
        copySource: spec.baseDirectory,
        deferredTypes: new Set(),
        split: parseBoolean(flags.split, "--split", false),
        sourceDateEpoch: sourceDateEpoch(process.env, spec.sourceDateEpoch),
        concurrency: parseWorkers(flags.workers, "--workers"),
        signingKey: loadSigningKey(flags.privateKey ?? spec.signing?.privateKey, flags.certificate ?? spec.signing?.certificate, flags.privateKey ? "--private-key" : `${specPath}: signing.privateKey`, flags.certificate ? "--certificate" : `${specPath}: signing.certificate`),
        fitContent: true,
        ...(spec.boot ? { boot: spec.boot } : {}),
        repartAttributeQuirk: false,
        progress: progress.update,
      });
      progress.finish();
      if (flags.json) process.stdout.write(`${JSON.stringify(composeReport(result), null, 2)}\n`);
      else process.stdout.write(`${renderTable(result)}\n`);
    });
}

export function registerSchema(program: Command): void {
  program
    .command("schema")
    .description("Print the JSON Schema of the compose spec")
    .addHelpText("after", "\nExamples:\n  gptimg schema > spec.schema.json")
    .action(() => {
      process.stdout.write(`${JSON.stringify(specJsonSchema(), null, 2)}\n`);
    });
}
