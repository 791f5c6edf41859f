/** `gptimg compose SPEC -o IMAGE`: build an image from a JSON spec. */
import { mkdtemp, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { compose } from "../build/compose.js";
import { ErrorCode, fail } from "../core/errors.js";
import { DEFAULT_ARTIFACT_COMPRESSION } from "../input/update-keys.js";
import { checkArtifactDirectory, writeArtifacts, type ArtifactManifest } from "../update/artifacts.js";
import { readSpec } from "../input/spec.js";
import { specJsonSchema } from "../input/schema.js";
import { loadSigningKey, progressBar, sourceDateEpoch } from "./environment.js";
import { parseWorkers, parseArchitecture, parseBoolean, parseImageSize, parseSeed } from "./options.js";
import { composeReport, renderTable } from "./report.js";

interface ComposeFlags {
  output?: string;
  artifacts?: string;
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
    .option("-o, --output <image>", "image file to write (created atomically: no partial file on failure)")
    .option("--artifacts <dir>", "also write the update artifacts (slot images .zst/.gz, the UKI, SHA256SUMS, manifest.json) into this new directory; -o may then be left out")
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
  SOURCE_DATE_EPOCH=1700000000 gptimg compose spec.json -o disk.raw
  gptimg compose spec.json -o v1.raw                                  # A/B image, version from the spec
  gptimg compose spec.json --image-version 2 --artifacts updates/v2   # artifacts for gptimg update / sysupdate`)
    .action(async (specPath: string, flags: ComposeFlags) => {
      const spec = readSpec(specPath, {
        seed: flags.seed,
        imageVersion: flags.imageVersion,
        architecture: flags.architecture === undefined ? undefined : parseArchitecture(flags.architecture, "--architecture"),
        size: parseImageSize(flags.size, "--size"),
      });
      if (flags.output === undefined && flags.artifacts === undefined) fail(ErrorCode.Usage, "compose: no output", "give -o IMAGE, --artifacts DIR, or both");
      if (flags.artifacts !== undefined && !spec.update) fail(ErrorCode.Usage, `--artifacts: ${specPath} declares no update slots`, 'add "slots" to the versioned partitions and an "update" section');
      if (flags.artifacts !== undefined) await checkArtifactDirectory(resolve(flags.artifacts));
      const workers = parseWorkers(flags.workers, "--workers");
      const scratch = flags.output === undefined ? await mkdtemp(join(resolve(flags.artifacts!, ".."), ".gptimg-artifacts-")) : undefined;
      try {
        const imagePath = flags.output === undefined ? join(scratch!, "image.raw") : resolve(flags.output);
        const ukiCopyPath = flags.artifacts !== undefined && spec.boot ? `${imagePath}.uki.efi` : undefined;
        const progress = progressBar(process.stderr, "gptimg compose", !flags.json);
        const result = await compose({
          imagePath,
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
          concurrency: workers,
          signingKey: loadSigningKey(flags.privateKey ?? spec.signing?.privateKey, flags.certificate ?? spec.signing?.certificate, flags.privateKey ? "--private-key" : `${specPath}: signing.privateKey`, flags.certificate ? "--certificate" : `${specPath}: signing.certificate`),
          fitContent: true,
          ...(spec.boot ? { boot: { ...spec.boot, ...(ukiCopyPath !== undefined ? { ukiCopyPath } : {}) } } : {}),
          repartAttributeQuirk: false,
          progress: progress.update,
        });
        progress.finish();
        let artifacts: ArtifactManifest | undefined;
        if (flags.artifacts !== undefined && result.written) {
          try {
            artifacts = await writeArtifacts({
              directory: resolve(flags.artifacts),
              imagePath,
              layout: result.layout,
              finalUuids: result.finalUuids,
              slotted: spec.update!.slots.slotted,
              compressions: spec.update!.settings?.artifactCompression ?? DEFAULT_ARTIFACT_COMPRESSION,
              imageId: spec.imageId!,
              imageVersion: spec.imageVersion!,
              architecture: spec.architecture,
              uki: ukiCopyPath !== undefined && spec.update!.uki ? { path: ukiCopyPath, transfer: spec.update!.uki } : undefined,
              concurrency: workers,
            });
          } finally {
            if (ukiCopyPath !== undefined) await rm(ukiCopyPath, { force: true });
          }
        }
        if (flags.json) process.stdout.write(`${JSON.stringify({ ...composeReport(result), ...(artifacts ? { artifacts } : {}) }, null, 2)}\n`);
        else process.stdout.write(`${renderTable(result)}\n${artifacts ? `artifacts: ${[...artifacts.partitions.flatMap((partition) => partition.files.map((file) => file.name)), ...(artifacts.uki ? [artifacts.uki.name] : [])].join(", ")}\n` : ""}`);
      } finally {
        if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
      }
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
