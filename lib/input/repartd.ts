/**
 * Reads repart.d definition directories the way systemd-repart does: `*.conf` files from all
 * directories (the first directory that has a file name wins; a symlink to /dev/null masks
 * it), sorted by file name, each followed by its `<name>.conf.d/*.conf` drop-ins from every
 * directory in name order. Keys are interpreted per repart.d(5), v257.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, fail } from "../core/errors.js";
import { normalizeGuid } from "../core/guid.js";
import { parseSizeOrUndefined } from "../core/size.js";
import { resolvePartitionType } from "../formats/gpt/types.js";
import { DEFAULT_WEIGHT, type MinimizeMode, type PartitionDefinition, type VerityMode } from "../plan/definition.js";
import { checkDefinition, type DefinitionOptions } from "../plan/validate.js";
import { parseIni, type IniAssignment } from "./ini.js";
import { expandLabelSpecifiers, labelFitsGpt } from "./specifiers.js";

export interface Warning {
  readonly where: string;
  readonly message: string;
}

type MutableDefinition = { -readonly [K in keyof PartitionDefinition]: PartitionDefinition[K] };

function listDirectory(directory: string): string[] {
  try {
    return readdirSync(directory);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    return fail(ErrorCode.Definitions, `${directory}: cannot read definitions directory (${code})`, "check the path and its permissions");
  }
}

/** Regular file (following symlinks) that is not masked by a link to /dev/null. */
function usableFile(path: string): "file" | "masked" | "other" {
  try {
    if (realpathSync(path) === "/dev/null") return "masked";
    return statSync(path).isFile() ? "file" : "other";
  } catch {
    return "other";
  }
}

export function listDefinitionFiles(directories: readonly string[]): string[] {
  const chosen = new Map<string, string | null>();
  for (const directory of directories) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(directory).isDirectory();
    } catch (error) {
      return fail(ErrorCode.Definitions, `${directory}: cannot read definitions directory (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path and its permissions");
    }
    if (!isDirectory) fail(ErrorCode.Definitions, `${directory}: not a directory`, "pass a directory of *.conf files to --definitions=");
    for (const name of listDirectory(directory)) {
      if (!name.endsWith(".conf") || chosen.has(name)) continue;
      const kind = usableFile(join(directory, name));
      if (kind === "file") chosen.set(name, join(directory, name));
      else if (kind === "masked") chosen.set(name, null);
    }
  }
  return [...chosen.entries()]
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
    .map(([, path]) => path);
}

function dropInFiles(directories: readonly string[], fileName: string): string[] {
  const chosen = new Map<string, string | null>();
  for (const directory of directories) {
    const dropInDirectory = join(directory, `${fileName}.d`);
    for (const name of listDirectory(dropInDirectory)) {
      if (!name.endsWith(".conf") || chosen.has(name)) continue;
      const kind = usableFile(join(dropInDirectory, name));
      if (kind === "file") chosen.set(name, join(dropInDirectory, name));
      else if (kind === "masked") chosen.set(name, null);
    }
  }
  return [...chosen.entries()]
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
    .map(([, path]) => path);
}

export function readDefinitions(directories: readonly string[], options: DefinitionOptions, warnings: Warning[]): PartitionDefinition[] {
  const definitions: PartitionDefinition[] = [];
  for (const path of listDefinitionFiles(directories)) {
    const fileName = path.slice(path.lastIndexOf("/") + 1);
    const files = [path, ...dropInFiles(directories, fileName)];
    const assignments = files.flatMap((file) => parseIni(readText(file), file));
    const definition = interpret(path, assignments, options, warnings);
    if (definition) definitions.push(checkDefinition(definition, options));
  }
  return definitions;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    return fail(ErrorCode.Definitions, `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "check the file's permissions");
  }
}

function emptyDefinition(source: string): MutableDefinition {
  return {
    source, type: undefined as never, label: undefined, uuid: undefined, priority: 0, weight: DEFAULT_WEIGHT, paddingWeight: 0,
    sizeMinBytes: undefined, sizeMaxBytes: undefined, paddingMinBytes: undefined, paddingMaxBytes: undefined,
    copyBlocks: undefined, format: undefined, copyFiles: [], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [],
    verity: "off", verityMatchKey: undefined, verityDataBlockSizeBytes: undefined, verityHashBlockSizeBytes: undefined,
    factoryReset: false, flags: undefined, noAuto: undefined, readOnly: undefined, growFileSystem: undefined,
    splitName: undefined, minimize: "off", compression: undefined, compressionLevel: undefined,
  };
}

const BOOLEAN_WORDS: Record<string, boolean> = { yes: true, y: true, true: true, t: true, on: true, "1": true, no: false, n: false, false: false, f: false, off: false, "0": false };

/** Parses one definition; returns undefined for types repart skips (none in v257's table). */
function interpret(path: string, assignments: readonly IniAssignment[], options: DefinitionOptions, warnings: Warning[]): PartitionDefinition | undefined {
  const definition = emptyDefinition(path);
  const warn = (where: string, message: string): void => {
    warnings.push({ where, message });
  };
  const size = (assignment: IniAssignment, rounding: "up" | "down"): number => {
    const parsed = parseSizeOrUndefined(assignment.value);
    if (parsed === undefined) fail(ErrorCode.Definitions, `${assignment.where}: ${assignment.key}=${assignment.value} is not a size`, 'use bytes or a size like "512M" (base 1024)');
    const remainder = parsed % 4096;
    return remainder === 0 ? parsed : rounding === "up" ? parsed + 4096 - remainder : parsed - remainder;
  };
  const blockSize = (assignment: IniAssignment): number => {
    const parsed = parseSizeOrUndefined(assignment.value);
    if (parsed === undefined || parsed < 512 || parsed > 4096 || (parsed & (parsed - 1)) !== 0) {
      fail(ErrorCode.Definitions, `${assignment.where}: ${assignment.key}=${assignment.value} must be a power of two between 512 and 4096`, "use 512, 1024, 2048 or 4096");
    }
    return parsed;
  };
  const tristate = (assignment: IniAssignment): boolean | undefined => {
    if (assignment.value === "") return undefined;
    const value = BOOLEAN_WORDS[assignment.value.toLowerCase()];
    if (value === undefined) warn(assignment.where, `failed to parse boolean ${assignment.key}=${assignment.value}, ignoring`);
    return value;
  };
  for (const assignment of assignments) {
    if (assignment.section !== "Partition") {
      warn(assignment.where, `unknown section [${assignment.section}], ignoring`);
      continue;
    }
    const { key, value, where } = assignment;
    switch (key) {
      case "Type": {
        const type = resolvePartitionType(value, options.architecture);
        if (!type) fail(ErrorCode.Definitions, `${where}: unknown partition type "${value}"`, 'use a repart identifier like "root", "esp", "usr-arm64-verity" or a type UUID');
        definition.type = type;
        break;
      }
      case "Label": {
        const expanded = expandLabelSpecifiers(value, options.specifiers);
        if (expanded === undefined) warn(where, `failed to expand specifiers in Label=${value}, ignoring`);
        else if (!labelFitsGpt(expanded)) warn(where, `partition label too long for GPT table, ignoring: "${expanded}"`);
        else definition.label = expanded;
        break;
      }
      case "UUID": {
        if (value === "") definition.uuid = undefined;
        else if (value === "null") definition.uuid = "null";
        else {
          const uuid = normalizeGuid(value);
          if (uuid) definition.uuid = uuid;
          else warn(where, `failed to parse 128-bit ID/UUID, ignoring: ${value}`);
        }
        break;
      }
      case "Priority": {
        if (/^[+-]?\d+$/.test(value) && Math.abs(Number(value)) <= 2 ** 31) definition.priority = Number(value);
        else warn(where, `failed to parse Priority=${value}, ignoring`);
        break;
      }
      case "Weight":
      case "PaddingWeight": {
        const weight = /^\d+$/.test(value) ? Number(value) : Number.NaN;
        if (!(weight <= 1_000_000)) warn(where, `weight needs to be in range 0…1000000, ignoring: ${value}`);
        else if (key === "Weight") definition.weight = weight;
        else definition.paddingWeight = weight;
        break;
      }
      case "SizeMinBytes": definition.sizeMinBytes = size(assignment, "down"); break;
      case "SizeMaxBytes": definition.sizeMaxBytes = size(assignment, "up"); break;
      case "PaddingMinBytes": definition.paddingMinBytes = size(assignment, "down"); break;
      case "PaddingMaxBytes": definition.paddingMaxBytes = size(assignment, "up"); break;
      case "FactoryReset": definition.factoryReset = tristate(assignment) ?? false; break;
      case "CopyBlocks": definition.copyBlocks = value === "" ? undefined : value; break;
      case "Format": definition.format = value === "" ? undefined : value; break;
      case "CopyFiles": definition.copyFiles = value === "" ? [] : [...definition.copyFiles, ...value.split(/\s+/)]; break;
      case "ExcludeFiles": definition.excludeFiles = value === "" ? [] : [...definition.excludeFiles, ...value.split(/\s+/)]; break;
      case "ExcludeFilesTarget": definition.excludeFilesTarget = value === "" ? [] : [...definition.excludeFilesTarget, ...value.split(/\s+/)]; break;
      case "MakeDirectories": definition.makeDirectories = value === "" ? [] : [...definition.makeDirectories, ...value.split(/\s+/)]; break;
      case "Verity": {
        if (["off", "data", "hash", "signature"].includes(value)) definition.verity = value as VerityMode;
        else if (value === "") definition.verity = "off";
        else warn(where, `failed to parse Verity=${value}, ignoring`);
        break;
      }
      case "VerityMatchKey": definition.verityMatchKey = value === "" ? undefined : value; break;
      case "VerityDataBlockSizeBytes": definition.verityDataBlockSizeBytes = blockSize(assignment); break;
      case "VerityHashBlockSizeBytes": definition.verityHashBlockSizeBytes = blockSize(assignment); break;
      case "Flags": {
        const flags = parseFlags(value);
        if (flags === undefined) fail(ErrorCode.Definitions, `${where}: Flags=${value} is not a 64-bit number`, "use decimal, 0x… hex or 0b… binary");
        definition.flags = flags;
        break;
      }
      case "NoAuto": definition.noAuto = tristate(assignment); break;
      case "ReadOnly": definition.readOnly = tristate(assignment); break;
      case "GrowFileSystem": definition.growFileSystem = tristate(assignment); break;
      case "SplitName": definition.splitName = value === "" ? undefined : value === "-" ? null : value; break;
      case "Minimize": {
        const mode = value === "yes" || value === "best" ? "best" : value === "no" || value === "off" || value === "" ? "off" : value === "guess" ? "guess" : undefined;
        if (mode === undefined) warn(where, `failed to parse Minimize=${value}, ignoring`);
        else definition.minimize = mode as MinimizeMode;
        break;
      }
      case "Compression": definition.compression = value === "" ? undefined : value; break;
      case "CompressionLevel": definition.compressionLevel = value === "" ? undefined : value; break;
      case "Encrypt":
        if (value !== "" && value !== "off" && value !== "no") fail(ErrorCode.Definitions, `${where}: Encrypt=${value} is not supported by gptimg`, "LUKS needs a key at build time; create encrypted partitions at first boot with systemd-repart instead");
        break;
      case "SupplementFor":
      case "Subvolumes":
      case "DefaultSubvolume":
      case "MakeSymlinks":
      case "MountPoint":
      case "EncryptedVolume":
        if (value !== "") fail(ErrorCode.Definitions, `${where}: ${key}= is not supported by gptimg`, "remove it, or build this image with systemd-repart");
        break;
      default:
        warn(where, `unknown key name '${key}' in section 'Partition', ignoring`);
    }
  }
  if (definition.type === undefined) fail(ErrorCode.Definitions, `${path}:1: Type= not defined, refusing`, 'add e.g. "Type=root" to the [Partition] section');
  return definition;
}

/** systemd's safe_atou64 with base prefixes, as config_parse_gpt_flags uses. */
export function parseFlags(text: string): bigint | undefined {
  const value = text.trim();
  let parsed: bigint;
  try {
    if (/^0x[0-9a-f]+$/i.test(value) || /^0b[01]+$/i.test(value) || /^\d+$/.test(value)) parsed = BigInt(value);
    else return undefined;
  } catch {
    return undefined;
  }
  return parsed < 1n << 64n ? parsed : undefined;
}
