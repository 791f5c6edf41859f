/**
 * Per-definition rules and defaults, as repart's partition_read_definition() applies them
 * after parsing (v257): refusals first, then the implied Format=, ReadOnly= and
 * GrowFileSystem= defaults.
 */
import { ErrorCode, fail } from "../core/errors.js";
import { knowsGrowFileSystem } from "../formats/gpt/types.js";
import type { SpecifierValues } from "../input/specifiers.js";
import { isReadOnlyFormat, needsPopulate, type PartitionDefinition } from "./definition.js";

export interface DefinitionOptions {
  /** Native architecture for host-relative types ("root", "usr-verity"). */
  readonly architecture: string;
  readonly specifiers: SpecifierValues;
  /** Whether --private-key= and --certificate= (or spec keys) were given. */
  readonly hasPrivateKey: boolean;
  readonly hasCertificate: boolean;
}

/** Formats gptimg writes itself; "empty" = none (repart v257 has no Format=empty, we accept it for placeholders). */
export const SUPPORTED_FORMATS = new Set(["vfat", "squashfs", "erofs", "swap"]);

export function checkDefinition(definition: PartitionDefinition, options: DefinitionOptions): PartitionDefinition {
  const where = definition.source;
  const refuse = (message: string, hint: string): never => fail(ErrorCode.Definitions, `${where}: ${message}`, hint);
  const copyBlocks = definition.copyBlocks !== undefined;
  const populate = needsPopulate(definition);

  if (definition.sizeMinBytes !== undefined && definition.sizeMaxBytes !== undefined && definition.sizeMinBytes > definition.sizeMaxBytes) {
    refuse(`SizeMinBytes= (${definition.sizeMinBytes}) larger than SizeMaxBytes= (${definition.sizeMaxBytes}), refusing`, "make the minimum at most the maximum");
  }
  if (definition.paddingMinBytes !== undefined && definition.paddingMaxBytes !== undefined && definition.paddingMinBytes > definition.paddingMaxBytes) {
    refuse("PaddingMinBytes= larger than PaddingMaxBytes=, refusing", "make the minimum at most the maximum");
  }
  if (copyBlocks && (definition.format !== undefined || populate)) {
    refuse("Format=/CopyFiles=/MakeDirectories= and CopyBlocks= cannot be combined, refusing", "use either raw blocks or a filesystem built from files");
  }
  if (populate && definition.format === "swap") refuse("Format=swap and CopyFiles=/MakeDirectories= cannot be combined, refusing", "drop CopyFiles= from the swap partition");

  let format = definition.format;
  if (format === undefined) {
    if (definition.type.designator === "swap") format = "swap";
    else if (populate) format = definition.type.designator === "esp" || definition.type.designator === "xbootldr" ? "vfat" : "ext4";
  }
  if (definition.minimize !== "off" && format === undefined && definition.verity !== "hash") {
    refuse("Minimize= can only be enabled if Format= or Verity=hash are set", "set Format= or drop Minimize=");
  }
  if (definition.minimize === "best" && format !== undefined && !isReadOnlyFormat(format) && definition.verity !== "hash") {
    refuse("Minimize=best can only be used with read-only filesystems or Verity=hash", "use Minimize=guess for writable filesystems");
  }
  if (format !== undefined && isReadOnlyFormat(format) && !populate) {
    refuse(`cannot format ${format} filesystem without source files, refusing`, "add CopyFiles= or MakeDirectories=");
  }
  if (format !== undefined && !SUPPORTED_FORMATS.has(format)) {
    refuse(`Format=${format} is not supported by gptimg`, "use vfat, squashfs or erofs (gptimg writes these itself), or CopyBlocks= a prebuilt image");
  }
  if (definition.verity !== "off" && definition.verityMatchKey === undefined) {
    refuse(`VerityMatchKey= must be set if Verity=${definition.verity}`, "give the data, hash and signature partitions the same VerityMatchKey=");
  }
  if (definition.verity === "off" && definition.verityMatchKey !== undefined) {
    refuse('VerityMatchKey= can only be set if Verity= is not "off"', "set Verity= or drop VerityMatchKey=");
  }
  if ((definition.verity === "hash" || definition.verity === "signature") && (copyBlocks || format !== undefined || populate)) {
    refuse(`CopyBlocks=/CopyFiles=/Format=/MakeDirectories= cannot be used with Verity=${definition.verity}`, "the verity partition's content is computed from its data partition");
  }
  if (definition.verity === "data" && format !== undefined && !isReadOnlyFormat(format)) {
    refuse(`Verity=data on a writable ${format} filesystem`, "dm-verity protects read-only data: use squashfs or erofs, or CopyBlocks= a read-only image");
  }
  if (definition.verity === "signature" && !options.hasPrivateKey) refuse("verity signature partition requested but no private key provided (--private-key=)", "pass --private-key=KEY.pem and --certificate=CERT.pem");
  if (definition.verity === "signature" && !options.hasCertificate) refuse("verity signature partition requested but no PEM certificate provided (--certificate=)", "pass --certificate=CERT.pem");
  if (definition.verity === "signature" && (definition.sizeMinBytes !== undefined || definition.sizeMaxBytes !== undefined)) {
    refuse("SizeMinBytes=/SizeMaxBytes= cannot be used with Verity=signature", "the signature partition is always 16 KiB");
  }

  let readOnly = definition.readOnly;
  if ((definition.type.designator === "root-verity" || definition.type.designator === "usr-verity" || definition.verity === "data") && readOnly === undefined) readOnly = true;
  // v257 sets growfs for every type that knows it unless read-only, even over an explicit
  // GrowFileSystem=no; we keep that so tables stay identical to repart's.
  let growFileSystem = definition.growFileSystem;
  if (knowsGrowFileSystem(definition.type) && readOnly !== true) growFileSystem = true;
  return { ...definition, format, readOnly, growFileSystem };
}

/**
 * Cross-definition rules (repart's context_read_definitions): every Verity=data/hash has
 * exactly one partner of the other kind with the same VerityMatchKey=, at most one
 * signature, and siblings share Priority=.
 */
export function checkVeritySiblings(definitions: readonly PartitionDefinition[]): void {
  for (const definition of definitions) {
    if (definition.verity === "off") continue;
    for (const mode of ["data", "hash", "signature"] as const) {
      if (mode === definition.verity) continue;
      const siblings = definitions.filter((other) => other !== definition && other.verity === mode && other.verityMatchKey === definition.verityMatchKey);
      if (siblings.length === 0 && mode !== "signature") {
        fail(ErrorCode.Definitions, `${definition.source}: missing verity ${mode} partition for verity ${definition.verity} partition with VerityMatchKey=${definition.verityMatchKey}`, `add a partition with Verity=${mode} and the same VerityMatchKey=`);
      }
      if (siblings.length > 1) {
        fail(ErrorCode.Definitions, `${definition.source}: multiple verity ${mode} partitions found for verity ${definition.verity} partition with VerityMatchKey=${definition.verityMatchKey}`, "each VerityMatchKey= names one data, one hash and at most one signature partition");
      }
      const sibling = siblings[0];
      if (sibling && sibling.priority !== definition.priority) {
        fail(ErrorCode.Definitions, `${definition.source}: priority mismatch (${definition.priority} != ${sibling.priority}) for verity sibling partitions with VerityMatchKey=${definition.verityMatchKey}`, "give verity siblings the same Priority=");
      }
    }
  }
  for (const definition of definitions) {
    if (definition.verity !== "hash" || definition.minimize === "off") continue;
    const data = definitions.find((other) => other.verity === "data" && other.verityMatchKey === definition.verityMatchKey)!;
    if (data.minimize === "off" && data.copyBlocks === undefined) {
      fail(ErrorCode.Definitions, `${definition.source}: Minimize= set for verity hash partition but data partition does not set CopyBlocks= or Minimize=`, "set Minimize=best on the data partition too");
    }
  }
}
