/**
 * A/B update proven by booting (issue 8): one spec, two usr slots (erofs + verity), systemd-boot
 * and a UKI in the ESP. Boot v1 under OVMF; `gptimg update` the image with v2 artifacts built
 * from the same spec and another tree; boot again: systemd-boot picks the v2 UKI, its usrhash=
 * selects slot B by PARTUUID (as systemd-veritysetup-generator does), the console shows version
 * 2 on dm-verity, and slot A still holds v1. The updated ESP is checked by fsck.fat and mtools.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { extractRange, sfdiskJson } from "../support/image.js";
import { oraclesAvailable, run, runOk } from "../support/oracles.js";
import { bootImage, bootOraclesAvailable, explainBoot } from "./harness.js";
import { bootParts, oracleBootSection, ORACLE_SCRIPTS_DIR, type BootParts } from "./parts.js";

const EPOCH = 1_704_067_200;
const marker = (version: string): string => `GPTIMG-AB-RUNNING-${version}`;
const work = mkdtempSync(join(tmpdir(), "gptimg-update-boot-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ready = bootOraclesAvailable() && oraclesAvailable("veritysetup", "blkid", "fsck.fat", "mdir");
const parts: BootParts | undefined = ready ? bootParts() : undefined;

/** /usr of version N: busybox and an init that reports the version and where /usr comes from. */
function makeUsrTree(directory: string, busybox: string, version: string): void {
  rmSync(directory, { recursive: true, force: true });
  for (const sub of ["bin", "sbin", "lib"]) mkdirSync(join(directory, sub), { recursive: true });
  copyFileSync(busybox, join(directory, "bin/busybox"));
  chmodSync(join(directory, "bin/busybox"), 0o755);
  writeFileSync(join(directory, "lib/os-release"), `ID=abboot\nIMAGE_ID=abboot\nIMAGE_VERSION=${version}\n`);
  writeFileSync(join(directory, "sbin/init"), [
    "#!/usr/bin/busybox sh",
    "B=/usr/bin/busybox",
    "$B mount -t proc proc /proc",
    "$B mount -t sysfs sysfs /sys",
    "echo \"gptimg-usr: $($B grep ' /usr ' /proc/mounts)\"",
    "for d in /sys/block/dm-*; do echo \"gptimg-usr: ${d##*/} '$($B cat $d/dm/name)' on $($B ls $d/slaves | $B tr '\\n' ' ')\"; done",
    "echo \"gptimg-usr: running $($B grep IMAGE_VERSION /usr/lib/os-release)\"",
    `echo "GPTIMG-AB-RUNNING-$($B sed -n 's/^IMAGE_VERSION=//p' /usr/lib/os-release)"`,
    "$B sync",
    "$B poweroff -f",
    "",
  ].join("\n"), { mode: 0o755 });
}

describe.skipIf(parts === undefined)("A/B update boots the new version", () => {
  it("boots v1, gptimg update installs v2 into slot B, boots v2 from slot B with verity", async () => {
    runOk(join(ORACLE_SCRIPTS_DIR, "make-initrd-tree.sh"), ["--parts", parts!.directory, join(work, "initrd")], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
    const spec = {
      seed: "2b4d6f8a-0c1e-4a3b-9d5f-7e9a1c3e5b7d",
      imageId: "abboot",
      imageVersion: "1",
      sourceDateEpoch: EPOCH,
      update: { source: { type: "url-file", path: "https://updates.example.com/abboot" } },
      boot: oracleBootSection(parts!, 'ID=abboot\nPRETTY_NAME="gptimg A/B boot test"\n'),
      partitions: [
        { type: "esp", format: "vfat", sizeMinBytes: "200M" },
        { type: "usr", format: "erofs", copyFiles: ["usr:/"], verity: "data", verityMatchKey: "usr", slots: 2, slotSize: "16M" },
        { type: "usr-verity", verity: "hash", verityMatchKey: "usr" },
      ],
    };
    writeFileSync(join(work, "spec.json"), JSON.stringify(spec, null, 2));
    const image = join(work, "disk.raw");
    makeUsrTree(join(work, "usr"), parts!.busybox, "1");
    const v1 = gptimg(["compose", join(work, "spec.json"), "-o", image, "--json"]);
    expect(v1.status, v1.stderr).toBe(0);
    makeUsrTree(join(work, "usr"), parts!.busybox, "2");
    const v2 = gptimg(["compose", join(work, "spec.json"), "--image-version", "2", "--artifacts", join(work, "v2"), "--json"]);
    expect(v2.status, v2.stderr).toBe(0);
    const v2Hash = (JSON.parse(v2.stdout) as { verity: Array<{ rootHash: string }> }).verity[0]!.rootHash;

    const first = await bootImage(image, marker("1"), { timeoutSeconds: 240 });
    expect(first.passed, explainBoot(first)).toBe(true);
    expect(first.log).toMatch(/usr: data \/dev\/\w+ \(abboot_1\)/);
    expect(first.log).toMatch(/LoaderBootCountPath=.*abboot_1\+2-1\.efi/);

    const updated = gptimg(["update", image, "--from", join(work, "v2")]);
    expect(updated.status, updated.stderr).toBe(0);
    expect(updated.stdout).toContain("EFI/Linux/abboot_2+3.efi");

    const second = await bootImage(image, marker("2"), { timeoutSeconds: 240 });
    expect(second.passed, explainBoot(second)).toBe(true);
    expect(second.log).toContain(`usrhash=${v2Hash}`);
    expect(second.log).toMatch(/usr: data \/dev\/\w+ \(abboot_2\)/);
    expect(second.log).toMatch(/gptimg-usr: dm-0 'usr' on \w+/);
    expect(second.log).toMatch(/LoaderBootCountPath=.*abboot_2\+2-1\.efi/);

    const table = sfdiskJson(image).partitions!;
    expect(table.map((partition) => partition.name)).toEqual(["esp", "abboot_1", "abboot_1_verity", "abboot_2", "abboot_2_verity"]);
    const esp = join(work, "esp.img");
    extractRange(image, table[0]!.start * 512, table[0]!.size * 512, esp);
    const fsck = run("fsck.fat", ["-n", esp]);
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    const listing = runOk("mdir", ["-i", esp, "-b", "::/EFI/Linux"], { env: { ...process.env, MTOOLS_SKIP_CHECK: "1", LC_ALL: "C.UTF-8" } });
    expect(listing).toContain("abboot_1+3.efi");
    expect(listing).toContain("abboot_2+3.efi");
  }, 900_000);
});
