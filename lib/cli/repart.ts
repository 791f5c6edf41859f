/**
 * `gptimg repart`: systemd-repart's offline interface (v257 flags and semantics) on image
 * files. Differences, all deliberate: no seed → gptimg's documented default seed (never the
 * host's machine-id); nothing is read from or written to the host besides the named files.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { compose, type EmptyMode } from "../build/compose.js";
import { ErrorCode, fail } from "../core/errors.js";
import { describePartitionType, overrideArchitecture } from "../formats/gpt/types.js";
import { readDefinitions, type Warning } from "../input/repartd.js";
import { parseWorkers, parseArchitecture, parseBoolean, parseImageSize, parseSectorSize, parseSeed, parseTypeList } from "./options.js";
import { partitionReports, renderTable } from "./report.js";
import { loadSigningKey, progressBar, sourceDateEpoch } from "./environment.js";
import { readCertificate } from "./verify.js";
import { toHex } from "../core/bytes.js";
import { joinedSignaturePartition, joinVeritySignature, parseJoinSignature } from "../verify/join.js";

interface RepartFlags {
  definitions?: string[];
  empty?: string;
  size?: string;
  seed?: string;
  dryRun?: string;
  offline?: string;
  sectorSize?: string;
  architecture?: string;
  includePartitions?: string;
  excludePartitions?: string;
  deferPartitions?: string;
  split?: string;
  copySource?: string;
  privateKey?: string;
  certificate?: string;
  json?: string;
  workers?: string;
  joinSignature?: string[];
}

const EMPTY_MODES = ["refuse", "allow", "require", "force", "create"];

export function registerRepart(program: Command): void {
  program
    .command("repart")
    .description("Create or grow a GPT image from systemd repart.d definitions (a drop-in for offline systemd-repart)")
    .argument("<image>", "image file to create or repartition")
    .option("--definitions <dir>", "directory of repart.d *.conf files (repeatable)", (value: string, previous: string[] = []) => [...previous, value])
    .option("--empty <mode>", "refuse|allow|require|force|create: what to do with an image without a partition table")
    .option("--size <bytes>", '"auto" or the image size (grows, never shrinks), e.g. 2G')
    .option("--seed <uuid>", 'seed for all derived UUIDs, or "random" (default: gptimg\'s fixed seed)')
    .option("--dry-run <bool>", "only show what would be done (default yes, as repart; implied no with --empty=create)")
    .option("--offline <bool>", "accepted for compatibility; gptimg always works offline")
    .option("--sector-size <bytes>", "logical sector size: 512 or 4096")
    .option("--architecture <arch>", "architecture for host-relative types like root and usr-verity (default x86-64)")
    .option("--include-partitions <types>", "only handle partitions of these types (comma-separated)")
    .option("--exclude-partitions <types>", "ignore partitions of these types")
    .option("--defer-partitions <types>", "reserve space for these partitions but do not write them")
    .option("--split <bool>", "also write each partition to IMAGE-BASE.<SplitName>[.raw]")
    .option("--copy-source <dir>", "directory that relative CopyBlocks=/CopyFiles= sources are resolved against")
    .option("--private-key <pem>", "key for Verity=signature partitions")
    .option("--certificate <pem>", "certificate for Verity=signature partitions")
    .option("--workers <n>", "worker threads for hashing and compression (default: all cores; output never depends on it)")
    .option("--json <mode>", "pretty|short|off: print the table as JSON")
    .option("--join-signature <hash:sig>", "write a detached PKCS#7 signature (DER file or base64:…) into the image's verity signature partition for that root hash, in place (repeatable)", (value: string, previous: string[] = []) => [...previous, value])
    .addHelpText("after", `
Examples:
  gptimg repart --definitions=repart.d --empty=create --size=auto --seed=0123… disk.raw
  gptimg repart --definitions=repart.d --size=2G --dry-run=no disk.raw     # grow an existing image
  gptimg repart --definitions=repart.d --split=yes --empty=create --size=auto out/image.raw
  gptimg repart --join-signature=$(cat roothash):roothash.p7s --certificate=verity.crt disk.raw`)
    .action(async (image: string, flags: RepartFlags) => {
      if (flags.joinSignature && flags.definitions === undefined) await runJoin(image, flags.joinSignature, flags);
      else await runRepart(image, flags);
    });
}

/**
 * --join-signature= without --definitions=: join into the verity signature partition the image
 * already has (found by the rootHash its JSON names, or empty and next to the data/hash pair
 * whose PARTUUIDs make up the root hash), in place.
 */
async function runJoin(image: string, joins: readonly string[], flags: RepartFlags): Promise<void> {
  const certificatePem = joinCertificate(flags);
  const concurrency = parseWorkers(flags.workers, "--workers");
  for (const request of joins.map((text) => parseJoinSignature(text))) {
    const result = await joinVeritySignature(resolve(image), toHex(request.rootHash), request.signature, { certificatePem, concurrency });
    process.stdout.write(`${image}: joined signature for root hash ${result.rootHash} into partition ${result.partitionIndex}\n`);
  }
}

/** As repart v258: a joined signature needs --certificate= (its signer must be that certificate). */
function joinCertificate(flags: RepartFlags): string {
  if (flags.certificate === undefined) fail(ErrorCode.Usage, "--join-signature= given without --certificate=", "pass the certificate the signature was made with, --certificate=CERT.pem");
  return readCertificate(flags.certificate);
}

/**
 * --join-signature= with --definitions= (repart v258's second pass after
 * --defer-partitions=root-verity-sig): the signature partitions created now take these
 * signatures, checked up front, by root hash.
 */
function joinedSignatures(flags: RepartFlags): Map<string, Uint8Array> | undefined {
  if (!flags.joinSignature) return undefined;
  const certificatePem = joinCertificate(flags);
  const joined = new Map<string, Uint8Array>();
  for (const request of flags.joinSignature.map((text) => parseJoinSignature(text))) {
    joined.set(toHex(request.rootHash), joinedSignaturePartition(request.rootHash, request.signature, certificatePem));
  }
  return joined;
}

async function runRepart(image: string, flags: RepartFlags): Promise<void> {
  const empty = (flags.empty ?? "refuse") as EmptyMode;
  if (!EMPTY_MODES.includes(empty)) fail(ErrorCode.Usage, `--empty=${flags.empty}: unknown mode`, `use one of ${EMPTY_MODES.join(", ")}`);
  const architecture = parseArchitecture(flags.architecture, "--architecture");
  const architectureOverride = flags.architecture !== undefined;
  const include = parseTypeList(flags.includePartitions, "--include-partitions", architecture);
  const exclude = parseTypeList(flags.excludePartitions, "--exclude-partitions", architecture);
  if (include && exclude) fail(ErrorCode.Usage, "--include-partitions= and --exclude-partitions= cannot be combined", "use one of them");
  const deferred = parseTypeList(flags.deferPartitions, "--defer-partitions", architecture) ?? new Set<string>();
  const json = flags.json ?? "off";
  if (!["pretty", "short", "off"].includes(json)) fail(ErrorCode.Usage, `--json=${json}: unknown mode`, "use pretty, short or off");

  const joined = joinedSignatures(flags);
  // repart v258 wants a key only when it signs: a deferred signature partition, or one that
  // takes a joined signature, needs none now (execute refuses any other without a key).
  const signsLater = joined !== undefined || [...deferred].some((uuid) => describePartitionType(uuid).designator?.endsWith("-verity-sig") === true);
  const warnings: Warning[] = [];
  // Without --definitions= repart reads the host's /etc/repart.d etc.; gptimg never reads host
  // configuration, so no definitions means an empty partition table.
  const definitions = readDefinitions([...new Set((flags.definitions ?? []).filter((directory) => directory !== ""))], {
    architecture,
    specifiers: { architecture },
    hasPrivateKey: flags.privateKey !== undefined || signsLater,
    hasCertificate: flags.certificate !== undefined || signsLater,
  }, warnings)
    .map((definition) => (architectureOverride ? { ...definition, type: overrideArchitecture(definition.type, architecture) } : definition))
    .filter((definition) => (include ? include.has(definition.type.uuid) : exclude ? !exclude.has(definition.type.uuid) : true));
  for (const warning of warnings) process.stderr.write(`${warning.where}: ${warning.message}\n`);

  const sectorSize = parseSectorSize(flags.sectorSize, "--sector-size");
  const progress = progressBar(process.stderr, "gptimg repart");
  const result = await compose({
    imagePath: resolve(image),
    definitions,
    seed: parseSeed(flags.seed, "--seed"),
    sectorSize,
    filesystemSectorSize: sectorSize ?? 4096,
    size: parseImageSize(flags.size, "--size"),
    empty,
    dryRun: empty === "create" ? false : parseBoolean(flags.dryRun, "--dry-run", true),
    copySource: resolve(flags.copySource ?? "."),
    ...(flags.copySource !== undefined ? { copyFilesRoot: resolve(flags.copySource) } : {}),
    deferredTypes: deferred,
    split: parseBoolean(flags.split, "--split", false),
    sourceDateEpoch: sourceDateEpoch(process.env),
    concurrency: parseWorkers(flags.workers, "--workers"),
    signingKey: flags.privateKey === undefined && joined !== undefined ? undefined : loadSigningKey(flags.privateKey, flags.certificate, "--private-key", "--certificate"),
    ...(joined ? { joinedSignatures: joined } : {}),
    fitContent: false,
    repartAttributeQuirk: true,
    progress: progress.update,
  });
  progress.finish();
  if (json === "off") process.stdout.write(`${renderTable(result)}\n`);
  else process.stdout.write(`${JSON.stringify(partitionReports(result), null, json === "pretty" ? 2 : undefined)}\n`);
}
