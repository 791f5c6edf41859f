/**
 * Boot test B (issue 7): a real Debian trixie system with systemd, composed by gptimg in one
 * run — ESP (systemd-boot + a UKI whose initrd is the same Debian tree packed by gptimg's cpio
 * writer, run by systemd in initrd mode), /usr as erofs with a dm-verity hash partition and a
 * signed verity-sig partition, root=tmpfs. systemd's veritysetup generator opens /usr from
 * usrhash= on the UKI command line; a unit shipped in /usr prints where /usr is mounted from
 * and a marker once multi-user.target is reached. A flipped byte in /usr stops the boot.
 *
 * The spec's `update` section (issue 8) puts the generated repart.d into /usr: the first boot,
 * on a disk grown by 1 GiB, must make systemd-repart in the guest create slot B (`_empty`
 * usr, usr-verity, usr-verity-sig of slot A's sizes) and a data partition; the second boot
 * must leave the table as it is.
 *
 * Userspace (systemd 257, udev, systemd-veritysetup, kmod) is trixie's; the kernel is the
 * bookworm 6.1 kernel of the boot parts (spec/boot/parts.ts) that boot tests A use. Trixie's
 * 6.12 kernel panicked under loaded TCG (spurious #DB with qemu64, "Fatal exception in
 * interrupt" or a page-fault oops with -cpu max); 6.1 boots reliably there with QEMU's
 * default CPU. Its modules go into an extra initrd and into /usr (with kmod's .bin indexes
 * made by trixie's depmod), so udev loads virtio, dm-verity and erofs before and after
 * switch-root. systemd 257 needs kernel >= 5.4.
 *
 * Needs the Debian tree /var/cache/gptimg/trixie-boot (.ci/oracles.sh) and the boot parts:
 * skipped when missing, failing under GPTIMG_REQUIRE_ORACLES=1.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { sfdiskJson } from "../support/image.js";
import { oraclesAvailable, REQUIRE_ORACLES, runOk } from "../support/oracles.js";
import { bootImage, bootOraclesAvailable, explainBoot } from "./harness.js";
import { bootParts, type BootParts } from "./parts.js";

const MARKER = "GPTIMG-BOOT-B-MULTI-USER";
const EPOCH = 1_704_067_200;
const CORRUPTED = /device-mapper: verity: \S+: data block \d+ is corrupted/;
/** debootstrap --variant=minbase --include=systemd,udev,systemd-cryptsetup,kmod,systemd-boot-efi,… trixie (.ci/oracles.sh); its kernel, if any, is not used. */
const SYSTEM = process.env["GPTIMG_TRIXIE_BOOT_ROOT"] ?? "/var/cache/gptimg/trixie-boot";
const work = mkdtempSync(join(tmpdir(), "gptimg-boot-b-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function systemAvailable(): boolean {
  const needed = ["usr/lib/systemd/systemd", "usr/lib/systemd/boot/efi/systemd-bootx64.efi", "usr/sbin/depmod"];
  if (needed.every((path) => existsSync(join(SYSTEM, path)))) return true;
  const message = `Debian boot tree not available in ${SYSTEM} (run .ci/oracles.sh)`;
  if (REQUIRE_ORACLES) throw new Error(message);
  console.warn(`SKIP: ${message}`);
  return false;
}

/**
 * The boot parts' modules as usr/lib/modules/<version> under a fresh directory, with the
 * binary indexes (modules.dep.bin, modules.alias.bin, …) that trixie's kmod reads: the boot
 * parts carry only the text modules.dep. depmod runs chrooted in the Debian tree, which sees
 * the copy through a bind mount that only exists in a private mount namespace.
 */
function kernelModulesTree(parts: BootParts): string {
  const root = join(work, "kernel-modules");
  mkdirSync(join(root, "usr/lib/modules"), { recursive: true });
  runOk("cp", ["-a", parts.modulesDirectory, join(root, "usr/lib/modules", parts.kernelVersion)]);
  runOk("unshare", ["--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$1" "$2/mnt" && chroot "$2" /usr/sbin/depmod -b /mnt "$3"', "depmod", join(root, "usr"), SYSTEM, parts.kernelVersion]);
  return root;
}

const ready = bootOraclesAvailable() && oraclesAvailable("openssl", "unshare", "root") && systemAvailable();
const parts: BootParts | undefined = ready ? bootParts() : undefined;

describe.skipIf(parts === undefined)("boot test B: Debian with systemd, /usr on dm-verity", () => {
  let image = "";
  let usr = { offset: 0, size: 0 };
  let firstBootTable = "";

  it("boots to multi-user.target with /usr on a dm-verity device", { timeout: 780_000 }, async () => {
    const modules = kernelModulesTree(parts!);
    // The initrd is the Debian tree itself, run by systemd in initrd mode (/etc/initrd-release).
    mkdirSync(join(work, "initrd-extra", "etc"), { recursive: true });
    writeFileSync(join(work, "initrd-extra", "etc", "initrd-release"), 'ID=debian\nPRETTY_NAME="gptimg boot test B initrd"\n');
    runOk("ln", ["-s", "usr/lib/systemd/systemd", join(work, "initrd-extra", "init")]);
    runOk("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(work, "verity.key"), "-out", join(work, "verity.crt"), "-days", "3650", "-subj", "/CN=gptimg boot test B"]);
    const marker = [
      "[Unit]", "Description=gptimg boot test B marker", "After=multi-user.target", "",
      "[Service]", "Type=oneshot", "StandardOutput=journal+console",
      // The marker goes to the serial port directly: through the journal it would get a prefix.
      `ExecStart=/usr/bin/sh -c 'echo "gptimg-usr: $(/usr/bin/findmnt -n -o SOURCE /usr) $(/usr/bin/cat /sys/block/dm-0/dm/name)"; /usr/bin/journalctl -b -o cat --no-pager -u systemd-repart.service | /usr/bin/sed "s/^/gptimg-repart: /" > /dev/ttyS0; echo ${MARKER} > /dev/ttyS0'`,
      "", "[Install]", "WantedBy=multi-user.target", "",
    ].join("\n");
    const spec = {
      seed: "8b1f3c5d-7e9a-4b2c-9d4e-6f8a0b2c4d6e",
      size: "auto",
      imageId: "debian",
      imageVersion: "13",
      // The generated /usr/lib/repart.d makes systemd-repart create slot B and a data partition at first boot.
      update: { source: { type: "url-file", path: "https://updates.example.com/debian" } },
      sourceDateEpoch: EPOCH,
      signing: { privateKey: "verity.key", certificate: "verity.crt" },
      boot: {
        systemdBoot: join(SYSTEM, "usr/lib/systemd/boot/efi/systemd-bootx64.efi"),
        loaderConf: "timeout 0\n",
        uki: {
          stub: join(SYSTEM, "usr/lib/systemd/boot/efi/linuxx64.efi.stub"),
          kernel: parts!.vmlinuz,
          initrds: [{ tree: SYSTEM, compression: "zstd" }, { tree: modules, compression: "zstd" }, { tree: "initrd-extra", compression: "none" }],
          cmdline: "console=ttyS0,115200 panic=5 root=tmpfs systemd.firstboot=no systemd.show_status=1 rd.systemd.default_device_timeout_sec=600 systemd.default_device_timeout_sec=600",
          osRelease: { text: 'ID=debian\nPRETTY_NAME="gptimg boot test B"\nVERSION_ID=13\n' },
          uname: parts!.kernelVersion,
        },
      },
      partitions: [
        { type: "esp", format: "vfat" },
        {
          type: "usr", format: "erofs", copyFiles: [`${join(SYSTEM, "usr")}:/`, `${join(modules, "usr")}:/`], verity: "data", verityMatchKey: "usr", slots: 2, slotSize: "640M", emptySlots: "first-boot",
          entries: [
            { path: "lib/systemd/system/gptimg-marker.service", content: marker },
            { path: "lib/systemd/system/multi-user.target.wants/gptimg-marker.service", type: "symlink", target: "../gptimg-marker.service" },
          ],
        },
        { type: "usr-verity", verity: "hash", verityMatchKey: "usr" },
        { type: "usr-verity-sig", verity: "signature", verityMatchKey: "usr" },
        { type: "linux-generic", label: "data", inImage: false, runtime: { sizeMinBytes: "64M" } },
      ],
    };
    writeFileSync(join(work, "spec.json"), JSON.stringify(spec, null, 2));
    image = join(work, "disk.raw");
    const composed = gptimg(["compose", join(work, "spec.json"), "-o", image, "--json"]);
    expect(composed.status, composed.stderr).toBe(0);
    const report = JSON.parse(composed.stdout) as { partitions: Array<{ type: string; offset: number; size: number }>; verity: Array<{ rootHash: string }> };
    usr = report.partitions.find((partition) => partition.type === "usr-x86-64")!;
    // First boot on a bigger disk: systemd-repart in the guest creates what the image leaves out.
    truncateSync(image, statSync(image).size + 1024 * 1024 * 1024);
    // ≈110 s alone on 2 cores, up to ≈280 s with two CPU hogs beside it.
    const result = await bootImage(image, MARKER, { timeoutSeconds: 600, memoryMiB: 2048, writable: true });
    expect(result.passed, explainBoot(result)).toBe(true);
    expect(result.log).toContain(`usrhash=${report.verity[0]!.rootHash}`);
    expect(result.log).toMatch(/gptimg-usr: \/dev\/mapper\/usr usr/);
    console.log(`boot B: ${result.seconds.toFixed(1)}s (${result.accelerator})`);
    const table = sfdiskJson(image).partitions!;
    expect(table.map((partition) => partition.name), result.log.split("\n").filter((line) => line.includes("gptimg-repart")).join("\n")).toEqual(["esp", "debian_13", "debian_13_verity", "debian_13_verity_sig", "_empty", "_empty", "_empty", "data"]);
    for (const [slotB, slotA] of [[4, 1], [5, 2], [6, 3]] as const) expect(table[slotB]!.size).toBe(table[slotA]!.size);
    expect(result.log).toMatch(/gptimg-repart: .*(Adding new partition|Applying changes)/);
    firstBootTable = runOk("sfdisk", ["-d", image]);
  });

  it("the second boot leaves the partitions systemd-repart made at first boot as they are", { timeout: 780_000 }, async () => {
    expect(firstBootTable).not.toBe("");
    const result = await bootImage(image, MARKER, { timeoutSeconds: 600, memoryMiB: 2048, writable: true });
    expect(result.passed, explainBoot(result)).toBe(true);
    expect(runOk("sfdisk", ["-d", image])).toBe(firstBootTable);
  });

  it("a flipped byte in /usr stops the boot", { timeout: 480_000 }, async () => {
    expect(image).not.toBe("");
    const damaged = join(work, "damaged.raw");
    copyFileSync(image, damaged);
    const handle = openSync(damaged, "r+");
    const byte = new Uint8Array(1);
    // Inside the erofs superblock (block 0): verity refuses the block when /usr is mounted.
    const offset = usr.offset + 1024 + 8;
    readSync(handle, byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(handle, byte, 0, 1, offset);
    closeSync(handle);
    // Stop at the kernel's verity error: what systemd does next (job timeouts, emergency mode)
    // can take minutes under TCG and proves nothing more.
    const result = await bootImage(damaged, MARKER, { timeoutSeconds: 420, memoryMiB: 2048, deadEnds: CORRUPTED });
    expect(result.passed).toBe(false);
    // The boot must fail because of verity, not a timeout or an unrelated panic.
    expect(result.log, explainBoot(result)).toMatch(CORRUPTED);
  });
});
