/**
 * The real Debian trixie tree → our erofs image → fsck.erofs 1.8 and the host kernel, plus a
 * size sanity check against mkfs.erofs 1.8 (uncompressed) on the same tree.
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErofsPlan } from "../../../lib/formats/erofs/plan.js";
import type { DirNode } from "../../../lib/tree/tree.js";
import { treeFromDirectory } from "../../../lib/tree/from-dir.js";
import { treeFromTar } from "../../../lib/tree/from-tar.js";
import { oraclesAvailable, run, runInTrixie, runOk, TRIXIE_TREE_DIR, TRIXIE_TREE_TAR } from "../../support/oracles.js";
import { diffSnapshots, snapshotHostDirectory, snapshotTree, withoutFsckExtractLimits, type EntrySnapshot } from "./support/host-tree.js";
import type { ErofsCompressionOptions } from "../../../lib/formats/erofs/compress.js";
import { buildImage, chrootScratch, extractWithFsck, fsckErofs, insideChroot, snapshotKernelMount, TEST_UUID } from "./support/oracle-run.js";

const available = oraclesAvailable("root", "trixie", "trixie-tree", "getfattr");
const SOURCE_DATE_EPOCH = 1_750_000_000;

const SOURCES: [string, () => Promise<DirNode>, ErofsCompressionOptions | undefined][] = [
  ["directory", () => treeFromDirectory(TRIXIE_TREE_DIR), undefined],
  ["GNU tar", () => treeFromTar(TRIXIE_TREE_TAR), undefined],
  ["directory, zstd level 3", () => treeFromDirectory(TRIXIE_TREE_DIR), { algorithm: "zstd", level: 3 }],
  ["directory, lz4", () => treeFromDirectory(TRIXIE_TREE_DIR), { algorithm: "lz4" }],
];

describe.skipIf(!available).each(SOURCES)("erofs of the Debian trixie tree from a %s", (sourceName, readTree, compression) => {
  let scratch: string;
  let tree: DirNode;
  let expected: Map<string, EntrySnapshot>;
  let image: string;
  let plan: ErofsPlan;

  beforeAll(async () => {
    scratch = chrootScratch("erofs-debian");
    tree = await readTree();
    expected = await snapshotTree(tree);
    image = join(scratch, "debian.erofs");
    expect(expected.size).toBeGreaterThan(5000);
    plan = await buildImage(tree, { uuid: TEST_UUID, sourceDateEpoch: SOURCE_DATE_EPOCH }, image, compression);
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("passes fsck.erofs with full data check", () => {
    fsckErofs(image);
    expect(statSync(image).size).toBe(plan.sizeBytes);
  });

  // Extraction writes and re-hashes the whole tree; once (from the directory) is enough.
  if (sourceName === "directory") it("fsck.erofs --extract gives back the source tree", async () => {
    const extracted = extractWithFsck(image, join(scratch, "extracted"));
    expect(diffSnapshots(withoutFsckExtractLimits(expected), await snapshotHostDirectory(extracted))).toBe("");
  });

  it("a host kernel mount gives back the source tree", async () => {
    expect(diffSnapshots(expected, await snapshotKernelMount(image))).toBe("");
  });

  if (sourceName === "directory") it("is within 1% of mkfs.erofs 1.8 (uncompressed, per-file mtimes) on the same tree", () => {
    const bound = join(scratch, "tree");
    mkdirSync(bound);
    runOk("mount", ["--bind", "-o", "ro", TRIXIE_TREE_DIR, bound]);
    try {
      const reference = join(scratch, "mkfs.erofs");
      const result = runInTrixie("mkfs.erofs", ["--quiet", `-U${TEST_UUID}`, `-T${SOURCE_DATE_EPOCH}`, "--mkfs-time", insideChroot(reference), insideChroot(bound)]);
      expect(result.status, result.stderr).toBe(0);
      const referenceBytes = statSync(reference).size;
      console.log(`erofs Debian tree: ours ${plan.sizeBytes} bytes, mkfs.erofs 1.8 ${referenceBytes} bytes (${(plan.sizeBytes / referenceBytes).toFixed(4)}×)`);
      expect(plan.sizeBytes).toBeLessThanOrEqual(referenceBytes * 1.01);
    } finally {
      run("umount", [bound]);
    }
  });
});
