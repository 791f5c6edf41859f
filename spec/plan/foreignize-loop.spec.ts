/**
 * Regression: the allocator looped forever when dropping by priority reached an *existing*
 * partition. Root cause: repart "foreignizes" such a partition (partition_foreignize():
 * priority 0, weight 1000, no padding settings), but gptimg kept its configured priority, so
 * the highest remaining priority never went down and the drop loop never ended. Found by the
 * repart differential (second pass, 4K sectors, --size smaller than the image).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { GPTIMG_BIN } from "../support/cli.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-foreignize-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DEFINITIONS: Record<string, string> = {
  "00-part.conf": "[Partition]\nType=tmp\nSizeMinBytes=13M\nSizeMaxBytes=17031505\nPaddingMinBytes=16092K\nPaddingMaxBytes=50M\nWeight=14\n",
  "01-part.conf": "[Partition]\nType=swap\nSizeMinBytes=5435K\nSizeMaxBytes=25714K\nPaddingMaxBytes=21M\nPaddingWeight=522\nPriority=2\n",
  "02-part.conf": "[Partition]\nType=linux-generic\nLabel=data\nSizeMaxBytes=32576K\nPaddingMinBytes=5M\nPaddingMaxBytes=54M\nPaddingWeight=2508\nPriority=1\n",
  "03-part.conf": "[Partition]\nType=swap\nSizeMinBytes=53M\nPaddingMinBytes=1724K\nPaddingMaxBytes=2258K\nPaddingWeight=706\nPriority=2\n",
  "04-part.conf": "[Partition]\nType=usr-riscv64\nSizeMinBytes=8672K\nSizeMaxBytes=10907K\nPaddingMinBytes=31M\nPaddingWeight=2603\n",
};

function repart(args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [GPTIMG_BIN, "repart", `--definitions=${join(work, "defs")}`, "--seed=dcd6ebc6-f1f7-4708-b614-9cac00000010", "--sector-size=4096", ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stderr: result.stderr };
}

describe("priority dropping of existing partitions", () => {
  it("terminates with repart's refusal instead of looping", () => {
    mkdirSync(join(work, "defs"));
    // Pass 1: only the first two definitions, in an image of the size the differential drew.
    for (const name of ["00-part.conf", "01-part.conf"]) writeFileSync(join(work, "defs", name), DEFINITIONS[name]!);
    expect(repart(["--empty=create", "--size=36741120", join(work, "image.raw")]).status).toBe(0);
    // Pass 2: all of them; nothing fits, the priority-2 swap that exists gets foreignized.
    for (const [name, text] of Object.entries(DEFINITIONS)) writeFileSync(join(work, "defs", name), text);
    const second = repart(["--dry-run=no", "--size=7M", join(work, "image.raw")]);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain("can't fit requested partitions");
  });
});
