/**
 * The partitions of an image as `gptimg verify` sees them: each GPT entry with its DPS role
 * (data, verity hash, verity signature), the family that ties the three together (designator
 * prefix and architecture, e.g. "root/x86-64"), and its byte range in the image file.
 */
import type { GptEntry } from "../formats/gpt/encode.js";
import { describePartitionType, type PartitionType } from "../formats/gpt/types.js";

export type VerityRole = "data" | "hash" | "signature";

export interface ImagePartition {
  /** 1-based partition number, as Linux and `gptimg inspect` number them. */
  readonly index: number;
  readonly entry: GptEntry;
  readonly type: PartitionType;
  /** For root/usr types: which part of a verity triple this type is; undefined otherwise. */
  readonly role: VerityRole | undefined;
  /** "root/x86-64", "usr/arm64": data, hash and signature of one triple share it. */
  readonly family: string | undefined;
  readonly offsetBytes: number;
  readonly sizeBytes: number;
  /** `partition 3 (usr-x86-64-verity "usr_verity")`, for messages. */
  readonly name: string;
  /**
   * systemd-sysupdate marks unused A/B slots with the label "_empty"; they hold nothing and
   * take part in no rule.
   */
  readonly placeholder: boolean;
}

const ROLES: Readonly<Record<string, VerityRole>> = {
  root: "data", usr: "data",
  "root-verity": "hash", "usr-verity": "hash",
  "root-verity-sig": "signature", "usr-verity-sig": "signature",
};

export function describePartitions(entries: readonly GptEntry[], sectorSize: number): ImagePartition[] {
  return entries.map((entry) => {
    const type = describePartitionType(entry.typeUuid);
    const role = type.designator === undefined ? undefined : ROLES[type.designator];
    const family = role !== undefined && type.architecture !== undefined ? `${type.designator!.startsWith("root") ? "root" : "usr"}/${type.architecture}` : undefined;
    const index = entry.slot + 1;
    return {
      index,
      entry,
      type,
      role,
      family,
      offsetBytes: entry.firstLba * sectorSize,
      sizeBytes: Math.max(0, entry.lastLba - entry.firstLba + 1) * sectorSize,
      name: `partition ${index} (${type.name ?? entry.typeUuid} "${entry.label}")`,
      placeholder: entry.label === "_empty",
    };
  });
}

/** Only partitions that take part in DPS rules: known role, not an "_empty" placeholder. */
export function activeOf(partitions: readonly ImagePartition[], role: VerityRole): ImagePartition[] {
  return partitions.filter((partition) => partition.role === role && !partition.placeholder);
}
