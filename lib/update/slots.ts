/**
 * A/B(/C) update slots (issue 8). The spec declares each versioned partition once, with
 * `slots: N` on its data partition (verity hash and signature siblings follow it); this module
 * turns that into:
 *
 * - the image's definitions: slot A holds this version, labelled from the label template
 *   (default "%M_%A", "%M_%A_verity", "%M_%A_verity_sig" — mkosi's convention), every slot
 *   exactly `slotSize` (hash slots: the tree of a full data slot; signature slots 16 KiB), and
 *   the other slots as `_empty` partitions of the same sizes — in the image, or created by
 *   systemd-repart at first boot (`emptySlots: "first-boot"`);
 * - what sysupdate needs to know about each slotted partition (label and artifact patterns),
 *   from which lib/update/on-device.ts writes the transfers and repart.d files.
 *
 * The verity tree of slot A covers the whole slot (repart semantics), so an artifact is always
 * exactly one slot: it fits every slot of its group by construction.
 */
import { ErrorCode, fail } from "../core/errors.js";
import { alignUp } from "../core/int.js";
import type { PartitionType } from "../formats/gpt/types.js";
import { planVerity } from "../formats/verity/plan.js";
import { VERITY_SIGNATURE_PARTITION_SIZE_BYTES } from "../formats/verity/signature.js";
import { expandLabelSpecifiers, labelFitsGpt } from "../input/specifiers.js";
import type { PartitionDefinition } from "../plan/definition.js";
import { mergeFlags } from "../plan/layout.js";

export type ArtifactCompression = "zstd" | "gzip" | "none";
export type EmptySlotPlacement = "image" | "first-boot";

/** repart.d keys for the partition as first boot sees it (spec `runtime`). */
export interface RuntimeKeys {
  readonly sizeMinBytes: number | undefined;
  readonly sizeMaxBytes: number | undefined;
  readonly weight: number | undefined;
  readonly paddingWeight: number | undefined;
  readonly factoryReset: boolean | undefined;
  readonly format: string | undefined;
  readonly encrypt: string | undefined;
  readonly label: string | undefined;
  readonly makeDirectories: readonly string[];
}

export interface PartitionUpdateKeys {
  readonly slots: number | undefined;
  readonly slotSizeBytes: number | undefined;
  readonly emptySlots: EmptySlotPlacement | undefined;
  /** false: not in the image, created by systemd-repart at first boot. */
  readonly inImage: boolean;
  readonly runtime: RuntimeKeys | undefined;
}

export interface UpdateSettings {
  /** sysupdate [Source]: where devices find the artifacts. */
  readonly source: { readonly type: "url-file" | "url-tar" | "regular-file" | "directory" | "tar"; readonly path: string };
  /** The partition whose tree gets /usr/lib/{repart,sysupdate}.d; undefined: usr if slotted, else root. */
  readonly definitionsIn: "usr" | "root" | "none" | undefined;
  /** UKIs kept in the ESP (the UKI transfer's InstancesMax=). */
  readonly instancesMax: number;
  readonly artifactCompression: readonly ArtifactCompression[];
  /** sysupdate Verify=: SHA256SUMS.gpg must be signed (gptimg does not sign it). */
  readonly verify: boolean;
  readonly transfers: boolean;
  readonly repartDefinitions: boolean;
  readonly transferSuffix: ".transfer" | ".conf";
}

/** One spec partition as the update planner sees it. */
export interface SpecPartition {
  readonly definition: PartitionDefinition;
  /** The label as written in the spec (specifiers unexpanded), if any. */
  readonly labelTemplate: string | undefined;
  readonly update: PartitionUpdateKeys | undefined;
}

export interface SlottedPartition {
  readonly specIndex: number;
  /** Index of slot A among the image's definitions. */
  readonly imageIndex: number;
  readonly type: PartitionType;
  readonly role: "data" | "hash" | "signature";
  readonly slots: number;
  readonly slotSizeBytes: number;
  readonly emptySlots: EmptySlotPlacement;
  /** sysupdate Target MatchPattern=, e.g. "myos_@v_verity". */
  readonly labelPattern: string;
  /** Artifact file name pattern without compression suffix, e.g. "myos_@v.usr-x86-64.@u.raw". */
  readonly artifactPattern: string;
  readonly flags: bigint;
}

/** A spec partition placed on the device: in the image, or created at first boot. */
export interface DevicePartition {
  readonly specIndex: number;
  readonly definition: PartitionDefinition;
  readonly labelTemplate: string | undefined;
  /** 0 = slot A (or not slotted), 1 = slot B … */
  readonly slot: number;
  readonly slotted: SlottedPartition | undefined;
  readonly inImage: boolean;
  readonly runtime: RuntimeKeys | undefined;
}

export interface SlotPlan {
  /** What the image is built from, in placement order. */
  readonly definitions: readonly PartitionDefinition[];
  /** Spec index → image index (undefined for partitions created at first boot). */
  readonly imageIndexOf: ReadonlyArray<number | undefined>;
  readonly slotted: readonly SlottedPartition[];
  /** Every partition the device ends up with, in repart.d order. */
  readonly device: readonly DevicePartition[];
}

export const EMPTY_SLOT_LABEL = "_empty";
const DEFAULT_TEMPLATES = { data: "%M_%A", hash: "%M_%A_verity", signature: "%M_%A_verity_sig" } as const;

export interface ImageIdentity {
  readonly imageId: string | undefined;
  readonly imageVersion: string | undefined;
  readonly architecture: string;
}

export function planSlots(partitions: readonly SpecPartition[], image: ImageIdentity, where: string): SlotPlan {
  const groups = slotGroups(partitions);
  const anySlots = groups.size > 0;
  if (anySlots && (image.imageId === undefined || image.imageVersion === undefined)) {
    fail(ErrorCode.Spec, `${where}: "slots" need "imageId" and "imageVersion"`, "labels, artifact names and sysupdate versions are made from them");
  }
  const slottedBySpec = new Map<number, Omit<SlottedPartition, "imageIndex">>();
  for (const [specIndex, group] of groups) slottedBySpec.set(specIndex, slottedPartition(partitions, specIndex, group, image));

  const definitions: PartitionDefinition[] = [];
  const imageIndexOf: Array<number | undefined> = [];
  const device: DevicePartition[] = [];
  const slotted: SlottedPartition[] = [];
  const pendingEmpty: SlottedPartition[] = [];
  const flushEmptySlots = (): void => {
    if (pendingEmpty.length === 0) return;
    for (let slot = 1; slot < pendingEmpty[0]!.slots; slot++) {
      for (const member of pendingEmpty) {
        const empty = emptySlotDefinition(partitions[member.specIndex]!.definition, member, slot);
        const inImage = member.emptySlots === "image";
        if (inImage) definitions.push(empty);
        device.push({ specIndex: member.specIndex, definition: empty, labelTemplate: EMPTY_SLOT_LABEL, slot, slotted: member, inImage, runtime: undefined });
      }
    }
    pendingEmpty.length = 0;
  };
  partitions.forEach((partition, specIndex) => {
    const info = slottedBySpec.get(specIndex);
    const group = groups.get(specIndex);
    // A group's empty slots go right after its last member: data, hash, signature of slot B, then slot C …
    if (pendingEmpty.length > 0 && group?.leader !== groups.get(pendingEmpty[0]!.specIndex)!.leader) flushEmptySlots();
    const inImage = partition.update?.inImage ?? true;
    let definition = partition.definition;
    if (info) {
      const label = expandLabelSpecifiers(info.labelPattern.replaceAll("@v", "%A"), image)!;
      if (!labelFitsGpt(label)) fail(ErrorCode.Spec, `${definition.source}.label: "${label}" is ${label.length} UTF-16 units, GPT labels hold at most 36`, "shorten the label template, imageId or imageVersion");
      definition = { ...definition, label, sizeMinBytes: info.slotSizeBytes, sizeMaxBytes: info.slotSizeBytes, source: `${definition.source} (slot A)` };
      if (!inImage) fail(ErrorCode.Spec, `${partition.definition.source}.inImage: slot A of a slotted partition is always in the image`, 'drop "inImage", or use "emptySlots": "first-boot" for the other slots');
    }
    if (inImage) {
      imageIndexOf[specIndex] = definitions.length;
      definitions.push(definition);
    } else imageIndexOf[specIndex] = undefined;
    const full = info ? { ...info, imageIndex: imageIndexOf[specIndex]! } : undefined;
    device.push({ specIndex, definition, labelTemplate: partition.labelTemplate, slot: 0, slotted: full, inImage, runtime: partition.update?.runtime });
    if (full) {
      slotted.push(full);
      pendingEmpty.push(full);
    }
  });
  flushEmptySlots();
  return { definitions, imageIndexOf, slotted, device };
}

interface Group {
  /** Spec index of the group's data partition. */
  readonly leader: number;
  readonly role: SlottedPartition["role"];
  readonly slots: number;
  readonly slotSizeBytes: number | undefined;
  readonly emptySlots: EmptySlotPlacement;
}

/** Spec index → its slot group, for data partitions with `slots` and their verity siblings. */
function slotGroups(partitions: readonly SpecPartition[]): Map<number, Group> {
  const groups = new Map<number, Group>();
  partitions.forEach((partition, index) => {
    const { definition, update } = partition;
    if (update?.slots === undefined || definition.verity === "hash" || definition.verity === "signature") return;
    if (update.slotSizeBytes === undefined) fail(ErrorCode.Spec, `${definition.source}.slotSize: needed with "slots"`, 'every slot gets this size; the content must fit, e.g. "slotSize": "1G"');
    groups.set(index, { leader: index, role: "data", slots: update.slots, slotSizeBytes: update.slotSizeBytes, emptySlots: update.emptySlots ?? "image" });
  });
  partitions.forEach((partition, index) => {
    const { definition, update } = partition;
    if (definition.verity !== "hash" && definition.verity !== "signature") return;
    const leader = [...groups.values()].find((group) => partitions[group.leader]!.definition.verity === "data" && partitions[group.leader]!.definition.verityMatchKey === definition.verityMatchKey);
    if (!leader) {
      if (update?.slots !== undefined) fail(ErrorCode.Spec, `${definition.source}.slots: give "slots" on the verity data partition (VerityMatchKey=${definition.verityMatchKey})`, "its hash and signature partitions follow it");
      return;
    }
    if (update?.slots !== undefined && update.slots !== leader.slots) fail(ErrorCode.Spec, `${definition.source}.slots: ${update.slots}, but its data partition has ${leader.slots}`, 'drop "slots" here: verity siblings follow their data partition');
    if (update?.slotSizeBytes !== undefined) fail(ErrorCode.Spec, `${definition.source}.slotSize: set by its data partition`, "hash slots hold the tree of a full data slot, signature slots are 16 KiB");
    groups.set(index, { ...leader, role: definition.verity === "hash" ? "hash" : "signature", slotSizeBytes: undefined });
  });
  return groups;
}

function slottedPartition(partitions: readonly SpecPartition[], specIndex: number, group: Group, image: ImageIdentity): Omit<SlottedPartition, "imageIndex"> {
  const { definition, labelTemplate } = partitions[specIndex]!;
  let slotSizeBytes: number;
  if (group.role === "data") slotSizeBytes = group.slotSizeBytes!;
  else if (group.role === "signature") slotSizeBytes = VERITY_SIGNATURE_PARTITION_SIZE_BYTES;
  else {
    const tree = planVerity(partitions[group.leader]!.update!.slotSizeBytes!, {
      dataBlockSize: definition.verityDataBlockSizeBytes ?? 4096,
      hashBlockSize: definition.verityHashBlockSizeBytes ?? 4096,
      algorithm: "sha256",
    }, definition.source);
    slotSizeBytes = alignUp(tree.hashImageSizeBytes, 4096);
  }
  const template = labelTemplate ?? DEFAULT_TEMPLATES[group.role];
  if (!template.includes("%A")) fail(ErrorCode.Spec, `${definition.source}.label: "${template}" has no %A`, 'slotted partitions are told apart by version: use e.g. "%M_%A"');
  const labelPattern = expandLabelSpecifiers(template.replaceAll("%A", "\u0000"), { ...image, imageVersion: "" });
  if (labelPattern === undefined) fail(ErrorCode.Spec, `${definition.source}.label: "${template}" uses a specifier without a value`, "use %M, %A, %a or %%");
  const typeName = definition.type.name ?? definition.type.uuid;
  return {
    specIndex,
    type: definition.type,
    role: group.role,
    slots: group.slots,
    slotSizeBytes,
    emptySlots: group.emptySlots,
    labelPattern: labelPattern.replaceAll("\u0000", "@v"),
    artifactPattern: `${image.imageId}_@v.${typeName}.@u.raw`,
    flags: mergeFlags(definition, definition.type),
  };
}

function emptySlotDefinition(base: PartitionDefinition, info: SlottedPartition, slot: number): PartitionDefinition {
  return {
    source: `${base.source} (slot ${String.fromCharCode(65 + slot)}, ${EMPTY_SLOT_LABEL})`,
    type: base.type,
    label: EMPTY_SLOT_LABEL,
    uuid: undefined,
    priority: base.priority,
    weight: 0,
    paddingWeight: 0,
    sizeMinBytes: info.slotSizeBytes,
    sizeMaxBytes: info.slotSizeBytes,
    paddingMinBytes: undefined,
    paddingMaxBytes: undefined,
    copyBlocks: undefined,
    format: undefined,
    copyFiles: [],
    excludeFiles: [],
    excludeFilesTarget: [],
    makeDirectories: [],
    verity: "off",
    verityMatchKey: undefined,
    verityDataBlockSizeBytes: undefined,
    verityHashBlockSizeBytes: undefined,
    factoryReset: false,
    flags: undefined,
    noAuto: undefined,
    readOnly: undefined,
    growFileSystem: undefined,
    splitName: null,
    minimize: "off",
    compression: undefined,
    compressionLevel: undefined,
  };
}
