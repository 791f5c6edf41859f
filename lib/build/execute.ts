/**
 * Writes planned partitions into an image in dependency order: plain contents first, verity
 * data partitions hashed while they are written (no second read), then their hash
 * partitions, then signature partitions. Verity data/hash partitions without an explicit
 * UUID take theirs from the root hash (DPS: first and last 128 bits).
 */
import { concatBytes, toHex } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import { guidToBytes } from "../core/guid.js";
import { formatSize } from "../core/size.js";
import { VerityHasher, type VerityResult } from "../formats/verity/build.js";
import { verityPartitionUuids } from "../formats/verity/ids.js";
import { VERITY_SIGNATURE_PARTITION_SIZE_BYTES, veritySignaturePartition, type SigningKey } from "../formats/verity/signature.js";
import type { BlockSink } from "../io/sink.js";
import { OffsetSink, TeeSink, writeZeros, type SequentialSink } from "../io/stream.js";
import type { Layout, PlannedPartition } from "../plan/layout.js";
import type { PartitionContent } from "./content.js";

export interface ExecuteOptions {
  readonly contents: ReadonlyMap<PlannedPartition, PartitionContent>;
  readonly veritySalt: Uint8Array;
  readonly verityUuid: string;
  readonly concurrency: number;
  readonly signingKey: SigningKey | undefined;
  /**
   * Sign later (repart v258 --join-signature=): ready signature partitions by lowercase hex
   * root hash, used instead of signing with `signingKey`.
   */
  readonly joinedSignatures?: ReadonlyMap<string, Uint8Array>;
  /** Existing images may hold old bytes where new partitions go: write their zeros too. */
  readonly zeroFill: boolean;
  readonly progress?: (doneBytes: number, totalBytes: number) => void;
}

export interface VerityOutcome {
  readonly matchKey: string;
  readonly rootHash: Uint8Array;
  readonly data: PlannedPartition;
  readonly hash: PlannedPartition;
  readonly signature: PlannedPartition | undefined;
}

export interface ExecuteResult {
  readonly finalUuids: ReadonlyMap<PlannedPartition, string>;
  readonly verity: readonly VerityOutcome[];
}

function window(sink: BlockSink, partition: PlannedPartition): OffsetSink {
  return new OffsetSink(sink, partition.offsetBytes, partition.sizeBytes, `partition ${partition.slot + 1} (${partition.label})`);
}

export async function writePartitions(layout: Layout, sink: BlockSink, options: ExecuteOptions): Promise<ExecuteResult> {
  const fresh = layout.partitions.filter((partition) => !partition.exists && partition.definition);
  const verityOf = (mode: string) => fresh.filter((partition) => partition.definition!.verity === mode);
  const totalBytes = fresh.reduce((sum, partition) => sum + (options.contents.get(partition)?.minimumBytes ?? 0), 0);
  let doneBytes = 0;
  const track = (target: SequentialSink): SequentialSink => ({
    get position() {
      return target.position;
    },
    async write(bytes) {
      await target.write(bytes);
      doneBytes += bytes.length;
      options.progress?.(Math.min(doneBytes, totalBytes), totalBytes);
    },
  });

  for (const partition of fresh) {
    const verity = partition.definition!.verity;
    if (verity !== "off") continue;
    const content = options.contents.get(partition);
    if (content?.needsVerity) continue;
    const target = window(sink, partition);
    if (content) await content.write(track(target), partition.sizeBytes, { verity: [] });
    if (options.zeroFill) await writeZeros(target, partition.sizeBytes - target.position);
  }

  const results = new Map<string, VerityResult>();
  for (const partition of verityOf("data")) {
    const hasher = new VerityHasher(
      { dataBlockSize: partition.verityDataBlockSize, hashBlockSize: partition.verityHashBlockSize, algorithm: "sha256", salt: options.veritySalt, uuid: options.verityUuid, hashType: 1 },
      { concurrency: options.concurrency },
    );
    const target = window(sink, partition);
    const tee = new TeeSink([target, hasher]);
    const content = options.contents.get(partition);
    if (content) await content.write(track(tee), partition.sizeBytes, { verity: [] });
    // The tree covers the whole partition, zero tail included (repart semantics).
    await writeZeros(tee, partition.sizeBytes - tee.position);
    results.set(partition.definition!.verityMatchKey!, await hasher.finish());
  }

  const finalUuids = new Map<PlannedPartition, string>();
  const outcomes: VerityOutcome[] = [];
  for (const hashPartition of verityOf("hash")) {
    const matchKey = hashPartition.definition!.verityMatchKey!;
    const result = results.get(matchKey);
    const data = layout.partitions.find((partition) => partition.definition?.verity === "data" && partition.definition.verityMatchKey === matchKey);
    if (!result || !data) fail(ErrorCode.Verity, `${hashPartition.definition!.source}: its verity data partition (VerityMatchKey=${matchKey}) is not being written`, "create data and hash partitions together");
    if (result.hashImage.sizeBytes > hashPartition.sizeBytes) {
      fail(ErrorCode.Verity, `${hashPartition.definition!.source}: the verity hash tree needs ${formatSize(result.hashImage.sizeBytes)} (${result.hashImage.sizeBytes} bytes) but the partition has ${formatSize(hashPartition.sizeBytes)}`, `set SizeMinBytes=${result.hashImage.sizeBytes} or Minimize=best on the hash partition`);
    }
    const target = window(sink, hashPartition);
    await result.hashImage.write(target);
    if (options.zeroFill) await writeZeros(target, hashPartition.sizeBytes - target.position);
    const uuids = verityPartitionUuids(result.rootHash);
    if (data.uuidFromRootHash) finalUuids.set(data, uuids.data);
    if (hashPartition.uuidFromRootHash) finalUuids.set(hashPartition, uuids.hash);
    const signature = verityOf("signature").find((partition) => partition.definition!.verityMatchKey === matchKey);
    outcomes.push({ matchKey, rootHash: result.rootHash, data, hash: hashPartition, signature });
  }

  for (const partition of verityOf("signature")) {
    const matchKey = partition.definition!.verityMatchKey;
    const rootHash = outcomes.find((candidate) => candidate.signature === partition)?.rootHash ?? existingRootHash(layout, matchKey);
    if (!rootHash) fail(ErrorCode.Verity, `${partition.definition!.source}: no verity hash partition with VerityMatchKey=${matchKey} is being written`, "add Verity=data and Verity=hash partitions with the same key");
    const joined = options.joinedSignatures?.get(toHex(rootHash));
    if (!joined && !options.signingKey) fail(ErrorCode.Signing, `${partition.definition!.source}: a verity signature partition needs a private key and certificate`, "pass --private-key= and --certificate=, or defer it (--defer-partitions=) and join a signature later (--join-signature=)");
    if (partition.sizeBytes < VERITY_SIGNATURE_PARTITION_SIZE_BYTES) fail(ErrorCode.Verity, `${partition.definition!.source}: signature partition is ${partition.sizeBytes} bytes`, "it must be 16 KiB");
    await window(sink, partition).write(joined ?? veritySignaturePartition(rootHash, options.signingKey!));
  }

  // Contents that embed root hashes (the ESP with its UKI) come last.
  const dependencies = { verity: outcomes.map((outcome) => ({ designator: verityDesignator(outcome.data), rootHash: outcome.rootHash })) };
  for (const partition of fresh) {
    const content = options.contents.get(partition);
    if (!content?.needsVerity) continue;
    const target = window(sink, partition);
    await content.write(track(target), partition.sizeBytes, dependencies);
    if (options.zeroFill) await writeZeros(target, partition.sizeBytes - target.position);
  }
  return { finalUuids, verity: outcomes };
}

/** roothash= for a root data partition, usrhash= for usr (systemd-veritysetup-generator). */
export function verityDesignator(data: PlannedPartition): "root" | "usr" | undefined {
  const designator = data.type.designator;
  return designator === "root" || designator === "usr" ? designator : undefined;
}

/**
 * Sign later on an image whose data and hash partitions already exist (repart v258
 * `partition_format_verity_sig`, `iovec_roothash_from_uuid_pair`): their PARTUUIDs are the
 * root hash's first and last 128 bits (DPS), so together they are the sha256 root hash.
 */
function existingRootHash(layout: Layout, matchKey: string | undefined): Uint8Array | undefined {
  const existing = (mode: string): PlannedPartition | undefined => layout.partitions.find((partition) => partition.exists && partition.definition?.verity === mode && partition.definition.verityMatchKey === matchKey);
  const data = existing("data");
  const hash = existing("hash");
  return data && hash ? concatBytes([guidToBytes(data.uuid), guidToBytes(hash.uuid)]) : undefined;
}
