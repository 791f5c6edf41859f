/**
 * DPS rules and A/B pairing in `gptimg verify`: table-only rules on hand-made entry lists, and
 * images changed by sgdisk (the oracle edits the table: retyping, clearing the read-only bit)
 * or composed with two usr/usr-verity/usr-verity-sig triples of one architecture, which must
 * pair by PARTUUID and by the rootHash each signature names.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { GptEntry } from "../../lib/formats/gpt/encode.js";
import { ARCHITECTURE_TYPES } from "../../lib/formats/gpt/dps-table.js";
import { GPT_FLAG } from "../../lib/formats/gpt/types.js";
import { checkDpsRules } from "../../lib/verify/dps.js";
import { describePartitions } from "../../lib/verify/partitions.js";
import { makeKeyPairs } from "../crypto/keys.js";
import { gptimg } from "../support/cli.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-verify-dps-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const X86 = ARCHITECTURE_TYPES["x86-64"]!;
const ARM = ARCHITECTURE_TYPES["arm64"]!;

function entry(slot: number, typeUuid: string, label: string, attributes = GPT_FLAG.readOnly): GptEntry {
  return { slot, typeUuid, uuid: `00000000-0000-4000-8000-${String(slot).padStart(12, "0")}`, firstLba: 2048 + slot * 8, lastLba: 2055 + slot * 8, attributes, label };
}

function messages(entries: GptEntry[]): string[] {
  return checkDpsRules(describePartitions(entries, 512)).map((finding) => `${finding.severity}: ${finding.message}`);
}

describe("DPS rules", () => {
  it("accept a root + root-verity + root-verity-sig triple with the read-only flags repart sets", () => {
    expect(messages([entry(0, X86.root, "root_1"), entry(1, X86.rootVerity, "root_1_verity"), entry(2, X86.rootVeritySig, "root_1_verity_sig", 0n)])).toEqual([]);
  });

  it("want the data partition of the same designator and architecture", () => {
    expect(messages([entry(0, X86.usr, "usr"), entry(1, X86.rootVerity, "verity")])).toEqual([
      expect.stringMatching(/^error: partition 2 .*verity hash partition without a root-x86-64 data partition/),
    ]);
    expect(messages([entry(0, ARM.root, "root"), entry(1, X86.rootVerity, "verity")])).toEqual([
      expect.stringMatching(/^error: partition 2 .*without a root-x86-64 data partition/),
    ]);
    expect(messages([entry(0, X86.usr, "usr"), entry(1, X86.usrVeritySig, "sig", 0n)])).toEqual([
      expect.stringMatching(/^error: partition 2 .*verity signature partition without a usr-x86-64-verity hash partition/),
    ]);
  });

  it("warn about missing read-only flags and read-only + grow-fs", () => {
    expect(messages([entry(0, X86.root, "root", 0n), entry(1, X86.rootVerity, "verity", 0n)])).toEqual([
      expect.stringMatching(/^warning: partition 1 .*verity data partition without the read-only flag/),
      expect.stringMatching(/^warning: partition 2 .*verity hash partition without the read-only flag/),
    ]);
    expect(messages([entry(0, X86.root, "root", GPT_FLAG.readOnly | GPT_FLAG.growFileSystem)])).toEqual([expect.stringMatching(/^warning: .*both read-only and grow-file-system/)]);
  });

  it("warn about several root partitions without versioned labels, skipping _empty", () => {
    expect(messages([entry(0, X86.root, "root"), entry(1, X86.root, "root")])).toEqual([expect.stringMatching(/^warning: partitions 1, 2: .*share a label/)]);
    expect(messages([entry(0, X86.root, "root_a"), entry(1, X86.root, "root_b")])).toEqual([expect.stringMatching(/not every label carries a version/)]);
    expect(messages([entry(0, X86.root, "os_1.2"), entry(1, X86.root, "os_1.3")])).toEqual([]);
    expect(messages([entry(0, X86.root, "os_1"), entry(1, X86.root, "_empty", 0n), entry(2, X86.rootVerity, "_empty", 0n)])).toEqual([]);
  });
});

describe.skipIf(!oraclesAvailable("sgdisk", "openssl"))("verify on images changed by sgdisk, and A/B pairs", () => {
  it("pairs two usr/usr-verity/usr-verity-sig triples of one architecture by PARTUUID and rootHash, whatever their order", () => {
    const keys = makeKeyPairs(work);
    const definitions = join(work, "ab.d");
    mkdirSync(definitions, { recursive: true });
    for (const [slot, fill] of [["a", 1], ["b", 2]] as const) {
      const data = join(work, `usr-${slot}.img`);
      writeFileSync(data, Buffer.alloc(64 * 4096, fill));
      // Hash partitions first and in the other order, so table order cannot pair them.
      writeFileSync(join(definitions, `1${slot === "a" ? 1 : 0}-verity-${slot}.conf`), `[Partition]\nType=usr-verity\nLabel=usr_${slot === "a" ? 1 : 2}_verity\nVerity=hash\nVerityMatchKey=${slot}\n`);
      writeFileSync(join(definitions, `2${slot === "a" ? 0 : 1}-usr-${slot}.conf`), `[Partition]\nType=usr\nLabel=usr_${slot === "a" ? 1 : 2}\nCopyBlocks=${data}\nVerity=data\nVerityMatchKey=${slot}\n`);
      writeFileSync(join(definitions, `0${slot === "a" ? 1 : 0}-sig-${slot}.conf`), `[Partition]\nType=usr-verity-sig\nLabel=usr_${slot === "a" ? 1 : 2}_verity_sig\nVerity=signature\nVerityMatchKey=${slot}\n`);
    }
    const image = join(work, "ab.raw");
    const created = gptimg(["repart", `--definitions=${definitions}`, "--empty=create", "--size=auto", `--private-key=${keys.rsa.keyPath}`, `--certificate=${keys.rsa.certificatePath}`, image, "--json=short"]);
    expect(created.stderr).toBe("");
    const table = JSON.parse(created.stdout) as Array<{ label: string; uuid: string; roothash?: string }>;
    const result = gptimg(["verify", image, "--json", `--certificate=${keys.rsa.certificatePath}`]);
    expect(result.status, result.stdout).toBe(0);
    const report = JSON.parse(result.stdout) as { findings: unknown[]; verity: Array<{ dataIndex: number; hashIndex: number; signatureIndex?: number; rootHash: string; ok: boolean }> };
    expect(report.findings).toEqual([]);
    const byLabel = (label: string): number => table.findIndex((partition) => partition.label === label) + 1;
    expect(report.verity.map((pair) => [pair.dataIndex, pair.hashIndex, pair.signatureIndex, pair.ok]).sort()).toEqual([
      [byLabel("usr_1"), byLabel("usr_1_verity"), byLabel("usr_1_verity_sig"), true],
      [byLabel("usr_2"), byLabel("usr_2_verity"), byLabel("usr_2_verity_sig"), true],
    ].sort());
    for (const pair of report.verity) {
      expect(pair.rootHash).toBe(table[pair.dataIndex - 1]!.uuid.replaceAll("-", "") + table[pair.hashIndex - 1]!.uuid.replaceAll("-", ""));
    }
  });

  it("reports what sgdisk changed: a retyped data partition and a cleared read-only bit", () => {
    const definitions = join(work, "one.d");
    mkdirSync(definitions, { recursive: true });
    writeFileSync(join(work, "one.img"), Buffer.alloc(32 * 4096, 7));
    writeFileSync(join(definitions, "10-usr.conf"), `[Partition]\nType=usr\nLabel=usr_1\nCopyBlocks=${join(work, "one.img")}\nVerity=data\nVerityMatchKey=usr\n`);
    writeFileSync(join(definitions, "20-verity.conf"), "[Partition]\nType=usr-verity\nLabel=usr_1_verity\nVerity=hash\nVerityMatchKey=usr\n");
    const image = join(work, "one.raw");
    expect(gptimg(["repart", `--definitions=${definitions}`, "--empty=create", "--size=auto", image]).status).toBe(0);

    const retyped = join(work, "retyped.raw");
    copyFileSync(image, retyped);
    runOk("sgdisk", ["-t", "1:0FC63DAF-8483-4772-8E79-3D69D8477DE4", retyped]);
    const retypedReport = JSON.parse(gptimg(["verify", retyped, "--json"]).stdout) as { findings: Array<{ message: string }>; verity: unknown[] };
    expect(retypedReport.findings.map((finding) => finding.message)).toEqual([expect.stringMatching(/verity hash partition without a usr-x86-64 data partition/)]);
    expect(retypedReport.verity).toEqual([]);

    const writable = join(work, "writable.raw");
    copyFileSync(image, writable);
    runOk("sgdisk", ["-A", "2:clear:60", writable]);
    const result = gptimg(["verify", writable, "--json"]);
    expect(result.status).toBe(0);
    expect((JSON.parse(result.stdout) as { findings: unknown[] }).findings).toEqual([{ severity: "warning", area: "dps", message: expect.stringMatching(/partition 2 .*without the read-only flag/) }]);
  });
});
