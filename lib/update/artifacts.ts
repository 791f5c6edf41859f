/**
 * Update artifacts (issue 8): slot A of every slotted partition and the UKI, named the way the
 * generated sysupdate transfers match them, compressed, listed in SHA256SUMS (the file
 * systemd-sysupdate checks downloads against) and described by manifest.json (what
 * `gptimg update` reads). The directory is made under a temporary name and renamed when
 * complete.
 *
 * zstd: one frame per MiB compressed on worker threads and written in order (a zstd file may be
 * any sequence of frames, RFC 8878 §3.1, and libzstd's streaming decoder reads them all);
 * gzip: one member through node:zlib (systemd's importer stops at the end of the first member).
 * The partition is read once for all formats.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { toHex } from "../core/bytes.js";
import { CompressionPool } from "../compress/pool.js";
import { ErrorCode, fail } from "../core/errors.js";
import { temporaryPathFor } from "../io/sink.js";
import type { Layout, PlannedPartition } from "../plan/layout.js";
import { COMPRESSION_SUFFIX, ukiArtifactPattern, ukiTargetPatterns, type UkiTransfer } from "./on-device.js";
import type { ArtifactCompression, SlottedPartition } from "./slots.js";

export const MANIFEST_NAME = "manifest.json";
export const SUMS_NAME = "SHA256SUMS";
export const MANIFEST_FORMAT = "gptimg-artifacts/1";
const CHUNK_BYTES = 1024 * 1024;
const ZSTD_LEVEL = 3;
const GZIP_LEVEL = 6;

export interface ArtifactFile {
  readonly name: string;
  readonly compression: ArtifactCompression;
  readonly sizeBytes: number;
  readonly sha256: string;
}

export interface PartitionArtifact {
  readonly type: string;
  readonly typeUuid: string;
  readonly role: SlottedPartition["role"];
  readonly label: string;
  readonly labelPattern: string;
  readonly uuid: string;
  /** GPT attribute bits, decimal (a 64-bit value). */
  readonly flags: string;
  /** Uncompressed size: always one slot. */
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly slots: number;
  readonly files: readonly ArtifactFile[];
}

export interface UkiArtifact {
  readonly name: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly id: string;
  readonly triesLeft: number | undefined;
  readonly instancesMax: number;
  readonly targetPatterns: readonly string[];
}

export interface ArtifactManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly imageId: string;
  readonly imageVersion: string;
  readonly architecture: string;
  readonly partitions: readonly PartitionArtifact[];
  readonly uki: UkiArtifact | undefined;
}

export interface ArtifactRequest {
  readonly directory: string;
  readonly imagePath: string;
  readonly layout: Layout;
  readonly finalUuids: ReadonlyMap<PlannedPartition, string>;
  readonly slotted: readonly SlottedPartition[];
  readonly compressions: readonly ArtifactCompression[];
  readonly imageId: string;
  readonly imageVersion: string;
  readonly architecture: string;
  /** The UKI as composed into the ESP, if the spec has a boot section. */
  readonly uki: { readonly path: string; readonly transfer: UkiTransfer } | undefined;
  readonly concurrency: number;
}

/** Fills in @v and @u (32 hex digits, as repart's %U) of an artifact pattern. */
export function artifactName(pattern: string, version: string, uuid: string): string {
  return pattern.replaceAll("@v", version).replaceAll("@u", uuid.replaceAll("-", ""));
}

export async function writeArtifacts(request: ArtifactRequest): Promise<ArtifactManifest> {
  const directory = request.directory;
  await checkArtifactDirectory(directory);
  await rm(directory, { recursive: true, force: true });
  const temporary = temporaryPathFor(directory);
  await rm(temporary, { recursive: true, force: true });
  await mkdir(temporary, { recursive: true });
  try {
    const partitions: PartitionArtifact[] = [];
    for (const slotted of request.slotted) {
      const partition = request.layout.partitions.find((candidate) => candidate.definitionIndex === slotted.imageIndex);
      if (!partition) fail(ErrorCode.Layout, `${slotted.type.name}: slot A was not written`, "artifacts need the whole slot group in the image");
      const uuid = request.finalUuids.get(partition) ?? partition.uuid;
      const stem = artifactName(slotted.artifactPattern, request.imageVersion, uuid);
      const names = request.compressions.map((compression) => `${stem}${COMPRESSION_SUFFIX[compression]}`);
      const written = await compressRange(request.imagePath, partition.offsetBytes, partition.sizeBytes, request.compressions.map((compression, index) => ({ path: join(temporary, names[index]!), compression })), request.concurrency);
      const files: ArtifactFile[] = request.compressions.map((compression, index) => ({ name: names[index]!, compression, ...written.files[index]! }));
      const sha256 = written.rawSha256;
      partitions.push({
        type: slotted.type.name ?? slotted.type.uuid,
        typeUuid: slotted.type.uuid,
        role: slotted.role,
        label: partition.label,
        labelPattern: slotted.labelPattern,
        uuid,
        flags: String(partition.attributes),
        sizeBytes: partition.sizeBytes,
        sha256,
        slots: slotted.slots,
        files,
      });
    }
    let uki: UkiArtifact | undefined;
    if (request.uki) {
      const name = artifactName(ukiArtifactPattern(request.uki.transfer), request.imageVersion, "");
      const written = (await compressRange(request.uki.path, 0, (await stat(request.uki.path)).size, [{ path: join(temporary, name), compression: "none" }], 1)).files[0]!;
      uki = { name, sizeBytes: written.sizeBytes, sha256: written.sha256, id: request.uki.transfer.id, triesLeft: request.uki.transfer.triesLeft, instancesMax: request.uki.transfer.instancesMax, targetPatterns: ukiTargetPatterns(request.uki.transfer) };
    }
    const manifest: ArtifactManifest = { format: MANIFEST_FORMAT, imageId: request.imageId, imageVersion: request.imageVersion, architecture: request.architecture, partitions, uki };
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    await writeFile(join(temporary, MANIFEST_NAME), manifestText);
    const sums = [
      ...partitions.flatMap((partition) => partition.files.map((file) => [file.sha256, file.name] as const)),
      ...(uki ? [[uki.sha256, uki.name] as const] : []),
      [toHex(createHash("sha256").update(manifestText).digest()), MANIFEST_NAME] as const,
    ].sort((left, right) => (left[1] < right[1] ? -1 : left[1] > right[1] ? 1 : 0));
    await writeFile(join(temporary, SUMS_NAME), sums.map(([hash, name]) => `${hash}  ${name}\n`).join(""));
    await rename(temporary, directory);
    return manifest;
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
}

/** The artifact directory must be new or empty: artifact sets are never mixed. Checked before composing, too. */
export async function checkArtifactDirectory(directory: string): Promise<void> {
  const entries = await readdir(directory).catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? [] : fail(ErrorCode.Io, `${directory}: cannot read (${error.code})`, "give a new directory for the artifacts")));
  if (entries.length > 0) fail(ErrorCode.Io, `${directory}: already exists and is not empty, refusing to mix artifact sets`, "give a new directory, or remove it first");
}

interface CompressedOutputs {
  readonly rawSha256: string;
  /** Size and sha256 of each output, in the order given. */
  readonly files: ReadonlyArray<{ readonly sizeBytes: number; readonly sha256: string }>;
}

/**
 * Compresses bytes [offset, offset+length) of `inputPath` into every output in one read of the
 * input: each chunk goes to every output's stream (waiting for the slowest), and the input is
 * hashed once.
 */
async function compressRange(inputPath: string, offsetBytes: number, lengthBytes: number, outputs: ReadonlyArray<{ readonly path: string; readonly compression: ArtifactCompression }>, concurrency: number): Promise<CompressedOutputs> {
  const raw = createHash("sha256");
  const lanes = outputs.map((output) => {
    // Object mode keeps the read chunks as they are: each becomes one zstd frame, whatever the timing.
    const input = new PassThrough({ objectMode: true, highWaterMark: 2 });
    const packed = createHash("sha256");
    let sizeBytes = 0;
    const emit = async function* (chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const chunk of chunks) {
        packed.update(chunk);
        sizeBytes += chunk.length;
        yield chunk;
      }
    };
    const file = createWriteStream(output.path, { flags: "wx" });
    const done = output.compression === "gzip" ? pipeline(input, createGzip({ level: GZIP_LEVEL }), emit, file)
      : output.compression === "zstd" ? pipeline(input, (chunks: AsyncIterable<Uint8Array>) => zstdFrames(chunks, concurrency), emit, file)
        : pipeline(input, emit, file);
    return { input, done, result: () => ({ sizeBytes, sha256: toHex(packed.digest()) }) };
  });
  try {
    if (lengthBytes > 0) {
      for await (const chunk of createReadStream(inputPath, { start: offsetBytes, end: offsetBytes + lengthBytes - 1, highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
        raw.update(chunk);
        for (const lane of lanes) {
          if (!lane.input.write(chunk)) await Promise.race([once(lane.input, "drain"), lane.done]);
        }
      }
    }
    for (const lane of lanes) lane.input.end();
    await Promise.all(lanes.map((lane) => lane.done));
  } catch (error) {
    for (const lane of lanes) lane.input.destroy(error as Error);
    await Promise.allSettled(lanes.map((lane) => lane.done));
    throw error;
  }
  return { rawSha256: toHex(raw.digest()), files: lanes.map((lane) => lane.result()) };
}

/** One zstd frame per input chunk, compressed on workers, yielded in input order. */
async function* zstdFrames(chunks: AsyncIterable<Uint8Array>, concurrency: number): AsyncGenerator<Uint8Array> {
  const pool = new CompressionPool("zstd", ZSTD_LEVEL, concurrency);
  const inFlight: Array<Promise<{ bytes: Uint8Array }>> = [];
  try {
    for await (const chunk of chunks) {
      inFlight.push(pool.compress(new Uint8Array(chunk), true));
      if (inFlight.length >= concurrency * 2) yield (await inFlight.shift()!).bytes;
    }
    while (inFlight.length > 0) yield (await inFlight.shift()!).bytes;
  } finally {
    await Promise.allSettled(inFlight);
    await pool.close();
  }
}
