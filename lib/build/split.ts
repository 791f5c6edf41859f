/**
 * SplitName= specifiers (repart v252+): %t type identifier, %T type UUID, %U partition UUID
 * (both as 32 hex digits, no dashes, as systemd's %-id128 specifiers), %n partition number.
 */
import { ErrorCode, fail } from "../core/errors.js";
import type { PlannedPartition } from "../plan/layout.js";

export function resolveSplitName(template: string, partition: PlannedPartition, finalUuid: string): string {
  let out = "";
  for (let index = 0; index < template.length; index++) {
    const character = template[index]!;
    if (character !== "%") {
      out += character;
      continue;
    }
    const specifier = template[++index];
    switch (specifier) {
      case "%": out += "%"; break;
      case "t": out += partition.type.name ?? partition.type.uuid; break;
      case "T": out += partition.type.uuid.replaceAll("-", ""); break;
      case "U": out += finalUuid.replaceAll("-", ""); break;
      case "n": out += String(partition.slot); break;
      default: fail(ErrorCode.Definitions, `${partition.definition?.source}: unknown specifier "%${specifier ?? ""}" in SplitName=${template}`, "use %t, %T, %U or %n");
    }
  }
  return out;
}
