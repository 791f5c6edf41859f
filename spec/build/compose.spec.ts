/**
 * `gptimg compose` end to end on the bundled example, judged by real tools (sgdisk, sfdisk,
 * fsck.fat, unsquashfs, veritysetup), and the determinism contract: same spec + seed ⇒ the
 * same bytes whatever the cwd, time zone, umask or worker count; SOURCE_DATE_EPOCH gives a
 * (different) reproducible image too.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { extractRange, sfdiskJson, sgdiskProblems } from "../support/image.js";
import { oraclesAvailable, run, runOk } from "../support/oracles.js";

const EXAMPLE = resolve("examples/minimal/spec.json");
const work = mkdtempSync(join(tmpdir(), "gptimg-compose-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function composeExample(output: string, options: { env?: NodeJS.ProcessEnv; cwd?: string; args?: string[] } = {}): { report: { partitions: Array<{ type: string; offset: number; size: number; uuid: string; label: string; roothash?: string }>; verity: Array<{ rootHash: string }> } } {
  const result = gptimg(["compose", EXAMPLE, "-o", output, "--json", ...(options.args ?? [])], { env: options.env, cwd: options.cwd });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return { report: JSON.parse(result.stdout) };
}

describe.skipIf(!oraclesAvailable("sfdisk", "sgdisk", "fsck.fat", "unsquashfs", "veritysetup"))("compose the bundled example", () => {
  it("real tools accept the table, the ESP, the squashfs root and its verity tree", () => {
    const image = join(work, "example.raw");
    const { report } = composeExample(image);
    expect(sgdiskProblems(image)).toEqual([]);
    const table = sfdiskJson(image);
    expect(table.partitions!.map((partition) => [partition.start * 512, partition.size * 512, partition.uuid.toLowerCase(), partition.name])).toEqual(
      report.partitions.map((partition) => [partition.offset, partition.size, partition.uuid, partition.label]),
    );
    const [esp, root, verity] = report.partitions;
    extractRange(image, esp!.offset, esp!.size, join(work, "esp.img"));
    const fsck = run("fsck.fat", ["-n", join(work, "esp.img")]);
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
    expect(runOk("mtype", ["-i", join(work, "esp.img"), "::/loader/loader.conf"])).toContain("timeout 3");
    extractRange(image, root!.offset, root!.size, join(work, "root.img"));
    const listing = runOk("unsquashfs", ["-lln", join(work, "root.img")]);
    expect(listing).toMatch(/-rwxr-xr-x 0\/0 +\d+ .* squashfs-root\/usr\/bin\/hello/);
    extractRange(image, verity!.offset, verity!.size, join(work, "verity.img"));
    const rootHash = report.verity[0]!.rootHash;
    runOk("veritysetup", ["verify", join(work, "root.img"), join(work, "verity.img"), rootHash]);
    expect(root!.uuid.replaceAll("-", "") + verity!.uuid.replaceAll("-", "")).toBe(rootHash);
  });

  it("is byte-identical across cwd, TZ, umask and worker counts", () => {
    const reference = join(work, "reference.raw");
    composeExample(reference);
    const expected = sha256(reference);
    const variants: Array<{ name: string; env?: NodeJS.ProcessEnv; cwd?: string; args?: string[] }> = [
      { name: "cwd", cwd: tmpdir() },
      { name: "tz", env: { TZ: "Pacific/Kiritimati", LANG: "de_DE.UTF-8", LC_ALL: "tr_TR.UTF-8" } },
      { name: "workers-1", args: ["--workers", "1"] },
      { name: "workers-8", args: ["--workers", "8"] },
    ];
    for (const variant of variants) {
      const output = join(work, `${variant.name}.raw`);
      composeExample(output, variant);
      expect(sha256(output), variant.name).toBe(expected);
    }
    const umaskOutput = join(work, "umask.raw");
    runOk("sh", ["-c", `umask 077 && "${process.execPath}" "${process.env["GPTIMG_BIN"] ?? resolve("dist/bin/gptimg.js")}" compose "${EXAMPLE}" -o "${umaskOutput}"`]);
    expect(sha256(umaskOutput)).toBe(expected);
  });

  it("SOURCE_DATE_EPOCH builds are reproducible too", () => {
    const first = join(work, "epoch-1.raw");
    const second = join(work, "epoch-2.raw");
    mkdirSync(join(work, "elsewhere"), { recursive: true });
    composeExample(first, { env: { SOURCE_DATE_EPOCH: "1700000000" } });
    composeExample(second, { env: { SOURCE_DATE_EPOCH: "1700000000", TZ: "Asia/Kolkata" }, cwd: join(work, "elsewhere"), args: ["--workers", "2"] });
    expect(sha256(first)).toBe(sha256(second));
  });
});
