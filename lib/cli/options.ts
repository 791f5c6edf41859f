/** Parsing of flag values shared by the commands; each failure names the flag and the fix. */
import { randomBytes } from "node:crypto";
import { ErrorCode, fail } from "../core/errors.js";
import { guidToBytes, normalizeGuid } from "../core/guid.js";
import { parseSizeOrUndefined } from "../core/size.js";
import { canonicalArchitecture, resolvePartitionType } from "../formats/gpt/types.js";
import { defaultConcurrency } from "../core/context.js";

/** The seed gptimg uses when none is given, so two builds of one spec are identical. */
export const DEFAULT_SEED = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

export function parseSeed(text: string | undefined, flag: string): Uint8Array {
  if (text === undefined) return guidToBytes(DEFAULT_SEED);
  if (text === "random") return randomBytes(16);
  const guid = normalizeGuid(text);
  if (!guid) fail(ErrorCode.Usage, `${flag}: "${text}" is not a UUID`, 'use a UUID like 01234567-89ab-cdef-0123-456789abcdef, or "random"');
  return guidToBytes(guid);
}

/** --size=: "auto" or a size rounded up to 4096 like repart. */
export function parseImageSize(text: string | undefined, flag: string): number | "auto" | undefined {
  if (text === undefined) return undefined;
  if (text === "auto") return "auto";
  const parsed = parseSizeOrUndefined(text);
  if (parsed === undefined) fail(ErrorCode.Usage, `${flag}: "${text}" is not a size`, 'use "auto" or a size like "2G" (base 1024)');
  const rounded = Math.ceil(parsed / 4096) * 4096;
  if (rounded === 0) fail(ErrorCode.Usage, `${flag}: image size too small`, "give a size of at least a few MiB");
  return rounded;
}

export function parseSectorSize(text: string | number | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (![512, 1024, 2048, 4096].includes(value)) fail(ErrorCode.Usage, `${flag}: "${text}" is not a supported sector size`, "use 512 or 4096");
  return value;
}

export function parseArchitecture(text: string | undefined, flag: string): string {
  if (text === undefined) return "x86-64";
  const architecture = canonicalArchitecture(text);
  if (!architecture) fail(ErrorCode.Usage, `${flag}: unknown architecture "${text}"`, "use a DPS name like x86-64, arm64, riscv64, x86, arm, loongarch64");
  return architecture;
}

export function parseBoolean(text: string | boolean | undefined, flag: string, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  if (typeof text === "boolean") return text;
  const value = { yes: true, true: true, on: true, "1": true, no: false, false: false, off: false, "0": false }[text.toLowerCase()];
  if (value === undefined) fail(ErrorCode.Usage, `${flag}: "${text}" is not a boolean`, "use yes or no");
  return value;
}

/** --include/--exclude/--defer-partitions=: comma-separated type identifiers or UUIDs. */
export function parseTypeList(text: string | undefined, flag: string, architecture: string): Set<string> | undefined {
  if (text === undefined) return undefined;
  const uuids = new Set<string>();
  for (const item of text.split(",").filter((part) => part !== "")) {
    const type = resolvePartitionType(item, architecture);
    if (!type) fail(ErrorCode.Usage, `${flag}: unknown partition type "${item}"`, 'use identifiers like "root", "usr-verity", "esp" or UUIDs');
    uuids.add(type.uuid);
  }
  return uuids;
}

export function parseWorkers(text: string | undefined, flag: string): number {
  if (text === undefined) return defaultConcurrency();
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 256) fail(ErrorCode.Usage, `${flag}=${text}: not a worker count`, "use a whole number from 1 to 256");
  return value;
}
