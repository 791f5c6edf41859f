/**
 * Boot test A image: GPT with an ESP (systemd-boot + a UKI written by gptimg's PE writer), a
 * root partition (squashfs or erofs) and its dm-verity hash partition (gptimg's verity
 * writer). The UKI's initramfs is the oracle initramfs tree (spec/boot/oracles/
 * make-initrd-tree.sh: busybox + host veritysetup/blkid + kernel modules) whose /init finds
 * root and root-verity by DPS type, checks their PARTUUIDs against roothash= and opens verity.
 *
 * Every byte of the disk comes from gptimg's writers: cpio (initramfs), PE (UKI), squashfs /
 * erofs (root), verity (hash partition), FAT (ESP) and GPT. Host tools only supply the file
 * trees (busybox, veritysetup and its libraries, kernel modules from the boot parts).
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../../lib/core/bytes.js";
import { writeCpio } from "../../lib/formats/cpio/write.js";
import { planErofs } from "../../lib/formats/erofs/plan.js";
import { writeErofs } from "../../lib/formats/erofs/write.js";
import { planFat } from "../../lib/formats/fat/plan.js";
import { writeFat } from "../../lib/formats/fat/write.js";
import { encodeGpt } from "../../lib/formats/gpt/encode.js";
import { signPe } from "../../lib/formats/pe/authenticode.js";
import { espTree, ukiFileName } from "../../lib/formats/pe/esp.js";
import { assembleUki } from "../../lib/formats/pe/uki.js";
import { buildSquashfsFile } from "../../lib/formats/squashfs/write.js";
import { VerityHasher } from "../../lib/formats/verity/build.js";
import { FileSink } from "../../lib/io/sink.js";
import { BytesSource, FileSliceSource } from "../../lib/io/source.js";
import { MemorySink } from "../../lib/io/stream.js";
import { treeFromDirectory } from "../../lib/tree/from-dir.js";
import { runOk } from "../support/oracles.js";
import { ORACLE_SCRIPTS_DIR, type BootParts } from "./parts.js";

export const DPS = {
  esp: "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
  rootX86_64: "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
  rootX86_64Verity: "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5",
} as const;

/** 2024-01-01T00:00:00Z: FAT cannot store dates before 1980. */
const EPOCH = 1_704_067_200;
const MiB = 1024 * 1024;

export interface BootImageA {
  readonly imagePath: string;
  readonly rootHash: string;
  readonly cmdline: string;
  readonly ukiBytes: number;
  /** Partition byte ranges, for negative tests that damage one of them. */
  readonly partitions: Readonly<Record<"esp" | "root" | "rootVerity", { offsetBytes: number; sizeBytes: number }>>;
}

const treeOptions = { allRootOwned: true, sourceDateEpoch: EPOCH, xattrs: false } as const;

/** The initramfs (gzip'd newc cpio from gptimg's cpio writer) shared by every image of a run. */
export async function buildInitrd(parts: BootParts, workDirectory: string): Promise<Uint8Array> {
  const tree = join(workDirectory, "initrd-tree");
  rmSync(tree, { recursive: true, force: true });
  runOk(join(ORACLE_SCRIPTS_DIR, "make-initrd-tree.sh"), ["--parts", parts.directory, tree], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
  const sink = new MemorySink();
  await writeCpio(await treeFromDirectory(tree, treeOptions), sink, { compression: "gzip" });
  return sink.bytes();
}

export async function buildBootImageA(options: {
  parts: BootParts;
  initrd: Uint8Array;
  fs: "squashfs" | "erofs";
  marker: string;
  workDirectory: string;
  /** Sign systemd-boot and the UKI (Authenticode) with this key and certificate. */
  secureBoot?: { privateKeyPem: string; certificatePem: string; leaveUkiUnsigned?: boolean };
  /** Directory name under workDirectory (default image-a-<fs>). */
  name?: string;
}): Promise<BootImageA> {
  const { parts, fs, marker, workDirectory } = options;
  const work = join(workDirectory, options.name ?? `image-a-${fs}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const rootTreePath = join(work, "root-tree");
  makeRootTree(rootTreePath, parts.busybox, marker);
  const rootTree = await treeFromDirectory(rootTreePath, treeOptions);
  let rootFs: Uint8Array;
  if (fs === "squashfs") {
    const path = join(work, "root.squashfs");
    await buildSquashfsFile(rootTree, { concurrency: 2, sourceDateEpoch: EPOCH }, path);
    rootFs = readFileSync(path);
  } else {
    const sink = new MemorySink();
    await writeErofs(planErofs(rootTree, { uuid: "6d1c2f1e-8a57-4a39-9b0e-9f3f6a0c1d2e", sourceDateEpoch: EPOCH }), sink);
    rootFs = sink.bytes();
  }
  const dataSizeBytes = alignUpTo(rootFs.length, MiB);

  // dm-verity over the data partition (file system zero-padded to 1 MiB).
  const hasher = new VerityHasher(
    { dataBlockSize: 4096, hashBlockSize: 4096, algorithm: "sha256", salt: new Uint8Array(32).fill(0x5a), uuid: "0e6c9a34-5d5c-4b39-8c77-3f1f0b5c2a11", hashType: 1 },
    { concurrency: 2 },
  );
  await hasher.write(rootFs);
  await hasher.write(new Uint8Array(dataSizeBytes - rootFs.length));
  const verity = await hasher.finish();
  const hashSink = new MemorySink();
  await hasher.writeHashImage(hashSink);
  const hashImage = hashSink.bytes();
  const rootHash = toHex(verity.rootHash);
  const hashSizeBytes = alignUpTo(hashImage.length, MiB);

  const cmdline = `console=ttyS0,115200 panic=5 ro roothash=${rootHash}`;
  const unsignedUki = await assembleUki({
    stub: readFileSync(parts.stub),
    linux: new FileSliceSource(parts.vmlinuz, 0, statSync(parts.vmlinuz).size),
    initrds: [options.initrd],
    cmdline,
    osrel: 'ID=gptimg-boot-a\nNAME="gptimg boot test A"\nPRETTY_NAME="gptimg boot test A"\nVERSION_ID=1\n',
    uname: parts.kernelVersion,
  });
  const sign = async (bytes: Uint8Array, what: string): Promise<Uint8Array> =>
    options.secureBoot ? signPe(bytes, options.secureBoot.privateKeyPem, options.secureBoot.certificatePem, { imageWhere: what }) : bytes;
  const uki = options.secureBoot?.leaveUkiUnsigned ? unsignedUki : await sign(unsignedUki, "UKI");
  const systemdBoot = await sign(readFileSync(parts.systemdBoot), "systemd-boot");

  const espTreeNode = await espTree({
    systemdBoot,
    uki: new BytesSource(uki, "UKI"),
    ukiFileName: ukiFileName({ id: "gptimg-boot-a", version: "1", triesLeft: 3 }),
    loaderConf: "timeout 0\n",
    mtime: EPOCH,
  });
  const espPlan = planFat({ tree: espTreeNode, sectorSize: 512, label: "ESP", volumeId: 0x12345678, grainBytes: MiB, where: "boot test A ESP" });
  const espSink = new MemorySink();
  await writeFat(espPlan, espSink);
  const esp = espSink.bytes();

  const espOffset = MiB;
  const rootOffset = espOffset + alignUpTo(esp.length, MiB);
  const hashOffset = rootOffset + dataSizeBytes;
  const diskSize = hashOffset + hashSizeBytes + MiB;
  const uuidFromHex = (hex: string): string => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  const readOnly = 1n << 60n;
  const gpt = encodeGpt({
    sectorSize: 512,
    totalSectors: diskSize / 512,
    diskGuid: "7b1d3a8e-2f4c-4e5a-9c6b-1d2e3f4a5b6c",
    entries: [
      { slot: 0, typeUuid: DPS.esp, uuid: "2a9f1c3e-4b5d-4e6f-8a7b-9c0d1e2f3a4b", firstLba: espOffset / 512, lastLba: rootOffset / 512 - 1, attributes: 0n, label: "esp" },
      { slot: 1, typeUuid: DPS.rootX86_64, uuid: uuidFromHex(rootHash.slice(0, 32)), firstLba: rootOffset / 512, lastLba: hashOffset / 512 - 1, attributes: readOnly, label: "root-x86-64" },
      { slot: 2, typeUuid: DPS.rootX86_64Verity, uuid: uuidFromHex(rootHash.slice(32)), firstLba: hashOffset / 512, lastLba: (hashOffset + hashSizeBytes) / 512 - 1, attributes: readOnly, label: "root-x86-64-verity" },
    ],
  });
  const imagePath = join(work, "disk.img");
  const disk = await FileSink.create(imagePath, diskSize);
  try {
    await disk.writeAt(0, gpt.primary);
    await disk.writeAt(espOffset, esp);
    await disk.writeAt(rootOffset, rootFs);
    await disk.writeAt(hashOffset, hashImage);
    await disk.writeAt(gpt.backupOffsetBytes, gpt.backup);
  } finally {
    await disk.close();
  }
  return {
    imagePath,
    rootHash,
    cmdline,
    ukiBytes: uki.length,
    partitions: {
      esp: { offsetBytes: espOffset, sizeBytes: rootOffset - espOffset },
      root: { offsetBytes: rootOffset, sizeBytes: dataSizeBytes },
      rootVerity: { offsetBytes: hashOffset, sizeBytes: hashSizeBytes },
    },
  };
}

/** Root file system: static busybox and an init that prints the marker and powers off. */
export function makeRootTree(root: string, busybox: string, marker: string): void {
  for (const directory of ["bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp"]) mkdirSync(join(root, directory), { recursive: true });
  copyFileSync(busybox, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  writeFileSync(join(root, "etc/os-release"), "ID=gptimg-boot-a\n");
  writeFileSync(join(root, "sbin/init"), [
    "#!/bin/busybox sh",
    "B=/bin/busybox",
    "$B mount -t proc proc /proc",
    "$B mount -t sysfs sysfs /sys",
    "echo \"gptimg-root: / is $($B grep ' / ' /proc/mounts)\"",
    "for d in /sys/block/dm-*; do [ -e \"$d/dm/name\" ] && echo \"gptimg-root: ${d##*/} is dm device '$($B cat $d/dm/name)'\"; done",
    `echo "${marker}"`,
    "$B sync",
    "$B poweroff -f",
    "",
  ].join("\n"), { mode: 0o755 });
}

function alignUpTo(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
