/**
 * Partition types: repart identifiers ⇄ UUIDs, designators (root, usr, esp, …) and which GPT
 * attribute bits each designator knows (systemd 257 shared/gpt.c).
 */
import { normalizeGuid } from "../../core/guid.js";
import { ARCHITECTURE_ALIASES, ARCHITECTURE_TYPES, GENERIC_TYPES, type ArchitectureTypes } from "./dps-table.js";

export type Designator =
  | "root" | "usr" | "root-verity" | "usr-verity" | "root-verity-sig" | "usr-verity-sig"
  | "esp" | "xbootldr" | "swap" | "home" | "srv" | "var" | "tmp";

export interface PartitionType {
  readonly uuid: string;
  /** repart's canonical identifier ("root-x86-64", "esp"), or undefined for unknown UUIDs. */
  readonly name: string | undefined;
  readonly designator: Designator | undefined;
  readonly architecture: string | undefined;
}

const ARCH_FIELDS: ReadonlyArray<[keyof ArchitectureTypes, Designator, string]> = [
  ["root", "root", ""],
  ["rootVerity", "root-verity", "-verity"],
  ["rootVeritySig", "root-verity-sig", "-verity-sig"],
  ["usr", "usr", ""],
  ["usrVerity", "usr-verity", "-verity"],
  ["usrVeritySig", "usr-verity-sig", "-verity-sig"],
];

const GENERIC_DESIGNATORS: Readonly<Record<string, Designator | undefined>> = {
  esp: "esp", xbootldr: "xbootldr", swap: "swap", home: "home", srv: "srv", var: "var", tmp: "tmp",
  "user-home": undefined, "linux-generic": undefined,
};

const BY_UUID: ReadonlyMap<string, PartitionType> = (() => {
  const map = new Map<string, PartitionType>();
  for (const [architecture, types] of Object.entries(ARCHITECTURE_TYPES)) {
    for (const [field, designator, suffix] of ARCH_FIELDS) {
      const prefix = designator.startsWith("root") ? "root" : "usr";
      map.set(types[field], { uuid: types[field], name: `${prefix}-${architecture}${suffix}`, designator, architecture });
    }
  }
  for (const [name, uuid] of Object.entries(GENERIC_TYPES)) {
    map.set(uuid, { uuid, name, designator: GENERIC_DESIGNATORS[name], architecture: undefined });
  }
  return map;
})();

export const ARCHITECTURES: readonly string[] = Object.keys(ARCHITECTURE_TYPES);

/** Canonical architecture name for a DPS name or alias ("amd64" → "x86-64"), else undefined. */
export function canonicalArchitecture(name: string): string | undefined {
  if (name in ARCHITECTURE_TYPES) return name;
  return ARCHITECTURE_ALIASES[name];
}

/** "Secondary" architecture systemd pairs with a native one (32-bit userspace on 64-bit CPUs). */
const SECONDARY_ARCHITECTURE: Readonly<Record<string, string>> = { "x86-64": "x86", arm64: "arm" };

/**
 * Resolves a Type= value: a repart identifier (with architecture, host-relative like "root"
 * meaning `nativeArchitecture`, or an alias like "root-amd64") or a raw UUID. Returns undefined
 * when it is neither.
 */
export function resolvePartitionType(text: string, nativeArchitecture: string): PartitionType | undefined {
  const uuid = normalizeGuid(text);
  if (uuid) return describePartitionType(uuid);
  if (text in GENERIC_TYPES) return describePartitionType(GENERIC_TYPES[text]!);
  const suffix = text.endsWith("-verity-sig") ? "-verity-sig" : text.endsWith("-verity") ? "-verity" : "";
  const match = /^(root|usr)(?:-(.+))?$/.exec(text.slice(0, text.length - suffix.length));
  if (!match) return undefined;
  const [, prefix, archText] = match;
  let architecture: string | undefined;
  if (archText === undefined) architecture = nativeArchitecture;
  else if (archText === "secondary") architecture = SECONDARY_ARCHITECTURE[nativeArchitecture];
  else architecture = canonicalArchitecture(archText);
  if (!architecture) return undefined;
  const field = ARCH_FIELDS.find(([, designator, fieldSuffix]) => designator.startsWith(prefix!) && fieldSuffix === suffix)!;
  return describePartitionType(ARCHITECTURE_TYPES[architecture]![field[0]]);
}

export function describePartitionType(uuid: string): PartitionType {
  return BY_UUID.get(uuid) ?? { uuid, name: undefined, designator: undefined, architecture: undefined };
}

/** repart --architecture=: maps an architecture-specific type to the same role on another architecture. */
export function overrideArchitecture(type: PartitionType, architecture: string): PartitionType {
  if (!type.architecture || !type.designator) return type;
  const field = ARCH_FIELDS.find(([, designator]) => designator === type.designator)!;
  return describePartitionType(ARCHITECTURE_TYPES[architecture]![field[0]]);
}

/** All identifiers accepted for Type=, for "did you mean" suggestions and the JSON Schema. */
export function typeIdentifiers(): string[] {
  const names = [...Object.keys(GENERIC_TYPES)];
  for (const architecture of ARCHITECTURES) {
    for (const [, designator, suffix] of ARCH_FIELDS) names.push(`${designator.startsWith("root") ? "root" : "usr"}-${architecture}${suffix}`);
  }
  names.push("root", "root-verity", "root-verity-sig", "usr", "usr-verity", "usr-verity-sig");
  return names;
}

/** GPT attribute bits (UEFI §5.3.3 bits 0–2; DPS bits 59, 60, 63). */
export const GPT_FLAG = {
  requiredPartition: 1n << 0n,
  noBlockIoProtocol: 1n << 1n,
  legacyBiosBootable: 1n << 2n,
  growFileSystem: 1n << 59n,
  readOnly: 1n << 60n,
  noAuto: 1n << 63n,
} as const;

export function knowsReadOnly(type: PartitionType): boolean {
  return ["root", "usr", "root-verity", "usr-verity", "home", "srv", "var", "tmp", "xbootldr"].includes(type.designator ?? "");
}

export function knowsGrowFileSystem(type: PartitionType): boolean {
  return ["root", "usr", "home", "srv", "var", "tmp", "xbootldr"].includes(type.designator ?? "");
}

export function knowsNoAuto(type: PartitionType): boolean {
  return ["root", "root-verity", "usr", "usr-verity", "home", "srv", "var", "tmp", "xbootldr", "swap"].includes(type.designator ?? "");
}
