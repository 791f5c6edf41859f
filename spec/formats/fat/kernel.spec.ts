/**
 * The Linux kernel's vfat driver as an oracle: the host has no vfat module, so a Debian kernel
 * (boot parts) boots under QEMU with a busybox initramfs, mounts our image read-only
 * (`-o ro,utf8,shortname=mixed`) and prints every directory and every file's SHA-256 on the
 * serial console. That listing must equal the source tree, names (UTF-8, emoji included) and
 * contents.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { FatType } from "../../../lib/formats/fat/geometry.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { bootParts } from "../../boot/parts.js";
import { shape, specOf } from "./arbitraries.js";
import { buildImage, buildTree, removeDir, scratchDir } from "./support.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);
const FORMATS: { fatType: FatType; sectorSize: 512 | 4096 }[] = [{ fatType: 32, sectorSize: 512 }, { fatType: 32, sectorSize: 4096 }, { fatType: 16, sectorSize: 512 }];

/** In dependency order (modules.dep): insmod does not resolve dependencies. */
const MODULES = [
  "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko", "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
  "kernel/drivers/virtio/virtio_pci_modern_dev.ko", "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko",
  "kernel/fs/nls/nls_cp437.ko", "kernel/fs/nls/nls_ascii.ko", "kernel/fs/nls/nls_utf8.ko", "kernel/fs/fat/fat.ko", "kernel/fs/fat/vfat.ko",
];

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /mnt
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for module in ${MODULES.map((path) => `/modules/${path.split("/").pop()}`).join(" ")}; do /bin/busybox insmod $module; done
for attempt in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; /bin/busybox sleep 0.5; done
if /bin/busybox mount -t vfat -o ro,utf8,shortname=mixed /dev/vda /mnt; then
  cd /mnt
  /bin/busybox find . -type d | while IFS= read -r path; do echo "GPTIMG-FAT-DIR $path"; done
  /bin/busybox find . -type f | while IFS= read -r path; do echo "GPTIMG-FAT-FILE $(/bin/busybox sha256sum "$path")"; done
  echo GPTIMG-FAT-DONE
else
  echo GPTIMG-FAT-MOUNT-FAILED
fi
/bin/busybox poweroff -f
`;

function makeInitramfs(workDir: string, modulesDirectory: string, busybox: string): string {
  const root = join(workDir, "initramfs");
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "modules"), { recursive: true });
  copyFileSync(busybox, join(root, "bin", "busybox"));
  chmodSync(join(root, "bin", "busybox"), 0o755);
  for (const module of MODULES) copyFileSync(join(modulesDirectory, module), join(root, "modules", module.split("/").pop()!));
  writeFileSync(join(root, "init"), INIT, { mode: 0o755 });
  const archive = join(workDir, "initramfs.cpio");
  const result = spawnSync("sh", ["-c", `cd "$1" && find . | cpio -o -H newc --quiet > "$2"`, "sh", root, archive]);
  if (result.status !== 0) throw new Error(`cpio failed: ${result.stderr}`);
  return archive;
}

function bootAndList(vmlinuz: string, initramfs: string, image: string): string {
  const base = ["-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel", vmlinuz, "-initrd", initramfs,
    "-append", "console=ttyS0 panic=-1 quiet", "-drive", `file=${image},format=raw,if=virtio,readonly=on`];
  for (const accelerator of [["-accel", "kvm", "-cpu", "host"], ["-accel", "tcg"]]) {
    const result = spawnSync("qemu-system-x86_64", [...accelerator, ...base], { encoding: "utf8", timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
    const output = (result.stdout ?? "").replace(/\r/g, "");
    if (output.includes("GPTIMG-FAT-DONE") || output.includes("GPTIMG-FAT-MOUNT-FAILED")) return output;
  }
  throw new Error("the vfat oracle guest did not report (neither KVM nor TCG)");
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Builds an image of `spec`, boots the guest on it and compares its listing with `spec`. */
async function expectKernelSees(spec: Map<string, Uint8Array | null>, workDir: string, format: { fatType: FatType; sectorSize: 512 | 4096 } = { fatType: 32, sectorSize: 512 }): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  const image = join(workDir, "fat.img");
  await buildImage({ tree: buildTree(spec), ...format, label: "esp", volumeId: 0x5739c63f, minSizeBytes: format.fatType === 32 ? 100 * 1024 * 1024 : 0 }, image);
  const output = bootAndList(parts!.vmlinuz, makeInitramfs(workDir, parts!.modulesDirectory, parts!.busybox), image);
  expect(output, output.slice(-3000)).toContain("GPTIMG-FAT-DONE");
  const directories = new Set<string>();
  const files = new Map<string, string>();
  for (const line of output.split("\n")) {
    const dirMatch = /^GPTIMG-FAT-DIR \.\/?(.*)$/.exec(line);
    if (dirMatch && dirMatch[1] !== "") directories.add(dirMatch[1]!);
    const fileMatch = /^GPTIMG-FAT-FILE ([0-9a-f]{64}) {2}\.\/(.*)$/.exec(line);
    if (fileMatch) files.set(fileMatch[2]!, fileMatch[1]!);
  }
  const expectedDirectories = new Set<string>();
  const expectedFiles = new Map<string, string>();
  for (const [path, content] of spec) {
    for (let cut = path.indexOf("/"); cut > 0; cut = path.indexOf("/", cut + 1)) expectedDirectories.add(path.slice(0, cut));
    if (content === null) expectedDirectories.add(path);
    else expectedFiles.set(path, sha256(content));
  }
  expect([...directories].sort()).toEqual([...expectedDirectories].sort());
  expect(new Map([...files].sort())).toEqual(new Map([...expectedFiles].sort()));
  removeDir(workDir);
}

const parts = bootParts();
describe.skipIf(!parts || !oraclesAvailable("qemu-system-x86_64", "cpio"))("FAT writer read by the Linux kernel (vfat in a QEMU guest)", () => {
  const dir = scratchDir("kernel");
  afterAll(() => removeDir(dir));

  it("lists the same directories, names and file contents", async () => {
    const spec = new Map<string, Uint8Array | null>([
      ["EFI/BOOT/BOOTX64.EFI", new Uint8Array(70_000).fill(0x42)],
      ["EFI/Linux/debian ñandú 😀 6.12.efi", Uint8Array.from({ length: 300_000 }, (_, index) => (index * 7) & 0xff)],
      ["EFI/Linux/Überprüfung 中文.efi", new Uint8Array(1)],
      ["loader/loader.conf", new TextEncoder().encode("timeout 3\n")],
      ["loader/entries/readme.txt", new Uint8Array(0)],
      ["loader/entries/README2.txt", new Uint8Array(5)],
      ["Case/Mixed.Name.With.Dots", new Uint8Array(3)],
      ["CASE2/mixed.name.with.dots", new Uint8Array(4)],
      [" leading space", new Uint8Array(2)],
      ["x".repeat(250) + ".conf", new Uint8Array(9)],
      ["empty dir", null],
    ]);
    for (let index = 0; index < 200; index++) spec.set(`wide/similar long name ${index}.conf`, new TextEncoder().encode(`entry ${index}\n`));
    await expectKernelSees(spec, join(dir, "esp"));
  });

  it("random trees (several per boot; FAT32/512, FAT32/4096, FAT16): unicode/emoji/255-unit names, dots and spaces, case variants, 0 B … 3 MiB files", async () => {
    let round = 0;
    await fc.assert(fc.asyncProperty(fc.array(shape, { minLength: 6, maxLength: 6 }), async (shapes) => {
      const spec = new Map<string, Uint8Array | null>();
      shapes.forEach((root, index) => {
        for (const [path, content] of specOf(root)) spec.set(`t${index}/${path}`, content);
      });
      // Each boot another format: FAT32 with 512- and 4096-byte sectors, FAT16.
      const format = FORMATS[round % FORMATS.length]!;
      await expectKernelSees(spec, join(dir, `random-${round++}`), format);
    }), { numRuns: Math.max(1, Math.ceil(RUNS / 12)) });
  });
});
