/**
 * Reading an artifact directory back (`gptimg update --from DIR`): manifest.json checked for
 * shape, every file it names checked against SHA256SUMS and the manifest, so nothing from the
 * directory is used before its checksum is known to match.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { toHex } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import { MANIFEST_FORMAT, MANIFEST_NAME, SUMS_NAME, type ArtifactFile, type ArtifactManifest } from "./artifacts.js";

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    return fail(ErrorCode.Input, `${path}: cannot read ${what} (${(error as NodeJS.ErrnoException).code ?? error})`, "point --from at a directory made by `gptimg compose --artifacts`");
  }
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(chunk);
  } catch (error) {
    return fail(ErrorCode.Input, `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "the artifact directory is incomplete");
  }
  return toHex(hash.digest());
}

/** SHA256SUMS as sha256sum(1) writes it: "HEX  NAME" or "HEX *NAME". */
export function parseSums(text: string, where: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!match) fail(ErrorCode.Input, `${where}:${index + 1}: not a sha256sum line`, 'lines look like "<64 hex digits>  <file name>"');
    sums.set(match[2]!, match[1]!.toLowerCase());
  });
  return sums;
}

function checkManifestShape(value: unknown, where: string): ArtifactManifest {
  const manifest = value as Partial<ArtifactManifest> | null;
  if (!manifest || typeof manifest !== "object" || manifest.format !== MANIFEST_FORMAT) fail(ErrorCode.Input, `${where}: not a gptimg artifact manifest (format ${JSON.stringify(manifest?.format)})`, `expected "${MANIFEST_FORMAT}"; make it with gptimg compose --artifacts`);
  const text = (field: unknown) => typeof field === "string" && field !== "";
  if (!text(manifest.imageId) || !text(manifest.imageVersion) || !text(manifest.architecture) || !Array.isArray(manifest.partitions)) fail(ErrorCode.Input, `${where}: imageId, imageVersion, architecture or partitions missing`, "the manifest is damaged: rebuild the artifacts");
  manifest.partitions.forEach((partition, index) => {
    const ok = partition && text(partition.typeUuid) && text(partition.label) && text(partition.labelPattern) && text(partition.uuid) && text(partition.sha256) && Number.isSafeInteger(partition.sizeBytes) && /^\d+$/.test(String(partition.flags)) && Array.isArray(partition.files) && partition.files.length > 0
      && partition.files.every((file: ArtifactFile) => file && text(file.name) && !file.name.includes("/") && text(file.sha256) && ["zstd", "gzip", "none"].includes(file.compression));
    if (!ok) fail(ErrorCode.Input, `${where}: partitions[${index}] is incomplete`, "the manifest is damaged: rebuild the artifacts");
  });
  const uki = manifest.uki;
  if (uki !== undefined && uki !== null && !(text(uki.name) && !uki.name.includes("/") && text(uki.sha256) && text(uki.id) && Number.isInteger(uki.instancesMax) && Array.isArray(uki.targetPatterns))) fail(ErrorCode.Input, `${where}: uki is incomplete`, "the manifest is damaged: rebuild the artifacts");
  return { ...manifest, uki: uki ?? undefined } as ArtifactManifest;
}

export interface VerifiedArtifacts {
  readonly directory: string;
  readonly manifest: ArtifactManifest;
  /** The file used for each manifest partition (zstd preferred, then gzip, then raw). */
  readonly files: readonly ArtifactFile[];
}

const PREFERENCE = ["zstd", "gzip", "none"] as const;

export async function readArtifacts(directory: string): Promise<VerifiedArtifacts> {
  const sumsPath = join(directory, SUMS_NAME);
  const sums = parseSums(await readText(sumsPath, SUMS_NAME), sumsPath);
  const manifestPath = join(directory, MANIFEST_NAME);
  const manifestText = await readText(manifestPath, MANIFEST_NAME);
  const check = async (name: string, expected: string | undefined): Promise<void> => {
    const listed = sums.get(name);
    if (listed === undefined) fail(ErrorCode.Input, `${join(directory, name)}: not listed in ${SUMS_NAME}`, "refusing unverified artifacts; rebuild the artifact directory");
    const actual = await fileSha256(join(directory, name));
    if (actual !== listed) fail(ErrorCode.Input, `${join(directory, name)}: checksum mismatch (SHA256SUMS says ${listed.slice(0, 12)}…, the file is ${actual.slice(0, 12)}…)`, "the download is damaged or was altered: fetch it again");
    if (expected !== undefined && expected !== actual) fail(ErrorCode.Input, `${join(directory, name)}: checksum differs from ${MANIFEST_NAME}`, "the artifact set is mixed up: rebuild it");
  };
  await check(MANIFEST_NAME, undefined);
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestText);
  } catch (error) {
    return fail(ErrorCode.Input, `${manifestPath}: not valid JSON (${(error as Error).message})`, "rebuild the artifacts");
  }
  const manifest = checkManifestShape(parsed, manifestPath);
  const files: ArtifactFile[] = [];
  for (const partition of manifest.partitions) {
    const file = PREFERENCE.map((compression) => partition.files.find((candidate) => candidate.compression === compression && sums.has(candidate.name))).find((candidate) => candidate !== undefined) ?? partition.files[0]!;
    await check(file.name, file.sha256);
    files.push(file);
  }
  if (manifest.uki) await check(manifest.uki.name, manifest.uki.sha256);
  return { directory, manifest, files };
}
