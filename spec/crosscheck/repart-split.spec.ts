/**
 * --split=yes against systemd-repart v257: the same split file names (SplitName= templates
 * with %t %T %n, "-" to skip, ".raw" kept), and each file holds exactly its partition.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { oraclesAvailable, runInTrixie, TRIXIE_ROOT } from "../support/oracles.js";

const available = oraclesAvailable("trixie", "root");
const work = available ? mkdtempSync(join(TRIXIE_ROOT, "tmp/gptimg-split-")) : "";
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!available)("gptimg repart --split ≡ systemd-repart v257", () => {
  it("writes the same split files with the same bytes", () => {
    const defs = join(work, "defs");
    mkdirSync(defs);
    writeFileSync(join(work, "a.img"), randomBytes(3 * 4096));
    writeFileSync(join(work, "b.img"), randomBytes(5 * 4096));
    const inside = (path: string): string => path.slice(TRIXIE_ROOT.length);
    writeFileSync(join(defs, "10-a.conf"), `[Partition]\nType=root\nCopyBlocks=${inside(join(work, "a.img"))}\n`);
    writeFileSync(join(defs, "20-b.conf"), `[Partition]\nType=linux-generic\nCopyBlocks=${inside(join(work, "b.img"))}\nSplitName=%T-%n\n`);
    writeFileSync(join(defs, "30-c.conf"), "[Partition]\nType=home\nSizeMinBytes=64K\nSplitName=-\n");
    writeFileSync(join(defs, "40-d.conf"), "[Partition]\nType=swap\nSizeMinBytes=1M\n");
    for (const who of ["theirs", "ours"]) mkdirSync(join(work, who));
    const flags = ["--empty=create", "--size=auto", "--split=yes", "--offline=yes", "--seed=01234567-89ab-cdef-0123-456789abcdef"];
    const repart = runInTrixie("systemd-repart", [`--definitions=${inside(defs)}`, ...flags, inside(join(work, "theirs", "image.raw"))]);
    expect(repart.status, repart.stderr).toBe(0);
    // The same definitions with host paths (repart saw chroot paths).
    writeFileSync(join(defs, "10-a.conf"), `[Partition]\nType=root\nCopyBlocks=${join(work, "a.img")}\n`);
    writeFileSync(join(defs, "20-b.conf"), `[Partition]\nType=linux-generic\nCopyBlocks=${join(work, "b.img")}\nSplitName=%T-%n\n`);
    const ours = gptimg(["repart", `--definitions=${defs}`, ...flags, join(work, "ours", "image.raw")]);
    expect(ours.status, ours.stderr).toBe(0);
    const theirs = readdirSync(join(work, "theirs")).sort();
    expect(readdirSync(join(work, "ours")).sort()).toEqual(theirs);
    expect(theirs).toContain("image.root-x86-64.raw");
    expect(theirs).not.toContain(expect.stringContaining("home"));
    // The swap partition's file differs in its mkswap header fields; compare the rest bytewise.
    for (const name of theirs.filter((file) => !file.includes("swap") && file !== "image.raw")) {
      expect(Buffer.compare(readFileSync(join(work, "ours", name)), readFileSync(join(work, "theirs", name))), name).toBe(0);
    }
  });
});
