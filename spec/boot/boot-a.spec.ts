/**
 * Boot test A (issue 7): OVMF → GPT (gptimg) → ESP (gptimg FAT) → systemd-boot → UKI (gptimg
 * PE) → busybox initramfs (gptimg cpio) → root (gptimg squashfs, erofs) verified by dm-verity
 * with gptimg's hash tree → marker on the serial console. A byte flipped in the root
 * partition must stop the boot.
 */
import { copyFileSync, mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oraclesAvailable } from "../support/oracles.js";
import { bootImage, bootOraclesAvailable, explainBoot } from "./harness.js";
import { buildBootImageA, buildInitrd, type BootImageA } from "./image-a.js";
import { bootParts, type BootParts } from "./parts.js";

const MARKER = "GPTIMG-BOOT-A-OK";
const work = mkdtempSync(join(tmpdir(), "gptimg-boot-a-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// veritysetup and blkid are copied from the host into the initramfs (make-initrd-tree.sh).
const ready = bootOraclesAvailable() && oraclesAvailable("veritysetup", "blkid");
const parts: BootParts | undefined = ready ? bootParts() : undefined;
let initrd: Uint8Array;
const images: Partial<Record<"squashfs" | "erofs", BootImageA>> = {};

describe.skipIf(parts === undefined)("boot test A under OVMF", () => {
  beforeAll(async () => {
    initrd = await buildInitrd(parts!, work);
  });

  it.each(["squashfs", "erofs"] as const)("%s root with verity reaches the marker", async (fs) => {
    const image = await buildBootImageA({ parts: parts!, initrd, fs, marker: MARKER, workDirectory: work });
    images[fs] = image;
    const result = await bootImage(image.imagePath, MARKER, { timeoutSeconds: 180 });
    expect(result.passed, explainBoot(result)).toBe(true);
    expect(result.log).toMatch(/gptimg-root: dm-0 is dm device/);
    expect(result.log).toContain(`roothash=${image.rootHash}`);
    expect(result.log).toMatch(/oracle-initrd: efivar StubInfo=systemd-stub/);
    // systemd-boot renamed the boot-counted UKI (+3 → +2-1) in our FAT before starting it.
    expect(result.log).toMatch(/oracle-initrd: efivar LoaderBootCountPath=.*gptimg-boot-a_1\+2-1\.efi/);
    console.log(`boot A ${fs}: ${result.seconds.toFixed(1)}s (${result.accelerator}); UKI ${image.ukiBytes} bytes, initrd ${initrd.length} bytes`);
  });

  it("a flipped byte in the root partition stops the boot (verity)", async () => {
    const image = images.squashfs ?? await buildBootImageA({ parts: parts!, initrd, fs: "squashfs", marker: MARKER, workDirectory: work });
    const damaged = join(work, "damaged.img");
    copyFileSync(image.imagePath, damaged);
    const offset = image.partitions.root.offsetBytes + 100;
    const handle = openSync(damaged, "r+");
    const byte = new Uint8Array(1);
    readSync(handle, byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(handle, byte, 0, 1, offset);
    closeSync(handle);
    const result = await bootImage(damaged, MARKER, { timeoutSeconds: 180 });
    expect(result.passed).toBe(false);
    expect(result.log).toMatch(/device-mapper: verity: .*(data block \d+ is corrupted)/);
  });
});
