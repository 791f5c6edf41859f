/**
 * Secure Boot under enforcing firmware: Debian's snakeoil OVMF (PK/KEK/db = the snakeoil
 * certificate shipped with the ovmf package). systemd-boot and the UKI signed by gptimg's
 * Authenticode writer with the snakeoil key must boot to the marker with the kernel reporting
 * Secure Boot on; the same image with an unsigned UKI must be refused by the firmware.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oraclesAvailable, runOk } from "../support/oracles.js";
import { bootImage, bootOraclesAvailable, explainBoot, SNAKEOIL_CERTIFICATE, SNAKEOIL_KEY } from "./harness.js";
import { buildBootImageA, buildInitrd } from "./image-a.js";
import { bootParts, type BootParts } from "./parts.js";

const MARKER = "GPTIMG-SECURE-BOOT-OK";
const work = mkdtempSync(join(tmpdir(), "gptimg-secure-boot-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ready = bootOraclesAvailable({ secureBoot: true }) && oraclesAvailable("openssl", "veritysetup", "blkid");
const parts: BootParts | undefined = ready ? bootParts() : undefined;
let initrd: Uint8Array;
let privateKeyPem: string;
let certificatePem: string;

describe.skipIf(parts === undefined)("Secure Boot (snakeoil OVMF, enforcing)", () => {
  beforeAll(async () => {
    initrd = await buildInitrd(parts!, work);
    // The shipped key is encrypted with the password "snakeoil" (ovmf README.Debian).
    privateKeyPem = runOk("openssl", ["pkey", "-in", SNAKEOIL_KEY, "-passin", "pass:snakeoil"]);
    certificatePem = runOk("openssl", ["x509", "-in", SNAKEOIL_CERTIFICATE]);
  });

  it("systemd-boot and the UKI signed by gptimg boot with Secure Boot enforced", async () => {
    const image = await buildBootImageA({ parts: parts!, initrd, fs: "erofs", marker: MARKER, workDirectory: work, name: "signed", secureBoot: { privateKeyPem, certificatePem } });
    const result = await bootImage(image.imagePath, MARKER, { timeoutSeconds: 180, secureBoot: true });
    expect(result.passed, explainBoot(result)).toBe(true);
    expect(result.log).toMatch(/secureboot: Secure boot enabled/);
    console.log(`secure boot: ${result.seconds.toFixed(1)}s (${result.accelerator})`);
  });

  it("a signed systemd-boot refuses to start an unsigned UKI", async () => {
    const image = await buildBootImageA({ parts: parts!, initrd, fs: "erofs", marker: MARKER, workDirectory: work, name: "unsigned-uki", secureBoot: { privateKeyPem, certificatePem, leaveUkiUnsigned: true } });
    const result = await bootImage(image.imagePath, MARKER, { timeoutSeconds: 120, secureBoot: true });
    expect(result.passed).toBe(false);
    expect(result.log).not.toMatch(/Linux version/);
    expect(result.log, explainBoot(result)).toMatch(/Error loading .*gptimg-boot-a_1\+\d.*(Security Violation|Access Denied)/);
  });
});
