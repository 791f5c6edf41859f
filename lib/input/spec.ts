/**
 * The compose spec (JSON): top-level image settings plus `partitions`, whose keys are
 * repart.d [Partition] keys in lowerCamelCase with repart's meaning. Every error names the
 * spec file and the JSON path, and unknown keys get a "did you mean".
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { ErrorCode, fail } from "../core/errors.js";
import { normalizeGuid } from "../core/guid.js";
import { parseSizeOrUndefined } from "../core/size.js";
import { canonicalArchitecture, resolvePartitionType } from "../formats/gpt/types.js";
import { DEFAULT_WEIGHT, type MinimizeMode, type PartitionDefinition, type VerityMode } from "../plan/definition.js";
import { checkDefinition } from "../plan/validate.js";
import type { BootRequest } from "../build/boot.js";
import { parseFlags } from "./repartd.js";
import { expandLabelSpecifiers, labelFitsGpt } from "./specifiers.js";
import { interpretPartitionUpdateKeys, interpretUpdateSettings } from "./update-keys.js";
import { checkKeys, isObject, suggest, type Json } from "./json.js";
import { EMPTY_SLOT_LABEL, planSlots, type SlotPlan, type UpdateSettings } from "../update/slots.js";
import { repartDefinitionFiles, sysupdateTransferFiles, type GeneratedFile, type UkiTransfer } from "../update/on-device.js";

export interface ImageSpec {
  readonly path: string;
  readonly baseDirectory: string;
  readonly seed: string | undefined;
  readonly architecture: string;
  readonly size: number | "auto";
  readonly sectorSize: 512 | 4096;
  readonly imageId: string | undefined;
  readonly imageVersion: string | undefined;
  readonly sourceDateEpoch: number | undefined;
  /** PEM paths (resolved against the spec's directory) for verity signature partitions. */
  readonly signing: { readonly privateKey: string; readonly certificate: string } | undefined;
  /** systemd-boot + UKI for the ESP; the UKI's command line gets the verity root hashes. */
  readonly boot: (BootRequest & { readonly espIndex: number }) | undefined;
  readonly definitions: readonly PartitionDefinition[];
  /** A/B slots, artifacts and on-device definitions (spec `update` and `slots` keys). */
  readonly update: UpdateSpec | undefined;
}

export interface UpdateSpec {
  readonly settings: UpdateSettings | undefined;
  readonly slots: SlotPlan;
  /** repart.d and sysupdate.d files written into the usr (or root) tree, paths relative to /usr. */
  readonly onDevice: readonly GeneratedFile[];
  readonly uki: UkiTransfer | undefined;
}

export const TOP_LEVEL_KEYS = ["$schema", "seed", "architecture", "size", "sectorSize", "imageId", "imageVersion", "sourceDateEpoch", "signing", "boot", "update", "partitions"] as const;
export const BOOT_KEYS = ["esp", "systemdBoot", "loaderConf", "uki", "secureBoot"] as const;
export const UKI_KEYS = ["stub", "kernel", "initrds", "cmdline", "osRelease", "uname", "sbat", "id", "version", "triesLeft"] as const;

/** repart.d key → spec key and value kind. */
export const PARTITION_KEYS = {
  type: "string", label: "string", uuid: "string", priority: "integer", weight: "integer", paddingWeight: "integer",
  sizeMinBytes: "size", sizeMaxBytes: "size", paddingMinBytes: "size", paddingMaxBytes: "size",
  copyBlocks: "string", format: "string", copyFiles: "strings", excludeFiles: "strings", excludeFilesTarget: "strings", makeDirectories: "strings",
  verity: "string", verityMatchKey: "string", verityDataBlockSizeBytes: "size", verityHashBlockSizeBytes: "size",
  factoryReset: "boolean", flags: "flags", noAuto: "boolean", readOnly: "boolean", growFileSystem: "boolean",
  splitName: "string", minimize: "minimize", compression: "string", compressionLevel: "stringOrInteger",
  entries: "entries", overrides: "overrides", allRootOwned: "boolean", xattrs: "boolean",
  slots: "integer", slotSize: "size", emptySlots: "emptySlots", inImage: "boolean", runtime: "runtime",
} as const;

export interface SpecOverrides {
  readonly seed?: string;
  readonly imageVersion?: string;
  readonly architecture?: string;
  readonly size?: number | "auto";
}

export function readSpec(path: string, overrides: SpecOverrides = {}): ImageSpec {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return fail(ErrorCode.Spec, `${path}: cannot read spec (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path");
  }
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch (error) {
    return fail(ErrorCode.Spec, `${path}: not valid JSON (${(error as Error).message})`, "fix the JSON syntax");
  }
  return interpretSpec(json, path, overrides);
}

export function interpretSpec(json: Json, path: string, overrides: SpecOverrides = {}): ImageSpec {
  const at = (jsonPath: string): string => `${path}: ${jsonPath}`;
  if (!isObject(json)) fail(ErrorCode.Spec, at("(top level)") + " must be an object", 'start from {"partitions": [...]}');
  checkKeys(json, TOP_LEVEL_KEYS, (key) => at(key));
  const architectureText = overrides.architecture ?? optionalString(json, "architecture", at) ?? "x86-64";
  const architecture = canonicalArchitecture(architectureText);
  if (!architecture) fail(ErrorCode.Spec, `${at("architecture")}: unknown architecture "${architectureText}"`, "use a DPS name like x86-64, arm64, riscv64, x86, arm, loongarch64");
  const seedText = overrides.seed ?? optionalString(json, "seed", at);
  if (seedText !== undefined && seedText !== "random" && !normalizeGuid(seedText)) fail(ErrorCode.Spec, `${at("seed")}: "${seedText}" is not a UUID`, 'use a UUID, or "random"');
  const size = overrides.size ?? parseSpecSize(json["size"] ?? "auto", at("size"), true);
  const sectorSize = json["sectorSize"] ?? 512;
  if (sectorSize !== 512 && sectorSize !== 4096) fail(ErrorCode.Spec, `${at("sectorSize")}: ${JSON.stringify(sectorSize)} is not 512 or 4096`, "use 512 (default) or 4096");
  const imageId = optionalString(json, "imageId", at);
  const imageVersion = overrides.imageVersion ?? optionalString(json, "imageVersion", at);
  const epoch = json["sourceDateEpoch"];
  if (epoch !== undefined && (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0)) fail(ErrorCode.Spec, `${at("sourceDateEpoch")}: must be a non-negative integer (seconds)`, `got ${JSON.stringify(epoch)}`);
  const signing = interpretSigning(json["signing"], at("signing"), dirname(resolve(path)));
  const partitions = json["partitions"];
  if (!Array.isArray(partitions) || partitions.length === 0) fail(ErrorCode.Spec, `${at("partitions")}: must be a non-empty array`, "list the partitions of the image");
  const baseDirectory = dirname(resolve(path));
  const options = { architecture, specifiers: { architecture, imageId, imageVersion }, hasPrivateKey: signing !== undefined, hasCertificate: signing !== undefined };
  const updateKeys = partitions.map((partition, index) => (isObject(partition) ? interpretPartitionUpdateKeys(partition, `${path}: partitions[${index}]`) : undefined));
  const specDefinitions = partitions.map((partition, index) => {
    // A partition made at first boot is formatted by systemd-repart on the device, with any file system it knows.
    const firstBootOnly = updateKeys[index]?.inImage === false && isObject(partition);
    const definition = checkDefinition(interpretPartition(firstBootOnly ? withoutKey(partition, "format") : partition, `${path}: partitions[${index}]`, baseDirectory, options.specifiers, architecture), options);
    return firstBootOnly ? { ...definition, format: optionalString(partition, "format", (key) => `${path}: partitions[${index}].${key}`) } : definition;
  });
  const specBoot = interpretBoot(json["boot"], at("boot"), baseDirectory, specDefinitions, { imageId, imageVersion });
  const updateSettings = interpretUpdateSettings(json["update"], at("update"));
  let definitions = specDefinitions;
  let boot = specBoot;
  let update: UpdateSpec | undefined;
  if (updateSettings !== undefined || updateKeys.some((keys) => keys !== undefined)) {
    const slots = planSlots(specDefinitions.map((definition, index) => {
      const label = (partitions[index] as { [key: string]: Json })["label"];
      return { definition, labelTemplate: typeof label === "string" ? label : undefined, update: updateKeys[index] };
    }), { imageId, imageVersion, architecture }, path);
    if (specBoot && slots.imageIndexOf[specBoot.espIndex] === undefined) fail(ErrorCode.Spec, `${at("boot.esp")}: the ESP must be in the image`, 'drop "inImage": false from it');
    boot = specBoot ? { ...specBoot, espIndex: slots.imageIndexOf[specBoot.espIndex]! } : undefined;
    if (boot && updateSettings && boot.ukiName.version !== imageVersion) fail(ErrorCode.Spec, `${at("boot.uki.version")}: "${boot.ukiName.version}" differs from imageVersion "${imageVersion}"`, "sysupdate names the UKI by the image version: drop boot.uki.version");
    const uki = boot && updateSettings ? { id: boot.ukiName.id, triesLeft: boot.ukiName.triesLeft, instancesMax: updateSettings.instancesMax } : undefined;
    const onDevice = updateSettings ? [...(updateSettings.repartDefinitions ? repartDefinitionFiles(slots) : []), ...(updateSettings.transfers ? sysupdateTransferFiles(slots, updateSettings, uki) : [])] : [];
    definitions = withOnDeviceFiles(slots.definitions, onDevice, updateSettings?.definitionsIn, at("update.definitionsIn"));
    update = { settings: updateSettings, slots: { ...slots, definitions }, onDevice, uki };
  }
  return { path, baseDirectory, seed: seedText, architecture, size: size as number | "auto", sectorSize, imageId, imageVersion, sourceDateEpoch: epoch as number | undefined, signing, boot, definitions, update };
}

/**
 * Writes the generated repart.d/sysupdate.d files into the tree of the usr partition (as
 * lib/…) or the root partition (as usr/lib/…) before it is built, so they are covered by its
 * verity hash like the rest of the OS.
 */
function withOnDeviceFiles(definitions: readonly PartitionDefinition[], files: readonly GeneratedFile[], definitionsIn: "usr" | "root" | "none" | undefined, where: string): PartitionDefinition[] {
  if (files.length === 0 || definitionsIn === "none") return [...definitions];
  const carries = (designator: "usr" | "root") => definitions.findIndex((definition) => definition.type.designator === designator && definition.label !== EMPTY_SLOT_LABEL);
  const designator = definitionsIn ?? (carries("usr") >= 0 ? "usr" : "root");
  const index = carries(designator);
  if (index < 0) return fail(ErrorCode.Spec, `${where}: no ${designator} partition to carry /usr/lib/repart.d and /usr/lib/sysupdate.d`, 'add one, or set update.definitionsIn to "none" (and update.transfers/repartDefinitions to false)');
  const target = definitions[index]!;
  if (target.copyFiles.length === 0 && target.makeDirectories.length === 0 && (target.tree?.entries.length ?? 0) === 0) {
    fail(ErrorCode.Spec, `${target.source}: the generated update definitions go into this partition, but it has no file tree`, 'give it "copyFiles", or set update.definitionsIn to "none"');
  }
  const prefix = designator === "usr" ? "" : "usr/";
  const entries = files.map((file) => ({ path: `${prefix}${file.path}`, type: "file" as const, content: file.content, mode: 0o644, uid: 0, gid: 0 }));
  const tree = target.tree ?? { entries: [], overrides: [], allRootOwned: false, xattrs: true };
  return definitions.map((definition, position) => (position === index ? { ...definition, tree: { ...tree, entries: [...tree.entries, ...entries] } } : definition));
}

function interpretBoot(json: Json | undefined, where: string, baseDirectory: string, definitions: readonly PartitionDefinition[], image: { imageId: string | undefined; imageVersion: string | undefined }): ImageSpec["boot"] {
  if (json === undefined) return undefined;
  if (!isObject(json)) fail(ErrorCode.Spec, `${where}: must be an object`, 'e.g. {"systemdBoot": "…", "uki": {…}}');
  checkKeys(json, BOOT_KEYS, (key) => `${where}.${key}`);
  const path = (value: Json | undefined, key: string): string => {
    if (typeof value !== "string" || value === "") fail(ErrorCode.Spec, `${where}.${key}: must be a file path`, "paths are relative to the spec file");
    return resolve(baseDirectory, value);
  };
  const optionalText = (value: Json | undefined, key: string): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "string") fail(ErrorCode.Spec, `${where}.${key}: must be a string`, `got ${JSON.stringify(value)}`);
    return value;
  };
  const espValue = json["esp"];
  const espIndex = espValue === undefined ? definitions.findIndex((definition) => definition.type.designator === "esp") : espValue;
  if (typeof espIndex !== "number" || !Number.isInteger(espIndex) || espIndex < 0 || espIndex >= definitions.length) {
    fail(ErrorCode.Spec, `${where}.esp: ${espValue === undefined ? "no partition of type esp" : `${JSON.stringify(espValue)} is not a partition index`}`, "add an esp partition or set boot.esp to its index in partitions");
  }
  const uki = json["uki"];
  if (!isObject(uki)) fail(ErrorCode.Spec, `${where}.uki: must be an object`, '{"stub": "…", "kernel": "…", "osRelease": "…"}');
  checkKeys(uki, UKI_KEYS, (key) => `${where}.uki.${key}`);
  const initrdsJson = uki["initrds"] ?? [];
  if (!Array.isArray(initrdsJson)) fail(ErrorCode.Spec, `${where}.uki.initrds: must be an array`, '[{"tree": "initrd/"}, {"file": "microcode.cpio"}]');
  const initrds = initrdsJson.map((item, index) => {
    const at = `${where}.uki.initrds[${index}]`;
    if (!isObject(item)) fail(ErrorCode.Spec, `${at}: must be an object`, '{"tree": "dir or tar"} or {"file": "prebuilt.cpio"}');
    checkKeys(item, ["file", "tree", "compression"], (key) => `${at}.${key}`);
    const compression = item["compression"];
    if (compression !== undefined && compression !== "none" && compression !== "gzip" && compression !== "zstd") fail(ErrorCode.Spec, `${at}.compression: ${JSON.stringify(compression)}`, 'use "zstd" (default), "gzip" or "none"');
    return {
      ...(item["file"] !== undefined ? { file: path(item["file"], `uki.initrds[${index}].file`) } : {}),
      ...(item["tree"] !== undefined ? { tree: path(item["tree"], `uki.initrds[${index}].tree`) } : {}),
      ...(compression !== undefined ? { compression: compression as "none" | "gzip" | "zstd" } : {}),
    };
  });
  const osReleaseValue = uki["osRelease"];
  let osRelease: string;
  if (isObject(osReleaseValue) && typeof osReleaseValue["text"] === "string") osRelease = osReleaseValue["text"];
  else {
    const osReleasePath = path(osReleaseValue, "uki.osRelease");
    try {
      osRelease = readFileSync(osReleasePath, "utf8");
    } catch (error) {
      return fail(ErrorCode.Input, `${where}.uki.osRelease: cannot read ${osReleasePath} (${(error as NodeJS.ErrnoException).code ?? error})`, 'give an os-release file, or {"text": "ID=…"}');
    }
  }
  const triesLeft = uki["triesLeft"];
  if (triesLeft !== undefined && (typeof triesLeft !== "number" || !Number.isInteger(triesLeft) || triesLeft < 0)) fail(ErrorCode.Spec, `${where}.uki.triesLeft: must be a whole number`, "e.g. 3, as systemd's default");
  const secureBootValue = json["secureBoot"];
  let secureBoot: BootRequest["secureBoot"];
  if (secureBootValue !== undefined) {
    if (!isObject(secureBootValue)) fail(ErrorCode.Spec, `${where}.secureBoot: must be an object`, '{"privateKey": "db.key", "certificate": "db.crt"}');
    checkKeys(secureBootValue, ["privateKey", "certificate"], (key) => `${where}.secureBoot.${key}`);
    const read = (key: string): string => {
      const file = path(secureBootValue[key], `secureBoot.${key}`);
      try {
        return readFileSync(file, "utf8");
      } catch (error) {
        return fail(ErrorCode.Signing, `${where}.secureBoot.${key}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? error})`, "give a PEM file");
      }
    };
    secureBoot = { privateKeyPem: read("privateKey"), certificatePem: read("certificate") };
  }
  const id = optionalText(uki["id"], "uki.id") ?? image.imageId ?? osReleaseField(osRelease, "IMAGE_ID") ?? osReleaseField(osRelease, "ID");
  if (id === undefined) fail(ErrorCode.Spec, `${where}.uki.id: no id for the UKI file name`, "set boot.uki.id, imageId, or ID= in os-release");
  return {
    espIndex,
    where,
    systemdBoot: path(json["systemdBoot"], "systemdBoot"),
    loaderConf: optionalText(json["loaderConf"], "loaderConf"),
    stub: path(uki["stub"], "uki.stub"),
    kernel: path(uki["kernel"], "uki.kernel"),
    initrds,
    cmdline: optionalText(uki["cmdline"], "uki.cmdline") ?? "",
    osRelease,
    uname: optionalText(uki["uname"], "uki.uname"),
    sbat: optionalText(uki["sbat"], "uki.sbat"),
    ukiName: { id, version: optionalText(uki["version"], "uki.version") ?? image.imageVersion ?? osReleaseField(osRelease, "IMAGE_VERSION") ?? osReleaseField(osRelease, "VERSION_ID"), triesLeft: triesLeft as number | undefined },
    secureBoot,
  };
}

function osReleaseField(text: string, key: string): string | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${key}=`));
  return line?.slice(key.length + 1).replace(/^"(.*)"$/, "$1");
}

function interpretSigning(json: Json | undefined, where: string, baseDirectory: string): ImageSpec["signing"] {
  if (json === undefined) return undefined;
  if (!isObject(json)) fail(ErrorCode.Spec, `${where}: must be an object`, '{"privateKey": "key.pem", "certificate": "cert.pem"}');
  checkKeys(json, ["privateKey", "certificate"], (key) => `${where}.${key}`);
  const privateKey = json["privateKey"];
  const certificate = json["certificate"];
  if (typeof privateKey !== "string" || typeof certificate !== "string") fail(ErrorCode.Spec, `${where}: needs "privateKey" and "certificate" (PEM file paths)`, '{"privateKey": "key.pem", "certificate": "cert.pem"}');
  return { privateKey: resolve(baseDirectory, privateKey), certificate: resolve(baseDirectory, certificate) };
}

function interpretPartition(json: Json, where: string, baseDirectory: string, specifiers: { architecture: string; imageId?: string | undefined; imageVersion?: string | undefined }, architecture: string): PartitionDefinition {
  const at = (key: string): string => `${where}.${key}`;
  if (!isObject(json)) fail(ErrorCode.Spec, `${where}: must be an object`, 'e.g. {"type": "esp", "format": "vfat"}');
  checkKeys(json, Object.keys(PARTITION_KEYS), at);
  const typeText = json["type"];
  if (typeof typeText !== "string") fail(ErrorCode.Spec, `${at("type")}: missing`, 'every partition needs a type, e.g. "root", "esp", "usr-verity" or a UUID');
  const type = resolvePartitionType(typeText, architecture);
  if (!type) fail(ErrorCode.Spec, `${at("type")}: unknown partition type "${typeText}"${suggest(typeText, ["esp", "xbootldr", "root", "usr", "root-verity", "usr-verity", "root-verity-sig", "usr-verity-sig", "home", "srv", "var", "tmp", "swap", "linux-generic"])}`, "use a repart identifier or a type UUID");
  const string = (key: string): string | undefined => {
    const value = json[key];
    if (value === undefined) return undefined;
    if (typeof value !== "string") fail(ErrorCode.Spec, `${at(key)}: must be a string`, `e.g. "${key}": "…"`);
    return value;
  };
  const integer = (key: string, minimum: number, maximum: number): number | undefined => {
    const value = json[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < minimum || value > maximum) fail(ErrorCode.Spec, `${at(key)}: must be an integer from ${minimum} to ${maximum}`, `got ${JSON.stringify(value)}`);
    return value;
  };
  const size = (key: string, rounding: "up" | "down" | "exact"): number | undefined => {
    const value = json[key];
    if (value === undefined) return undefined;
    const parsed = parseSpecSize(value, at(key), false) as number;
    if (rounding === "exact") return parsed;
    const remainder = parsed % 4096;
    return remainder === 0 ? parsed : rounding === "up" ? parsed + 4096 - remainder : parsed - remainder;
  };
  const boolean = (key: string): boolean | undefined => {
    const value = json[key];
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") fail(ErrorCode.Spec, `${at(key)}: must be true or false`, `got ${JSON.stringify(value)}`);
    return value;
  };
  const strings = (key: string): string[] => {
    const value = json[key];
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) fail(ErrorCode.Spec, `${at(key)}: must be an array of strings`, `e.g. "${key}": ["…"]`);
    return value as string[];
  };
  const labelText = string("label");
  let label: string | undefined;
  if (labelText !== undefined) {
    label = expandLabelSpecifiers(labelText, specifiers);
    if (label === undefined) fail(ErrorCode.Spec, `${at("label")}: "${labelText}" uses a specifier without a value`, "set imageId/imageVersion, or use %a %A %M %%");
    if (!labelFitsGpt(label)) fail(ErrorCode.Spec, `${at("label")}: "${label}" is ${label.length} UTF-16 units, GPT labels hold at most 36`, "shorten the label");
  }
  const uuidText = string("uuid");
  const uuid = uuidText === undefined || uuidText === "null" ? uuidText : normalizeGuid(uuidText);
  if (uuidText !== undefined && uuid === undefined) fail(ErrorCode.Spec, `${at("uuid")}: "${uuidText}" is not a UUID`, 'use a UUID or "null"');
  const verity = string("verity") ?? "off";
  if (!["off", "data", "hash", "signature"].includes(verity)) fail(ErrorCode.Spec, `${at("verity")}: "${verity}" is not a verity mode`, 'use "off", "data", "hash" or "signature"');
  const minimizeValue = json["minimize"];
  const minimize = minimizeValue === undefined || minimizeValue === false || minimizeValue === "off" ? "off" : minimizeValue === true || minimizeValue === "best" ? "best" : minimizeValue === "guess" ? "guess" : fail(ErrorCode.Spec, `${at("minimize")}: ${JSON.stringify(minimizeValue)} is not a minimize mode`, 'use "off", "best" or "guess"');
  const flagsValue = json["flags"];
  const flags = flagsValue === undefined ? undefined : parseFlags(String(flagsValue));
  if (flagsValue !== undefined && (flags === undefined || (typeof flagsValue === "number" && !Number.isSafeInteger(flagsValue)))) fail(ErrorCode.Spec, `${at("flags")}: ${JSON.stringify(flagsValue)} is not a 64-bit flag value`, 'use a number or a "0x…" string');
  const splitName = json["splitName"];
  const copyBlocks = string("copyBlocks");
  const blockSize = (key: string): number | undefined => {
    const value = size(key, "exact");
    if (value !== undefined && (value < 512 || value > 4096 || (value & (value - 1)) !== 0)) fail(ErrorCode.Spec, `${at(key)}: ${value} must be a power of two from 512 to 4096`, "use 512, 1024, 2048 or 4096");
    return value;
  };
  const compressionLevel = json["compressionLevel"];
  const tree = interpretTreeOptions(json, where);
  return {
    ...(tree ? { tree } : {}),
    source: where,
    type,
    label,
    uuid,
    priority: integer("priority", -(2 ** 31), 2 ** 31 - 1) ?? 0,
    weight: integer("weight", 0, 1_000_000) ?? DEFAULT_WEIGHT,
    paddingWeight: integer("paddingWeight", 0, 1_000_000) ?? 0,
    sizeMinBytes: size("sizeMinBytes", "down"),
    sizeMaxBytes: size("sizeMaxBytes", "up"),
    paddingMinBytes: size("paddingMinBytes", "down"),
    paddingMaxBytes: size("paddingMaxBytes", "up"),
    copyBlocks: copyBlocks === undefined || isAbsolute(copyBlocks) ? copyBlocks : resolve(baseDirectory, copyBlocks),
    format: string("format"),
    copyFiles: strings("copyFiles"),
    excludeFiles: strings("excludeFiles"),
    excludeFilesTarget: strings("excludeFilesTarget"),
    makeDirectories: strings("makeDirectories"),
    verity: verity as VerityMode,
    verityMatchKey: string("verityMatchKey"),
    verityDataBlockSizeBytes: blockSize("verityDataBlockSizeBytes"),
    verityHashBlockSizeBytes: blockSize("verityHashBlockSizeBytes"),
    factoryReset: boolean("factoryReset") ?? false,
    flags,
    noAuto: boolean("noAuto"),
    readOnly: boolean("readOnly"),
    growFileSystem: boolean("growFileSystem"),
    splitName: splitName === undefined ? undefined : splitName === "-" || splitName === null ? null : string("splitName"),
    minimize: minimize as MinimizeMode,
    compression: string("compression"),
    compressionLevel: compressionLevel === undefined ? undefined : String(compressionLevel),
  };
}

const ENTRY_KEYS = ["path", "type", "content", "contentFrom", "target", "mode", "uid", "gid"];
const OVERRIDE_KEYS = ["path", "uid", "gid", "mode"];

/** Mode as JSON: an octal string ("0755", "4755") or a number; permission bits only. */
function parseMode(value: Json | undefined, where: string): number | undefined {
  if (value === undefined) return undefined;
  const mode = typeof value === "string" && /^[0-7]{1,4}$/.test(value) ? parseInt(value, 8) : typeof value === "number" && Number.isInteger(value) ? value : Number.NaN;
  if (!(mode >= 0 && mode <= 0o7777)) fail(ErrorCode.Spec, `${where}: ${JSON.stringify(value)} is not a mode`, 'use an octal string like "0755" or "4755"');
  return mode;
}

function parseId(value: Json | undefined, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_fffe) fail(ErrorCode.Spec, `${where}: ${JSON.stringify(value)} is not a uid/gid`, "use a number from 0 to 4294967294");
  return value;
}

function interpretTreeOptions(json: { [key: string]: Json }, where: string): PartitionDefinition["tree"] {
  const entriesJson = json["entries"];
  const overridesJson = json["overrides"];
  if (entriesJson === undefined && overridesJson === undefined && json["allRootOwned"] === undefined && json["xattrs"] === undefined) return undefined;
  const list = (value: Json | undefined, key: string): Array<{ [key: string]: Json }> => {
    if (value === undefined) return [];
    if (!Array.isArray(value) || value.some((item) => !isObject(item))) fail(ErrorCode.Spec, `${where}.${key}: must be an array of objects`, `see "${key}" in schema/spec.schema.json`);
    return value as Array<{ [key: string]: Json }>;
  };
  const entries = list(entriesJson, "entries").map((entry, index) => {
    const at = `${where}.entries[${index}]`;
    checkKeys(entry, ENTRY_KEYS, (key) => `${at}.${key}`);
    const type = entry["type"] ?? "file";
    if (type !== "file" && type !== "dir" && type !== "symlink") fail(ErrorCode.Spec, `${at}.type: ${JSON.stringify(type)}`, 'use "file", "dir" or "symlink"');
    if (typeof entry["path"] !== "string") fail(ErrorCode.Spec, `${at}.path: missing`, 'e.g. "etc/hostname"');
    const text = (key: string): string | undefined => {
      const value = entry[key];
      if (value !== undefined && typeof value !== "string") fail(ErrorCode.Spec, `${at}.${key}: must be a string`, `got ${JSON.stringify(value)}`);
      return value as string | undefined;
    };
    const mode = parseMode(entry["mode"], `${at}.mode`);
    const uid = parseId(entry["uid"], `${at}.uid`);
    const gid = parseId(entry["gid"], `${at}.gid`);
    const content = text("content");
    const contentFrom = text("contentFrom");
    const target = text("target");
    return {
      path: entry["path"] as string,
      type: type as "file" | "dir" | "symlink",
      ...(content !== undefined ? { content } : {}),
      ...(contentFrom !== undefined ? { contentFrom } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(mode !== undefined ? { mode } : {}),
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
    };
  });
  const overrides = list(overridesJson, "overrides").map((override, index) => {
    const at = `${where}.overrides[${index}]`;
    checkKeys(override, OVERRIDE_KEYS, (key) => `${at}.${key}`);
    if (typeof override["path"] !== "string") fail(ErrorCode.Spec, `${at}.path: missing`, 'a path or glob, e.g. "usr/bin/*"');
    const mode = parseMode(override["mode"], `${at}.mode`);
    const uid = parseId(override["uid"], `${at}.uid`);
    const gid = parseId(override["gid"], `${at}.gid`);
    return { path: override["path"] as string, ...(mode !== undefined ? { mode } : {}), ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) };
  });
  const flag = (key: string, fallback: boolean): boolean => {
    const value = json[key];
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") fail(ErrorCode.Spec, `${where}.${key}: must be true or false`, `got ${JSON.stringify(value)}`);
    return value;
  };
  return { entries, overrides, allRootOwned: flag("allRootOwned", false), xattrs: flag("xattrs", true) };
}

function parseSpecSize(value: Json, where: string, allowAuto: boolean): number | "auto" {
  if (allowAuto && value === "auto") return "auto";
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === "string") {
    const parsed = parseSizeOrUndefined(value);
    if (parsed !== undefined) return parsed;
  }
  return fail(ErrorCode.Spec, `${where}: ${JSON.stringify(value)} is not a size`, `use bytes or a string like "512M" or "2G" (base 1024)${allowAuto ? ', or "auto"' : ""}`);
}

function withoutKey(json: { [key: string]: Json }, key: string): { [key: string]: Json } {
  return Object.fromEntries(Object.entries(json).filter(([name]) => name !== key));
}

function optionalString(json: { [key: string]: Json }, key: string, at: (key: string) => string): string | undefined {
  const value = json[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") fail(ErrorCode.Spec, `${at(key)}: must be a string`, `got ${JSON.stringify(value)}`);
  return value;
}
