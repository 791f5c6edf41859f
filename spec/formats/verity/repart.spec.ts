/**
 * Differential with systemd-repart v257 (trixie chroot): for the same data (CopyBlocks=),
 * seed and block sizes, our hash partition content equals repart's, the root hash is the
 * data ‖ hash PARTUUIDs, and the signature partition names the same root hash (and, with an
 * RSA key, whose PKCS#1 v1.5 signatures are deterministic, is byte-identical).
 * Compared at the partition-content level: offsets come from `sfdisk -J` of repart's image.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex, toHex } from "../../../lib/core/bytes.js";
import { guidToBytes } from "../../../lib/core/guid.js";
import { repartVerityParameters, verityPartitionUuids } from "../../../lib/formats/verity/ids.js";
import { checkVeritySignaturePartition, parseVeritySignature, veritySignaturePartition } from "../../../lib/formats/verity/signature.js";
import { oraclesAvailable, runInTrixie, runOk, TRIXIE_ROOT } from "../../support/oracles.js";
import { makeKeyPairs } from "../../crypto/keys.js";
import { buildTree, sampleData } from "./support.js";

const haveOracles = oraclesAvailable("trixie", "root", "sfdisk", "mksquashfs", "openssl");
const SEED = "5f0c1d2e-3a4b-4c5d-8e6f-708192a3b4c5";
const work = haveOracles ? mkdtempSync(join(TRIXIE_ROOT, "tmp", "gptimg-verity-repart-")) : "";
const inChroot = (path: string) => path.slice(TRIXIE_ROOT.length);
afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

interface RepartRun { data: Uint8Array; hash: Uint8Array; signature: Uint8Array; dataUuid: string; hashUuid: string; rootHash: string }

function repart(name: string, dataPath: string, blockSizes: string, keyPath: string, certificatePath: string): RepartRun {
  const definitions = join(work, `${name}.d`);
  mkdirSync(definitions);
  writeFileSync(join(definitions, "10-root.conf"), `[Partition]\nType=root\nVerity=data\nVerityMatchKey=root\nCopyBlocks=${inChroot(dataPath)}\n${blockSizes}`);
  writeFileSync(join(definitions, "20-root-verity.conf"), `[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=root\n${blockSizes}`);
  writeFileSync(join(definitions, "30-root-verity-sig.conf"), "[Partition]\nType=root-verity-sig\nVerity=signature\nVerityMatchKey=root\n");
  const image = join(work, `${name}.raw`);
  const result = runInTrixie("systemd-repart", ["--empty=create", "--size=auto", `--seed=${SEED}`, `--definitions=${inChroot(definitions)}`, "--dry-run=no", "--offline=yes",
    `--private-key=${inChroot(keyPath)}`, `--certificate=${inChroot(certificatePath)}`, "--json=short", inChroot(image)]);
  if (result.status !== 0) throw new Error(`systemd-repart failed: ${result.stderr}`);
  const rootHash = (JSON.parse(result.stdout) as { roothash?: string }[])[0]!.roothash!;
  const table = JSON.parse(runOk("sfdisk", ["-J", image])) as { partitiontable: { sectorsize: number; partitions: { start: number; size: number; uuid: string; name: string }[] } };
  const bytes = readFileSync(image);
  const sector = table.partitiontable.sectorsize;
  const [data, hash, signature] = table.partitiontable.partitions.map((partition) => bytes.subarray(partition.start * sector, (partition.start + partition.size) * sector));
  const [dataEntry, hashEntry] = table.partitiontable.partitions;
  return { data: data!, hash: hash!, signature: signature!, dataUuid: dataEntry!.uuid.toLowerCase(), hashUuid: hashEntry!.uuid.toLowerCase(), rootHash };
}

async function compare(run: RepartRun, dataBlockSize: number, hashBlockSize: number): Promise<void> {
  const seed = guidToBytes(SEED);
  const ours = await buildTree(run.data, repartVerityParameters(seed, dataBlockSize, hashBlockSize), { concurrency: 2, batchBytes: 64 * 1024 });
  expect(ours.rootHash).toBe(run.rootHash);
  expect(run.hash.length).toBeGreaterThanOrEqual(ours.image.length);
  expect(Buffer.compare(run.hash.subarray(0, ours.image.length), ours.image)).toBe(0);
  expect(run.hash.subarray(ours.image.length).every((byte) => byte === 0)).toBe(true);
  expect(verityPartitionUuids(fromHex(ours.rootHash))).toEqual({ data: run.dataUuid, hash: run.hashUuid });
  expect(toHex(parseVeritySignature(run.signature).rootHash)).toBe(ours.rootHash);
}

describe.skipIf(!haveOracles)("verity vs systemd-repart v257", () => {
  const pairs = haveOracles ? makeKeyPairs(work) : undefined!;

  it("squashfs data, default 4096 blocks, RSA: hash partition and signature partition identical", async () => {
    const tree = join(work, "tree");
    mkdirSync(join(tree, "usr/bin"), { recursive: true });
    writeFileSync(join(tree, "usr/bin/blob"), sampleData(300_000, 5));
    writeFileSync(join(tree, "usr/list"), Array.from({ length: 20_000 }, (_, index) => `${index}\n`).join(""));
    const squashfs = join(work, "root.squashfs");
    runOk("mksquashfs", [tree, squashfs, "-noappend", "-quiet", "-all-root"]);
    const run = repart("squashfs", squashfs, "", pairs.rsa.keyPath, pairs.rsa.certificatePath);
    await compare(run, 4096, 4096);
    const ours = veritySignaturePartition(fromHex(run.rootHash), pairs.rsa);
    expect(Buffer.compare(run.signature, ours)).toBe(0);
  });

  it("zero-heavy data not a multiple of 4096, 512/1024 blocks, EC P-256", async () => {
    const dataPath = join(work, "data.img");
    writeFileSync(dataPath, sampleData(700 * 1024 + 512, 9, true));
    const run = repart("blocks", dataPath, "VerityDataBlockSizeBytes=512\nVerityHashBlockSizeBytes=1024\n", pairs.ec.keyPath, pairs.ec.certificatePath);
    await compare(run, 512, 1024);
    const theirs = parseVeritySignature(run.signature);
    const ours = parseVeritySignature(veritySignaturePartition(fromHex(run.rootHash), pairs.ec));
    expect(theirs.certificateFingerprint).toBe(ours.certificateFingerprint);
    expect(checkVeritySignaturePartition(run.signature, fromHex(run.rootHash), pairs.ec.certificatePem)).toEqual([]);
  });
});
