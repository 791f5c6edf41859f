/**
 * PartitionDefinition: one partition as the user asked for it, whichever way it came in
 * (a repart.d `[Partition]` file or a spec JSON object). Fields keep repart's meaning;
 * sizes are already parsed and rounded the way repart rounds them at parse time.
 */
import type { PartitionType } from "../formats/gpt/types.js";
import type { InlineEntry } from "../tree/compose.js";
import type { MetaOverride } from "../tree/transform.js";

/** gptimg's own tree keys (spec only; repart has no equivalent). */
export interface TreeOptions {
  /** Files, directories and symlinks written in the spec itself. */
  readonly entries: readonly InlineEntry[];
  /** Owner/group/mode per path or glob (`*`, `?`, `**`); later entries win. */
  readonly overrides: readonly MetaOverride[];
  /** uid/gid 0 for every entry: for directory input read by an unprivileged user. */
  readonly allRootOwned: boolean;
  /** Read xattrs of directory sources (default true). */
  readonly xattrs: boolean;
}

export type VerityMode = "off" | "data" | "hash" | "signature";
export type MinimizeMode = "off" | "best" | "guess";

export interface PartitionDefinition {
  /** Where it came from, for messages: "repart.d/10-root.conf" or "spec.json: partitions[2]". */
  readonly source: string;
  readonly type: PartitionType;
  /** Explicit label; undefined = default (type identifier with -2, -3 … suffixes). */
  readonly label: string | undefined;
  /** Explicit UUID; "null" = all zeros (repart UUID=null). */
  readonly uuid: string | undefined;
  readonly priority: number;
  readonly weight: number;
  readonly paddingWeight: number;
  readonly sizeMinBytes: number | undefined;
  readonly sizeMaxBytes: number | undefined;
  readonly paddingMinBytes: number | undefined;
  readonly paddingMaxBytes: number | undefined;
  readonly copyBlocks: string | undefined;
  readonly format: string | undefined;
  readonly copyFiles: readonly string[];
  readonly excludeFiles: readonly string[];
  readonly excludeFilesTarget: readonly string[];
  readonly makeDirectories: readonly string[];
  readonly verity: VerityMode;
  readonly verityMatchKey: string | undefined;
  readonly verityDataBlockSizeBytes: number | undefined;
  readonly verityHashBlockSizeBytes: number | undefined;
  readonly factoryReset: boolean;
  /** Flags= as given; NoAuto/ReadOnly/GrowFileSystem override single bits of it. */
  readonly flags: bigint | undefined;
  readonly noAuto: boolean | undefined;
  readonly readOnly: boolean | undefined;
  readonly growFileSystem: boolean | undefined;
  /** SplitName= template; undefined = "%t"; null = "-" (not split). */
  readonly splitName: string | null | undefined;
  readonly minimize: MinimizeMode;
  readonly compression: string | undefined;
  readonly compressionLevel: string | undefined;
  /** Spec-only tree options; undefined for repart.d definitions. */
  readonly tree?: TreeOptions;
}

export const DEFAULT_WEIGHT = 1000;

/** repart's partition_needs_populate(): CopyFiles= or MakeDirectories= present (or the spec's inline entries). */
export function needsPopulate(definition: PartitionDefinition): boolean {
  return definition.copyFiles.length > 0 || definition.makeDirectories.length > 0 || (definition.tree?.entries.length ?? 0) > 0;
}

export const READ_ONLY_FORMATS = new Set(["squashfs", "erofs", "iso9660"]);

export function isReadOnlyFormat(format: string | undefined): boolean {
  return format !== undefined && READ_ONLY_FORMATS.has(format);
}
