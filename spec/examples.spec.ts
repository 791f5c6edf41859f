/**
 * Every example in examples/ composes and passes `gptimg verify` and sgdisk -v; the host kernel
 * mounts ab-persistent's zstd-compressed erofs root; the x86-64 A/B appliance also boots
 * under OVMF to its stand-in init (issue 8).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bootImage, bootOraclesAvailable, explainBoot } from "./boot/harness.js";
import { bootParts, BOOT_PARTS_DIR } from "./boot/parts.js";
import { gptimg } from "./support/cli.js";
import { sfdiskJson, sgdiskProblems } from "./support/image.js";
import { oraclesAvailable, run, runOk } from "./support/oracles.js";

const EXAMPLES = new URL("../examples/", import.meta.url).pathname;
const CERTIFICATE = join(EXAMPLES, "keys/verity-example.crt.pem");
const work = mkdtempSync(join(tmpdir(), "gptimg-examples-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const examples = readdirSync(EXAMPLES).filter((name) => existsSync(join(EXAMPLES, name, "spec.json")));
const needsBootParts = (name: string): boolean => existsSync(join(EXAMPLES, name, "prepare.sh"));
const bootReady = bootOraclesAvailable() && oraclesAvailable("veritysetup", "blkid") && bootParts() !== undefined;

function composeExample(name: string): string {
  if (needsBootParts(name)) runOk(join(EXAMPLES, name, "prepare.sh"), [], { env: { ...process.env, GPTIMG_BOOT_PARTS: BOOT_PARTS_DIR } });
  const image = join(work, `${name}.raw`);
  rmSync(image, { force: true });
  const composed = gptimg(["compose", join(EXAMPLES, name, "spec.json"), "-o", image]);
  expect(composed.status, composed.stderr).toBe(0);
  return image;
}

describe.skipIf(!oraclesAvailable("sgdisk"))("examples", () => {
  it.each(examples)("%s composes and verifies", (name) => {
    if (needsBootParts(name) && !bootReady) return;
    const image = composeExample(name);
    const verified = gptimg(["verify", image, "--certificate", CERTIFICATE]);
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain("no problems found");
    expect(sgdiskProblems(image)).toEqual([]);
  });

  it.skipIf(!oraclesAvailable("root", "sfdisk"))("ab-persistent: the host kernel mounts the zstd erofs root of slot A and it holds the source tree", () => {
    const image = composeExample("ab-persistent");
    const table = sfdiskJson(image);
    const root = table.partitions.find((partition) => partition.name === "abroot_1")!;
    const mountPoint = join(work, "ab-persistent-root");
    mkdirSync(mountPoint, { recursive: true });
    runOk("mount", ["-o", `loop,ro,offset=${root.start * 512},sizelimit=${root.size * 512}`, "-t", "erofs", image, mountPoint]);
    try {
      const source = join(EXAMPLES, "ab-persistent", "root");
      // Every source file is there with its bytes; the generated repart.d/sysupdate.d come on top.
      const differences = run("diff", ["-r", source, mountPoint]).stdout.split("\n").filter((line) => line !== "" && !line.startsWith(`Only in ${mountPoint}`));
      expect(differences).toEqual([]);
      expect(readdirSync(join(mountPoint, "usr/lib/repart.d")).length).toBeGreaterThan(0);
    } finally {
      runOk("umount", [mountPoint]);
    }
  });

  it.skipIf(!bootReady)("ab-appliance boots version 1 from slot A", async () => {
    const image = composeExample("ab-appliance");
    const result = await bootImage(image, "APPLIANCE-RUNNING-1", { timeoutSeconds: 240 });
    expect(result.passed, explainBoot(result)).toBe(true);
    expect(result.log).toMatch(/usr: data \/dev\/\w+ \(appliance_1\)/);
  }, 600_000);
});
