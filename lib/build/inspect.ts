/** Reads an image's partition table into a report; damage becomes findings, never exceptions. */
import { stat } from "node:fs/promises";
import { ErrorCode, fail } from "../core/errors.js";
import { readGpt } from "../formats/gpt/decode.js";
import { describePartitionType } from "../formats/gpt/types.js";
import { FileSliceSource } from "../io/source.js";

export interface InspectReport {
  readonly image: string;
  readonly sizeBytes: number;
  readonly sectorSize: number | undefined;
  readonly diskGuid: string | undefined;
  readonly firstUsableLba: number | undefined;
  readonly lastUsableLba: number | undefined;
  readonly partitions: ReadonlyArray<{
    index: number; type: string; typeUuid: string; uuid: string; label: string;
    firstLba: number; lastLba: number; offsetBytes: number; sizeBytes: number; attributes: string; flags: string[];
  }>;
  /**
   * dm-verity pairs found by DPS type (root-X with root-X-verity, usr-X with usr-X-verity);
   * by the DPS convention their PARTUUIDs together are the root hash (`gptimg verify` checks it).
   */
  readonly verity: ReadonlyArray<{ data: number; hash: number; rootHash: string; kernelCommandLine: string }>;
  readonly findings: ReadonlyArray<{ severity: string; message: string }>;
}

const FLAG_NAMES: ReadonlyArray<[bigint, string]> = [[1n, "required"], [2n, "no-block-io"], [4n, "legacy-bios-bootable"], [1n << 59n, "grow-fs"], [1n << 60n, "read-only"], [1n << 63n, "no-auto"]];

export async function inspectImage(path: string): Promise<InspectReport> {
  let sizeBytes: number;
  try {
    sizeBytes = (await stat(path)).size;
  } catch (error) {
    return fail(ErrorCode.Image, `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path");
  }
  const probe = await readGpt(new FileSliceSource(path, 0, sizeBytes));
  const gpt = probe.gpt;
  return {
    image: path,
    sizeBytes,
    sectorSize: gpt?.sectorSize,
    diskGuid: gpt?.header.diskGuid,
    firstUsableLba: gpt?.header.firstUsableLba,
    lastUsableLba: gpt?.header.lastUsableLba,
    partitions: (gpt?.entries ?? []).map((entry) => ({
      index: entry.slot + 1,
      type: describePartitionType(entry.typeUuid).name ?? "unknown",
      typeUuid: entry.typeUuid,
      uuid: entry.uuid,
      label: entry.label,
      firstLba: entry.firstLba,
      lastLba: entry.lastLba,
      offsetBytes: entry.firstLba * gpt!.sectorSize,
      sizeBytes: (entry.lastLba - entry.firstLba + 1) * gpt!.sectorSize,
      attributes: `0x${entry.attributes.toString(16).padStart(16, "0")}`,
      flags: FLAG_NAMES.filter(([bit]) => (entry.attributes & bit) !== 0n).map(([, name]) => name),
    })),
    verity: verityPairs(gpt?.entries ?? []),
    findings: probe.findings,
  };
}


function verityPairs(entries: ReadonlyArray<{ slot: number; typeUuid: string; uuid: string }>): InspectReport["verity"] {
  const pairs: Array<InspectReport["verity"][number]> = [];
  for (const hash of entries) {
    const hashType = describePartitionType(hash.typeUuid);
    if (hashType.designator !== "root-verity" && hashType.designator !== "usr-verity") continue;
    const dataDesignator = hashType.designator === "root-verity" ? "root" : "usr";
    const rootHashSuffix = hash.uuid.replaceAll("-", "");
    for (const data of entries) {
      const dataType = describePartitionType(data.typeUuid);
      if (dataType.designator !== dataDesignator || dataType.architecture !== hashType.architecture) continue;
      const rootHash = data.uuid.replaceAll("-", "") + rootHashSuffix;
      pairs.push({ data: data.slot + 1, hash: hash.slot + 1, rootHash, kernelCommandLine: `${dataDesignator === "usr" ? "usrhash" : "roothash"}=${rootHash}` });
    }
  }
  return pairs;
}
