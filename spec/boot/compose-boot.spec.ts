/**
 * The boot chain from one `gptimg compose` (issue 7): the spec's `boot` section puts
 * systemd-boot and a UKI into the ESP, and the UKI's command line gets the root hash of the
 * erofs root's verity tree computed in the same run. OVMF must reach the marker; the
 * command line the kernel prints must carry the hash `compose --json` reported. An lz4-compressed
 * erofs root boots too.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { extractRange, sfdiskJson } from "../support/image.js";
import { oraclesAvailable, runInTrixie, runOk } from "../support/oracles.js";
import { chrootScratch, insideChroot } from "../formats/erofs/support/oracle-run.js";
import { bootImage, bootOraclesAvailable, explainBoot } from "./harness.js";
import { makeRootTree } from "./image-a.js";
import { bootParts, oracleBootSection, ORACLE_SCRIPTS_DIR, type BootParts } from "./parts.js";

const MARKER = "GPTIMG-COMPOSE-BOOT-OK";
const EPOCH = 1_704_067_200;
const work = mkdtempSync(join(tmpdir(), "gptimg-compose-boot-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ready = bootOraclesAvailable() && oraclesAvailable("veritysetup", "blkid", "trixie", "sfdisk");
const parts: BootParts | undefined = ready ? bootParts() : undefined;

describe.skipIf(parts === undefined)("compose with a boot section boots under OVMF", () => {
  // The boot parts' kernel is Debian 12's 6.1: it reads lz4-compressed erofs (not deflate or zstd).
  it.each([["erofs", "none"], ["erofs", "lz4"], ["squashfs", "gzip"]] as const)("%s (compression %s) root + verity, UKI with roothash= from the same compose", async (format, compression) => {
    const directory = join(work, `${format}-${compression}`);
    mkdirSync(directory, { recursive: true });
    runOk(join(ORACLE_SCRIPTS_DIR, "make-initrd-tree.sh"), ["--parts", parts!.directory, join(directory, "initrd")], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
    makeRootTree(join(directory, "root"), parts!.busybox, MARKER);
    const spec = {
      seed: "3f9a6c1e-2b4d-4e8f-a0c2-5d7e9f1b3a6c",
      size: "auto",
      sourceDateEpoch: EPOCH,
      boot: oracleBootSection(parts!, 'ID=gptimg-compose\nPRETTY_NAME="gptimg compose boot test"\nVERSION_ID=1\n', { id: "gptimg-compose", version: "1" }),
      partitions: [
        { type: "esp", format: "vfat" },
        { type: "root", format, compression, copyFiles: ["root:/"], verity: "data", verityMatchKey: "root" },
        { type: "root-verity", verity: "hash", verityMatchKey: "root" },
      ],
    };
    writeFileSync(join(directory, "spec.json"), JSON.stringify(spec, null, 2));
    const image = join(directory, "disk.raw");
    const composed = gptimg(["compose", join(directory, "spec.json"), "-o", image, "--json"]);
    expect(composed.status, composed.stderr).toBe(0);
    const report = JSON.parse(composed.stdout) as { verity: Array<{ rootHash: string; kernelCommandLine: string }> };
    const rootHash = report.verity[0]!.rootHash;
    if (compression === "lz4") {
      // The kernel must decompress to run init: busybox is stored compressed.
      const scratch = chrootScratch("compose-boot");
      try {
        const root = sfdiskJson(image).partitions[1]!;
        extractRange(image, root.start * 512, root.size * 512, join(scratch, "root.erofs"));
        const dumped = runInTrixie("dump.erofs", ["--path=/bin/busybox", insideChroot(join(scratch, "root.erofs"))]);
        expect(dumped.stdout, dumped.stderr).toMatch(/Layout: 1\b/);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
    const result = await bootImage(image, MARKER, { timeoutSeconds: 240 });
    expect(result.passed, explainBoot(result)).toBe(true);
    expect(result.log).toContain(`roothash=${rootHash}`);
    expect(result.log).toMatch(/gptimg-root: dm-0 is dm device/);
    expect(result.log).toMatch(/LoaderBootCountPath=.*gptimg-compose_1\+2-1\.efi/);
  });
});
