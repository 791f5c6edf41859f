/**
 * repart definitions with Minimize=best on a squashfs Verity=data partition and its
 * Verity=hash partition, CopyFiles= from --copy-source: both partitions are exactly their
 * content, and veritysetup accepts the pair with the root hash the PARTUUIDs carry.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { extractRange, sfdiskJson } from "../support/image.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-minimize-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!oraclesAvailable("sfdisk", "veritysetup", "unsquashfs"))("repart Minimize=best with verity", () => {
  it("sizes data and hash partitions to their content; veritysetup verifies them", () => {
    mkdirSync(join(work, "defs"));
    cpSync(resolve("examples/minimal/rootfs"), join(work, "source", "rootfs"), { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(work, "defs", "10-root.conf"), "[Partition]\nType=root\nFormat=squashfs\nCopyFiles=/rootfs:/\nVerity=data\nVerityMatchKey=r\nMinimize=best\n");
    writeFileSync(join(work, "defs", "20-verity.conf"), "[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=r\nMinimize=best\n");
    const image = join(work, "image.raw");
    const result = gptimg(["repart", `--definitions=${join(work, "defs")}`, `--copy-source=${join(work, "source")}`, "--empty=create", "--size=auto", "--seed=01234567-89ab-cdef-0123-456789abcdef", image]);
    expect(result.status, result.stderr).toBe(0);
    const [root, verity] = sfdiskJson(image).partitions!;
    extractRange(image, root!.start * 512, root!.size * 512, join(work, "root.img"));
    extractRange(image, verity!.start * 512, verity!.size * 512, join(work, "verity.img"));
    const squashfsBytes = Number(/Filesystem size (\d+) bytes/.exec(runOk("unsquashfs", ["-s", join(work, "root.img")]))![1]);
    expect(root!.size * 512).toBe(Math.ceil(squashfsBytes / 4096) * 4096);
    const rootHash = (root!.uuid + verity!.uuid).replaceAll("-", "").toLowerCase();
    runOk("veritysetup", ["verify", join(work, "root.img"), join(work, "verity.img"), rootHash]);
    // One data block: the hash device is the superblock alone, the root hash is that block's digest.
    expect(verity!.size * 512).toBe(4096);
  });
});
