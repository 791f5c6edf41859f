/**
 * Discoverable Partitions Specification rules that hold for any image, checked on the table
 * alone (no partition contents): verity hash and signature partitions need their data
 * partition of the same designator and architecture; repart's flag defaults (repart.c
 * `partition_read_definition`: verity data and hash partitions are ReadOnly=yes, GrowFileSystem=
 * only on writable ones); several root/usr partitions of one architecture need distinct,
 * versioned labels for systemd to pick the newest (DPS "Partition Names", sysupdate).
 */
import { GPT_FLAG } from "../formats/gpt/types.js";
import { activeOf, type ImagePartition } from "./partitions.js";
import type { VerifyFinding } from "./types.js";

export function checkDpsRules(partitions: readonly ImagePartition[]): VerifyFinding[] {
  const findings: VerifyFinding[] = [];
  const error = (message: string): void => void findings.push({ severity: "error", area: "dps", message });
  const warning = (message: string): void => void findings.push({ severity: "warning", area: "dps", message });
  const data = activeOf(partitions, "data");
  const hash = activeOf(partitions, "hash");
  const signature = activeOf(partitions, "signature");
  const familyLabel = (family: string): string => family.replace("/", "-");

  for (const partition of hash) {
    if (!data.some((other) => other.family === partition.family)) error(`${partition.name}: verity hash partition without a ${familyLabel(partition.family!)} data partition`);
  }
  for (const partition of signature) {
    if (!hash.some((other) => other.family === partition.family)) error(`${partition.name}: verity signature partition without a ${familyLabel(partition.family!)}-verity hash partition`);
  }
  const families = new Set(data.map((partition) => partition.family!));
  for (const family of families) {
    const members = data.filter((partition) => partition.family === family);
    const hashes = hash.filter((partition) => partition.family === family);
    if (hashes.length > members.length) error(`${familyLabel(family)}: ${hashes.length} verity hash partitions for ${members.length} data partition(s)`);
    if (members.length > 1) checkVersionedLabels(members, warning);
  }

  for (const partition of partitions) {
    if (partition.placeholder) continue;
    const readOnly = (partition.entry.attributes & GPT_FLAG.readOnly) !== 0n;
    const growFileSystem = (partition.entry.attributes & GPT_FLAG.growFileSystem) !== 0n;
    const protectedData = partition.role === "data" && hash.some((other) => other.family === partition.family);
    if ((partition.role === "hash" || protectedData) && !readOnly) {
      warning(`${partition.name}: verity ${partition.role} partition without the read-only flag (GPT attribute bit 60; repart sets it by default)`);
    }
    if (readOnly && growFileSystem) warning(`${partition.name}: both read-only and grow-file-system flags are set (systemd-growfs cannot grow a read-only file system)`);
  }
  return findings;
}

/**
 * systemd picks among several root (or usr) partitions of one architecture by version-sorting
 * their labels; identical or unversioned labels make the choice arbitrary.
 */
function checkVersionedLabels(members: readonly ImagePartition[], warning: (message: string) => void): void {
  const names = members.map((partition) => partition.index).join(", ");
  const labels = members.map((partition) => partition.entry.label);
  if (new Set(labels).size !== labels.length) {
    warning(`partitions ${names}: several ${members[0]!.type.name} partitions share a label; systemd cannot tell which is newest (give them versioned labels or "_empty")`);
  } else if (labels.some((label) => !/\d/.test(label))) {
    warning(`partitions ${names}: several ${members[0]!.type.name} partitions but not every label carries a version (${labels.map((label) => JSON.stringify(label)).join(", ")})`);
  }
}
