/**
 * systemd's TEST-58-REPART "basic" sequence (test/units/TEST-58-REPART.sh, v257), replayed
 * with `gptimg repart`: create an empty image, add partitions with --include-partitions,
 * reinitialize with --defer-partitions, fill in the deferred ones, ignore changed
 * Label=/UUID= of existing partitions, grow to 2G, add a CopyBlocks= partition at 3G. The
 * expected tables are the ones that test asserts (sfdisk -d, sector-size line dropped).
 */
import { randomBytes } from "node:crypto";
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";

const seed = "750b6cd5c4ae4012a15e7be3c29e6a47";
const rootGuid = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
const rootUuid = "60F33797-1D71-4DCB-AA6F-20564F036CD0";
const rootUuid2 = "73A4CCD2-EAF5-44DA-A366-F99188210FDC";
const work = mkdtempSync(join(tmpdir(), "gptimg-test58-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const defs = join(work, "defs");
const image = join(work, "zzz");
const header = (lastLba: number): string => `label: gpt\nlabel-id: 1D2CE291-7CCE-4F7D-BC83-FDB49AD74EBD\ndevice: IMAGE\nunit: sectors\nfirst-lba: 2048\nlast-lba: ${lastLba}`;
const home = 'IMAGE1 : start=        2048, size=      591856, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, uuid=4980595D-D74A-483A-AA9E-9903879A0EE5, name="home-first", attrs="GUID:59"';
const root1 = `IMAGE2 : start=      593904, size=      591856, type=${rootGuid}, uuid=${rootUuid}, name="root-x86-64", attrs="GUID:59"`;
const root2 = `IMAGE3 : start=     1185760, size=      591864, type=${rootGuid}, uuid=${rootUuid2}, name="root-x86-64-2", attrs="GUID:59"`;
const swap = 'IMAGE4 : start=     1777624, size=      131072, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=78C92DB8-3D2B-4823-B0DC-792B78F66F1E, name="swap"';

function repart(...args: string[]): void {
  const result = gptimg(["repart", ...args, `--seed=${seed}`, image]);
  expect(result.stderr.split("\n").filter((line) => line.startsWith("gptimg:"))).toEqual([]);
  expect(result.status).toBe(0);
}

function table(): string {
  return runOk("sfdisk", ["-d", image]).split("\n").filter((line) => line !== "" && !line.startsWith("sector-size")).join("\n").replaceAll(image, "IMAGE");
}

describe.skipIf(!oraclesAvailable("sfdisk"))("TEST-58-REPART basic, replayed with gptimg repart", () => {
  it("produces the tables systemd's test asserts", () => {
    mkdirSync(defs);
    // 1. an empty image
    repart("--empty=create", "--size=1G");
    expect(table()).toBe(header(2097118));

    // 2. root, root2 (a symlink), home (its second label is too long and ignored), swap
    writeFileSync(join(defs, "root.conf"), "[Partition]\nType=root\n");
    symlinkSync("root.conf", join(defs, "root2.conf"));
    writeFileSync(join(defs, "home.conf"), "[Partition]\nType=home\nLabel=home-first\nLabel=home-always-too-long-xxxxxxxxxxxxxx-%v\n");
    writeFileSync(join(defs, "swap.conf"), "[Partition]\nType=swap\nSizeMaxBytes=64M\nPaddingMinBytes=92M\n");
    repart(`--definitions=${defs}`, "--dry-run=no", "--include-partitions=home,swap");
    expect(table()).toBe(`${header(2097118)}\n${'IMAGE1 : start=        2048, size=     1775576, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, uuid=4980595D-D74A-483A-AA9E-9903879A0EE5, name="home-first", attrs="GUID:59"'}\nIMAGE2 : start=     1777624, size=      131072, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=78C92DB8-3D2B-4823-B0DC-792B78F66F1E, name="swap"`);

    repart(`--definitions=${defs}`, "--dry-run=no", "--empty=force", "--defer-partitions=home,root");
    expect(table()).toBe(`${header(2097118)}\n${swap}`);

    repart(`--definitions=${defs}`, "--dry-run=no");
    expect(table()).toBe([header(2097118), home, root1, root2, swap].join("\n"));

    // 3. another partition; changed Label=/UUID= of an existing partition are ignored
    writeFileSync(join(defs, "swap.conf"), "[Partition]\nType=swap\nSizeMaxBytes=64M\n");
    writeFileSync(join(defs, "extra.conf"), "[Partition]\nType=linux-generic\nLabel=custom_label\nUUID=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\n");
    appendFileSync(join(defs, "home.conf"), "Label=ignored_label\nUUID=b0b1b2b3b4b5b6b7b8b9babbbcbdbebf\n");
    repart(`--definitions=${defs}`, "--dry-run=no");
    const extra = (size: number): string => `IMAGE5 : start=     1908696, size=${String(size).padStart(12)}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=A0A1A2A3-A4A5-A6A7-A8A9-AAABACADAEAF, name="custom_label"`;
    expect(table()).toBe([header(2097118), home, root1, root2, swap, extra(188416)].join("\n"));

    // 4. grow to 2G
    repart(`--definitions=${defs}`, "--size=2G", "--dry-run=no");
    expect(table()).toBe([header(4194270), home, root1, root2, swap, extra(2285568)].join("\n"));

    // 5. a CopyBlocks= partition at 3G, its bytes copied verbatim
    const blocks = randomBytes(4096 * 10240);
    writeFileSync(join(work, "block-copy"), blocks);
    writeFileSync(join(defs, "extra2.conf"), `[Partition]\nType=linux-generic\nLabel=block-copy\nUUID=2a1d97e1d0a346cca26eadc643926617\nCopyBlocks=${join(work, "block-copy")}\n`);
    repart(`--definitions=${defs}`, "--size=3G", "--dry-run=no");
    expect(table()).toBe([header(6291422), home, root1, root2, swap, extra(2285568), 'IMAGE6 : start=     4194264, size=     2097152, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=2A1D97E1-D0A3-46CC-A26E-ADC643926617, name="block-copy"'].join("\n"));
    const written = Buffer.alloc(blocks.length);
    const handle = openSync(image, "r");
    readSync(handle, written, 0, blocks.length, 512 * 4194264);
    closeSync(handle);
    expect(Buffer.compare(written, blocks)).toBe(0);
    runOk("sgdisk", ["-v", image]);
  });
});
