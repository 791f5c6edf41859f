/**
 * Boot test A image: GPT with an ESP (systemd-boot + a UKI written by gptimg's PE writer), a
 * root partition (squashfs or erofs) and its dm-verity hash partition (gptimg's verity
 * writer). The UKI's initramfs is the oracle initramfs tree (spec/boot/oracles/
 * make-initrd-tree.sh: busybox + host veritysetup/blkid + kernel modules) whose /init finds
 * root and root-verity by DPS type, checks their PARTUUIDs against roothash= and opens verity.
 *
 * Which parts are gptimg's own is listed in `producers` of the result, so a test report shows
 * exactly what a boot proves. Parts whose gptimg writer has not landed yet are made with the
 * reference C tools (GNU cpio, mksquashfs/mkfs.erofs, mkfs.vfat + mcopy, sfdisk).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "fflate";
import { toHex } from "../../lib/core/bytes.js";
import { VerityHasher } from "../../lib/formats/verity/build.js";
import { assembleUki } from "../../lib/formats/pe/uki.js";
import { FileSliceSource, sourceChunks } from "../../lib/io/source.js";
import { MemorySink } from "../../lib/io/stream.js";
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
  /** Partition byte ranges, for negative tests that damage one of them. */
  readonly partitions: Readonly<Record<"esp" | "root" | "rootVerity", { offsetBytes: number; sizeBytes: number }>>;
  /** Which tool produced each part. */
  readonly producers: Readonly<Record<string, string>>;
}

/** The initramfs (gzip'd newc cpio) shared by every image of a test run. */
export function buildInitrd(parts: BootParts, workDirectory: string): Uint8Array {
  const tree = join(workDirectory, "initrd-tree");
  rmSync(tree, { recursive: true, force: true });
  runOk(join(ORACLE_SCRIPTS_DIR, "make-initrd-tree.sh"), ["--parts", parts.directory, tree], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
  const cpio = execFileSync("sh", ["-c", "find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible"], { cwd: tree, maxBuffer: 256 * MiB });
  return gzipSync(cpio, { level: 6, mtime: 0 });
}

export async function buildBootImageA(options: {
  parts: BootParts;
  initrd: Uint8Array;
  fs: "squashfs" | "erofs";
  marker: string;
  workDirectory: string;
}): Promise<BootImageA> {
  const { parts, fs, marker, workDirectory } = options;
  const work = join(workDirectory, `image-a-${fs}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const rootTree = join(work, "root-tree");
  makeRootTree(rootTree, parts.busybox, marker);
  const rootFs = join(work, "root.fs");
  if (fs === "squashfs") {
    runOk("mksquashfs", [rootTree, rootFs, "-noappend", "-all-root", "-no-xattrs", "-no-progress", "-quiet"], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
  } else {
    runOk("mkfs.erofs", [`-T${EPOCH}`, "--all-root", "-x-1", "-U", "6d1c2f1e-8a57-4a39-9b0e-9f3f6a0c1d2e", rootFs, rootTree]);
  }
  const dataSizeBytes = alignUpTo(statSync(rootFs).size, MiB);

  // dm-verity over the data partition (file system zero-padded to 1 MiB), written by gptimg.
  const hasher = new VerityHasher(
    { dataBlockSize: 4096, hashBlockSize: 4096, algorithm: "sha256", salt: new Uint8Array(32).fill(0x5a), uuid: "0e6c9a34-5d5c-4b39-8c77-3f1f0b5c2a11", hashType: 1 },
    { concurrency: 2 },
  );
  const rootSource = new FileSliceSource(rootFs, 0, statSync(rootFs).size);
  for await (const chunk of sourceChunks(rootSource, 4 * MiB)) await hasher.write(chunk);
  await hasher.write(new Uint8Array(dataSizeBytes - rootSource.size));
  const verity = await hasher.finish();
  const hashSink = new MemorySink();
  await hasher.writeHashImage(hashSink);
  await hasher.close();
  const hashImage = hashSink.bytes();
  const rootHash = toHex(verity.rootHash);
  const hashSizeBytes = alignUpTo(hashImage.length, MiB);

  const cmdline = `console=ttyS0,115200 panic=5 ro roothash=${rootHash}`;
  const uki = await assembleUki({
    stub: readFileSync(parts.stub),
    linux: new FileSliceSource(parts.vmlinuz, 0, statSync(parts.vmlinuz).size),
    initrds: [options.initrd],
    cmdline,
    osrel: 'ID=gptimg-boot-a\nNAME="gptimg boot test A"\nPRETTY_NAME="gptimg boot test A"\nVERSION_ID=1\n',
    uname: parts.kernelVersion,
  });

  const espTree = join(work, "esp-tree");
  for (const directory of ["EFI/BOOT", "EFI/systemd", "EFI/Linux", "loader"]) mkdirSync(join(espTree, directory), { recursive: true });
  copyFileSync(parts.systemdBoot, join(espTree, "EFI/BOOT/BOOTX64.EFI"));
  copyFileSync(parts.systemdBoot, join(espTree, "EFI/systemd/systemd-bootx64.efi"));
  writeFileSync(join(espTree, "EFI/Linux/gptimg-boot-a.efi"), uki);
  writeFileSync(join(espTree, "loader/loader.conf"), "timeout 0\n");
  const espSizeBytes = Math.max(64 * MiB, alignUpTo(uki.length + 2 * statSync(parts.systemdBoot).size + 8 * MiB, MiB));
  const espImage = join(work, "esp.img");
  writeFileSync(espImage, new Uint8Array(0));
  execFileSync("truncate", ["-s", String(espSizeBytes), espImage]);
  runOk("mkfs.vfat", ["-F", "32", "-n", "ESP", "-i", "12345678", "--invariant", espImage]);
  runOk("mcopy", ["-s", "-m", "-i", espImage, join(espTree, "EFI"), join(espTree, "loader"), "::/"], { env: { ...process.env, MTOOLS_SKIP_CHECK: "1", TZ: "UTC" } });

  const espOffset = MiB;
  const rootOffset = espOffset + espSizeBytes;
  const hashOffset = rootOffset + dataSizeBytes;
  const diskSize = hashOffset + hashSizeBytes + MiB;
  const imagePath = join(work, "disk.img");
  writeFileSync(imagePath, new Uint8Array(0));
  execFileSync("truncate", ["-s", String(diskSize), imagePath]);
  const uuidFromHex = (hex: string): string => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  const sectors = (bytes: number): number => bytes / 512;
  runOk("sfdisk", ["--quiet", "--no-reread", "--no-tell-kernel", imagePath], {
    input: [
      "label: gpt",
      "label-id: 7b1d3a8e-2f4c-4e5a-9c6b-1d2e3f4a5b6c",
      `start=${sectors(espOffset)}, size=${sectors(espSizeBytes)}, type=${DPS.esp}, uuid=2a9f1c3e-4b5d-4e6f-8a7b-9c0d1e2f3a4b, name="esp"`,
      `start=${sectors(rootOffset)}, size=${sectors(dataSizeBytes)}, type=${DPS.rootX86_64}, uuid=${uuidFromHex(rootHash.slice(0, 32))}, name="root-x86-64", attrs="GUID:60"`,
      `start=${sectors(hashOffset)}, size=${sectors(hashSizeBytes)}, type=${DPS.rootX86_64Verity}, uuid=${uuidFromHex(rootHash.slice(32))}, name="root-x86-64-verity", attrs="GUID:60"`,
      "",
    ].join("\n"),
  });
  execFileSync("dd", [`if=${espImage}`, `of=${imagePath}`, "bs=1M", `seek=${espOffset / MiB}`, "conv=notrunc,sparse", "status=none"]);
  execFileSync("dd", [`if=${rootFs}`, `of=${imagePath}`, "bs=1M", `seek=${rootOffset / MiB}`, "conv=notrunc,sparse", "status=none"]);
  writeFileSync(join(work, "hash.img"), hashImage);
  execFileSync("dd", [`if=${join(work, "hash.img")}`, `of=${imagePath}`, "bs=1M", `seek=${hashOffset / MiB}`, "conv=notrunc,sparse", "status=none"]);
  return {
    imagePath,
    rootHash,
    cmdline,
    partitions: {
      esp: { offsetBytes: espOffset, sizeBytes: espSizeBytes },
      root: { offsetBytes: rootOffset, sizeBytes: dataSizeBytes },
      rootVerity: { offsetBytes: hashOffset, sizeBytes: hashSizeBytes },
    },
    producers: {
      uki: "gptimg pe/uki", verity: "gptimg verity", initrd: "GNU cpio + gzip (fflate)",
      root: fs === "squashfs" ? "mksquashfs" : "mkfs.erofs", esp: "mkfs.vfat + mcopy", gpt: "sfdisk",
    },
  };
}

/** Root file system: static busybox and an init that prints the marker and powers off. */
function makeRootTree(root: string, busybox: string, marker: string): void {
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
  for (const path of ["bin/busybox", "sbin/init", "etc/os-release", "bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "."]) {
    if (existsSync(join(root, path))) utimesSync(join(root, path), EPOCH, EPOCH);
  }
}

function alignUpTo(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
