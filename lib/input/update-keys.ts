/**
 * The spec's update keys (issue 8): the top-level `update` section and the per-partition slot
 * keys (`slots`, `slotSize`, `emptySlots`, `inImage`, `runtime`). Parsing only; what they mean
 * for the image, the artifacts and the on-device definitions is lib/update/slots.ts.
 */
import { ErrorCode, fail } from "../core/errors.js";
import { parseSizeOrUndefined } from "../core/size.js";
import type { ArtifactCompression, PartitionUpdateKeys, RuntimeKeys, UpdateSettings } from "../update/slots.js";

import { checkKeys, isObject, type Json } from "./json.js";

type JsonObject = { [key: string]: Json };

export const UPDATE_KEYS = ["source", "definitionsIn", "instancesMax", "artifactCompression", "verify", "transfers", "repartDefinitions", "transferSuffix"] as const;
export const RUNTIME_KEYS = ["sizeMinBytes", "sizeMaxBytes", "weight", "paddingWeight", "factoryReset", "format", "encrypt", "label", "makeDirectories"] as const;
export const SLOT_PARTITION_KEYS = ["slots", "slotSize", "emptySlots", "inImage", "runtime"] as const;
const SOURCE_TYPES = ["url-file", "url-tar", "regular-file", "directory", "tar"] as const;
const COMPRESSIONS: readonly ArtifactCompression[] = ["zstd", "gzip", "none"];
export const MAX_SLOTS = 16;
/** UKIs kept in the ESP: sysupdate's InstancesMax= default. */
const DEFAULT_UKI_INSTANCES = 2;
/** zstd for gptimg update (fast, parallel), gzip for systemd-sysupdate < 258 (systemd-import 257 cannot unpack zstd). */
export const DEFAULT_ARTIFACT_COMPRESSION: readonly ArtifactCompression[] = ["zstd", "gzip"];

function size(value: Json | undefined, where: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : typeof value === "string" ? parseSizeOrUndefined(value) : undefined;
  if (parsed === undefined || parsed <= 0) fail(ErrorCode.Spec, `${where}: ${JSON.stringify(value)} is not a size`, 'use bytes or a string like "512M" or "2G" (base 1024)');
  return parsed;
}

function integer(value: Json | undefined, where: string, minimum: number, maximum: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum || value > maximum) fail(ErrorCode.Spec, `${where}: must be an integer from ${minimum} to ${maximum}`, `got ${JSON.stringify(value)}`);
  return value;
}

function boolean(value: Json | undefined, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") fail(ErrorCode.Spec, `${where}: must be true or false`, `got ${JSON.stringify(value)}`);
  return value;
}

function text(value: Json | undefined, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") fail(ErrorCode.Spec, `${where}: must be a non-empty string`, `got ${JSON.stringify(value)}`);
  return value;
}

/** The per-partition slot keys of `partitions[i]`; undefined when it has none. */
export function interpretPartitionUpdateKeys(json: JsonObject, where: string): PartitionUpdateKeys | undefined {
  if (SLOT_PARTITION_KEYS.every((key) => json[key] === undefined)) return undefined;
  const slots = integer(json["slots"], `${where}.slots`, 2, MAX_SLOTS);
  const slotSizeBytes = size(json["slotSize"], `${where}.slotSize`);
  if (slotSizeBytes !== undefined && slotSizeBytes % 4096 !== 0) fail(ErrorCode.Spec, `${where}.slotSize: ${slotSizeBytes} is not a multiple of 4096`, 'use a size like "1G" or "512M"');
  const emptySlots = json["emptySlots"];
  if (emptySlots !== undefined && emptySlots !== "image" && emptySlots !== "first-boot") fail(ErrorCode.Spec, `${where}.emptySlots: ${JSON.stringify(emptySlots)}`, 'use "image" (the _empty slots are in the image) or "first-boot" (systemd-repart creates them)');
  if (slots === undefined && (slotSizeBytes !== undefined || emptySlots !== undefined)) fail(ErrorCode.Spec, `${where}: "slotSize"/"emptySlots" need "slots"`, 'add e.g. "slots": 2');
  const runtimeJson = json["runtime"];
  let runtime: RuntimeKeys | undefined;
  if (runtimeJson !== undefined) {
    const at = `${where}.runtime`;
    if (!isObject(runtimeJson)) fail(ErrorCode.Spec, `${at}: must be an object`, '{"sizeMinBytes": "1G", "factoryReset": true}');
    checkKeys(runtimeJson, RUNTIME_KEYS, (key) => `${at}.${key}`);
    const makeDirectories = runtimeJson["makeDirectories"];
    if (makeDirectories !== undefined && (!Array.isArray(makeDirectories) || makeDirectories.some((item) => typeof item !== "string"))) fail(ErrorCode.Spec, `${at}.makeDirectories: must be an array of strings`, 'e.g. ["/var/lib"]');
    runtime = {
      sizeMinBytes: size(runtimeJson["sizeMinBytes"], `${at}.sizeMinBytes`),
      sizeMaxBytes: size(runtimeJson["sizeMaxBytes"], `${at}.sizeMaxBytes`),
      weight: integer(runtimeJson["weight"], `${at}.weight`, 0, 1_000_000),
      paddingWeight: integer(runtimeJson["paddingWeight"], `${at}.paddingWeight`, 0, 1_000_000),
      factoryReset: boolean(runtimeJson["factoryReset"], `${at}.factoryReset`),
      format: text(runtimeJson["format"], `${at}.format`),
      encrypt: text(runtimeJson["encrypt"], `${at}.encrypt`),
      label: text(runtimeJson["label"], `${at}.label`),
      makeDirectories: (makeDirectories as string[] | undefined) ?? [],
    };
    if (runtime.encrypt !== undefined && !["off", "key-file", "tpm2", "key-file+tpm2"].includes(runtime.encrypt)) fail(ErrorCode.Spec, `${at}.encrypt: ${JSON.stringify(runtime.encrypt)}`, 'use "off", "key-file", "tpm2" or "key-file+tpm2" (repart Encrypt=)');
  }
  return {
    slots,
    slotSizeBytes,
    emptySlots: emptySlots as PartitionUpdateKeys["emptySlots"],
    inImage: boolean(json["inImage"], `${where}.inImage`) ?? true,
    runtime,
  };
}

/** The top-level `update` section. */
export function interpretUpdateSettings(json: Json | undefined, where: string): UpdateSettings | undefined {
  if (json === undefined) return undefined;
  if (!isObject(json)) fail(ErrorCode.Spec, `${where}: must be an object`, '{"source": {"type": "url-file", "path": "https://…"}}');
  checkKeys(json, UPDATE_KEYS, (key) => `${where}.${key}`);
  const source = json["source"];
  if (!isObject(source)) fail(ErrorCode.Spec, `${where}.source: missing`, 'where devices fetch updates: {"type": "url-file", "path": "https://updates.example.com/myos"} (sysupdate [Source])');
  checkKeys(source, ["type", "path"], (key) => `${where}.source.${key}`);
  const sourceType = source["type"] ?? "url-file";
  if (!(SOURCE_TYPES as readonly Json[]).includes(sourceType)) fail(ErrorCode.Spec, `${where}.source.type: ${JSON.stringify(sourceType)}`, `use one of ${SOURCE_TYPES.join(", ")}`);
  const sourcePath = text(source["path"], `${where}.source.path`);
  if (sourcePath === undefined) fail(ErrorCode.Spec, `${where}.source.path: missing`, "a URL (url-file) or a directory on the device (regular-file)");
  const definitionsIn = json["definitionsIn"];
  if (definitionsIn !== undefined && definitionsIn !== "usr" && definitionsIn !== "root" && definitionsIn !== "none") fail(ErrorCode.Spec, `${where}.definitionsIn: ${JSON.stringify(definitionsIn)}`, 'use "usr", "root" or "none" (the partition whose tree gets /usr/lib/repart.d and /usr/lib/sysupdate.d)');
  const compressionJson = json["artifactCompression"] ?? [...DEFAULT_ARTIFACT_COMPRESSION];
  const compressions = Array.isArray(compressionJson) ? compressionJson : [compressionJson];
  if (compressions.length === 0 || compressions.some((item) => !(COMPRESSIONS as readonly Json[]).includes(item))) fail(ErrorCode.Spec, `${where}.artifactCompression: ${JSON.stringify(compressionJson)}`, 'use a list of "zstd", "gzip", "none"');
  const suffix = json["transferSuffix"] ?? ".transfer";
  if (suffix !== ".transfer" && suffix !== ".conf") fail(ErrorCode.Spec, `${where}.transferSuffix: ${JSON.stringify(suffix)}`, 'use ".transfer" (systemd ≥ 257) or ".conf" (older systemd-sysupdate)');
  return {
    source: { type: sourceType as UpdateSettings["source"]["type"], path: sourcePath },
    definitionsIn: definitionsIn as UpdateSettings["definitionsIn"],
    instancesMax: integer(json["instancesMax"], `${where}.instancesMax`, 1, MAX_SLOTS) ?? DEFAULT_UKI_INSTANCES,
    artifactCompression: [...new Set(compressions as ArtifactCompression[])],
    verify: boolean(json["verify"], `${where}.verify`) ?? false,
    transfers: boolean(json["transfers"], `${where}.transfers`) ?? true,
    repartDefinitions: boolean(json["repartDefinitions"], `${where}.repartDefinitions`) ?? true,
    transferSuffix: suffix,
  };
}
