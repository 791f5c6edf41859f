/**
 * The on-device definitions compose writes into the usr tree (issue 8), read back from the
 * image with trixie's fsck.erofs --extract:
 *
 * - repart.d: systemd-repart 257 (trixie chroot) runs them against the v1 image grown to a
 *   bigger disk, as first boot would. It must create exactly the partitions the spec leaves to
 *   first boot (`_empty` slots for emptySlots "first-boot", the `inImage: false` root), leave
 *   the image's partitions alone, and a second run must change nothing.
 * - sysupdate.d: every transfer parses, its Source MatchPattern matches the artifact names
 *   compose wrote, its Target MatchPattern and MatchPartitionType match slot A in the image.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolvePartitionType } from "../../lib/formats/gpt/types.js";
import { parseIni } from "../../lib/input/ini.js";
import { matchPattern } from "../../lib/update/version.js";
import { gptimg } from "../support/cli.js";
import { extractRange, sfdiskJson } from "../support/image.js";
import { oraclesAvailable, runInTrixie, TRIXIE_ROOT } from "../support/oracles.js";

const ready = oraclesAvailable("sfdisk", "trixie");
const work = mkdtempSync(join(ready ? `${TRIXIE_ROOT}/tmp` : tmpdir(), "gptimg-on-device-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const inTrixie = (path: string): string => path.slice(TRIXIE_ROOT.length);

function compose(name: string, emptySlots: "image" | "first-boot"): { image: string; usrFiles: string; artifacts: string[] } {
  const directory = join(work, name);
  mkdirSync(join(directory, "usr/lib"), { recursive: true });
  writeFileSync(join(directory, "usr/lib/os-release"), "ID=devtest\nIMAGE_VERSION=1\n");
  mkdirSync(join(directory, "esp"), { recursive: true });
  writeFileSync(join(directory, "esp/hello.txt"), "hi\n");
  const spec = {
    seed: "7a1c3e5f-9b2d-4f6a-8c0e-1d3f5a7c9e2b",
    imageId: "devtest",
    imageVersion: "1",
    update: { source: { type: "url-file", path: "https://updates.example.com/devtest" }, artifactCompression: ["zstd", "gzip"] },
    partitions: [
      { type: "esp", format: "vfat", copyFiles: ["esp:/"] },
      { type: "usr", format: "erofs", copyFiles: ["usr:/"], verity: "data", verityMatchKey: "usr", slots: 3, slotSize: "24M", emptySlots },
      { type: "usr-verity", verity: "hash", verityMatchKey: "usr" },
      { type: "var", format: "vfat", copyFiles: ["esp:/"], factoryReset: true, runtime: { sizeMinBytes: "160M", weight: 0 } },
      { type: "root", format: "ext4", inImage: false, label: "root-%A", runtime: { sizeMinBytes: "64M", factoryReset: true } },
    ],
  };
  writeFileSync(join(directory, "spec.json"), JSON.stringify(spec, null, 2));
  const image = join(directory, "disk.raw");
  const composed = gptimg(["compose", join(directory, "spec.json"), "-o", image, "--artifacts", join(directory, "artifacts")]);
  expect(composed.status, composed.stderr).toBe(0);
  const usr = sfdiskJson(image).partitions![1]!;
  const usrImage = join(directory, "usr.erofs");
  extractRange(image, usr.start * 512, usr.size * 512, usrImage);
  const usrFiles = join(directory, "usr-files");
  const extracted = runInTrixie("fsck.erofs", [`--extract=${inTrixie(usrFiles)}`, inTrixie(usrImage)]);
  expect(extracted.status, extracted.stderr).toBe(0);
  return { image, usrFiles, artifacts: readdirSync(join(directory, "artifacts")) };
}

const table = (image: string) => sfdiskJson(image).partitions!.map((partition) => ({ type: partition.type.toLowerCase(), name: partition.name, sizeBytes: partition.size * 512, start: partition.start }));

describe.skipIf(!ready)("generated repart.d: systemd-repart 257 at first boot", () => {
  it.each(["first-boot", "image"] as const)("emptySlots %s: the first run creates what the image leaves out, the second changes nothing", (emptySlots) => {
    const { image, usrFiles } = compose(`repart-${emptySlots}`, emptySlots);
    const before = table(image);
    expect(before.map((partition) => partition.name)).toEqual(emptySlots === "image" ? ["esp", "devtest_1", "devtest_1_verity", "_empty", "_empty", "_empty", "_empty", "var"] : ["esp", "devtest_1", "devtest_1_verity", "var"]);
    truncateSync(image, 2 * 1024 * 1024 * 1024);
    const repart = () => runInTrixie("systemd-repart", ["--dry-run=no", "--offline=yes", "--no-pager", `--definitions=${inTrixie(join(usrFiles, "lib/repart.d"))}`, "--seed=7a1c3e5f-9b2d-4f6a-8c0e-1d3f5a7c9e2b", inTrixie(image)]);
    const first = repart();
    expect(first.status, first.stderr).toBe(0);
    const after = table(image);
    // The image's partitions stay where they are; only var grows, to its runtime size.
    for (const old of before) {
      const now = after.find((partition) => partition.start === old.start);
      expect(now, `${old.name} at ${old.start}`).toBeDefined();
      expect({ ...now!, sizeBytes: 0 }).toEqual({ ...old, sizeBytes: 0 });
      expect(now!.sizeBytes).toBe(old.name === "var" ? 160 * 1024 * 1024 : old.sizeBytes);
    }
    const usrType = resolvePartitionType("usr", "x86-64")!.uuid;
    const usrVerityType = resolvePartitionType("usr-verity", "x86-64")!.uuid;
    const empties = after.filter((partition) => partition.name === "_empty");
    expect(empties.filter((partition) => partition.type === usrType)).toHaveLength(2);
    expect(empties.filter((partition) => partition.type === usrVerityType)).toHaveLength(2);
    for (const empty of empties) expect(empty.sizeBytes).toBe(before.find((partition) => partition.type === empty.type)!.sizeBytes);
    const root = after.find((partition) => partition.name === "root-%A" || partition.name?.startsWith("root-"));
    expect(root, JSON.stringify(after)).toBeDefined();
    expect(root!.type).toBe(resolvePartitionType("root", "x86-64")!.uuid);
    expect(root!.sizeBytes).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    const second = repart();
    expect(second.status, second.stderr).toBe(0);
    expect(table(image)).toEqual(after);
  });
});

describe.skipIf(!ready)("generated sysupdate.d transfers agree with the image and the artifacts", () => {
  it("every transfer parses; patterns match the artifact names, slot A's label and type", () => {
    const { image, usrFiles, artifacts } = compose("transfers", "image");
    const partitions = sfdiskJson(image).partitions!;
    const directory = join(usrFiles, "lib/sysupdate.d");
    const files = readdirSync(directory).sort();
    expect(files).toEqual(["10-usr-x86-64.transfer", "11-usr-x86-64-verity.transfer"]);
    for (const file of files) {
      const values = new Map(parseIni(readFileSync(join(directory, file), "utf8"), file).map((assignment) => [`${assignment.section}.${assignment.key}`, assignment.value]));
      expect(values.get("Target.Type")).toBe("partition");
      expect(values.get("Target.InstancesMax")).toBe("3");
      const type = resolvePartitionType(values.get("Target.MatchPartitionType")!, "x86-64")!;
      const slotA = partitions.find((partition) => partition.type.toLowerCase() === type.uuid && partition.name !== "_empty")!;
      const label = matchPattern(values.get("Target.MatchPattern")!, slotA.name!);
      expect(label?.version, `${file}: ${slotA.name}`).toBe("1");
      const sourcePatterns = values.get("Source.MatchPattern")!.split(" ");
      const matching = artifacts.filter((name) => sourcePatterns.some((pattern) => matchPattern(pattern, name) !== undefined));
      // Only the gzip artifact: systemd-sysupdate 257 cannot unpack .zst (sysupdateCompressions).
      expect(matching, file).toHaveLength(1);
      expect(matching[0], file).toMatch(/\.raw\.gz$/);
      for (const name of matching) {
        const match = sourcePatterns.map((pattern) => matchPattern(pattern, name)).find((found) => found !== undefined)!;
        expect(match.version).toBe("1");
        expect(match.uuid?.replaceAll("-", "")).toBe(slotA.uuid.toLowerCase().replaceAll("-", ""));
      }
      expect(BigInt(values.get("Target.PartitionFlags")!)).toBe(slotA.attrs?.includes("GUID:60") ? 1n << 60n : 0n);
    }
  });
});
