/**
 * Edge-case tree (read from the directory, and from a GNU tar of it) → our erofs image
 * (uncompressed, zstd, deflate, lz4) → fsck.erofs 1.8 (trixie) and the host kernel. Both readers
 * must give back exactly the tree.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErofsCompressionOptions } from "../../../lib/formats/erofs/compress.js";
import type { ErofsPlan } from "../../../lib/formats/erofs/plan.js";
import { treeFromDirectory } from "../../../lib/tree/from-dir.js";
import { treeFromTar } from "../../../lib/tree/from-tar.js";
import type { DirNode } from "../../../lib/tree/tree.js";
import { oraclesAvailable, runInTrixie, runOk } from "../../support/oracles.js";
import { createEdgeTree } from "./support/edge-tree.js";
import { diffSnapshots, snapshotHostDirectory, snapshotTree, withoutFsckExtractLimits, type EntrySnapshot } from "./support/host-tree.js";
import { buildImage, chrootScratch, extractWithFsck, fsckErofs, insideChroot, snapshotKernelMount, TEST_UUID } from "./support/oracle-run.js";

const available = oraclesAvailable("root", "trixie", "getfattr", "setfattr", "mknod", "python3", "tar");

/** GNU tar keeps xattrs and numeric owners (and skips the socket, as tar always does). */
async function readThroughTar(source: string): Promise<DirNode> {
  const archive = `${source}.tar`;
  runOk("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-cf", archive, "-C", source, "."]);
  return treeFromTar(archive);
}

const CASES: [string, (source: string) => Promise<DirNode>, ErofsCompressionOptions | undefined][] = [
  ["directory", (source) => treeFromDirectory(source), undefined],
  ["GNU tar", readThroughTar, undefined],
  ["directory, zstd", (source) => treeFromDirectory(source), { algorithm: "zstd" }],
  ["GNU tar, deflate", readThroughTar, { algorithm: "deflate", pclusterBytes: 16384 }],
  ["directory, lz4", (source) => treeFromDirectory(source), { algorithm: "lz4", pclusterBytes: 32768 }],
];

describe.skipIf(!available).each(CASES)("erofs edge tree from a %s against fsck.erofs 1.8 and the kernel", (_name, readTree, compression) => {
  let scratch: string;
  let tree: DirNode;
  let expected: Map<string, EntrySnapshot>;
  let image: string;
  let plan: ErofsPlan;

  beforeAll(async () => {
    scratch = chrootScratch("erofs-edge");
    const source = join(scratch, "source");
    mkdirSync(source);
    createEdgeTree(source);
    tree = await readTree(source);
    expected = await snapshotTree(tree);
    image = join(scratch, "edge.erofs");
    plan = await buildImage(tree, { uuid: TEST_UUID, label: "edge-tree", sourceDateEpoch: 1_700_000_000 }, image, compression);
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("stores the large compressible files compressed exactly when compression is asked for", () => {
    expect(plan.inodes.some((inode) => inode.compressed)).toBe(compression !== undefined);
  });

  it("passes fsck.erofs with full data check", () => {
    expect(fsckErofs(image)).not.toMatch(/corrupt|error/i);
  });

  it("fsck.erofs --extract gives back the source tree", async () => {
    const extracted = extractWithFsck(image, join(scratch, "extracted"));
    expect(diffSnapshots(withoutFsckExtractLimits(expected), await snapshotHostDirectory(extracted))).toBe("");
  });

  it("a host kernel mount gives back the source tree", async () => {
    expect(diffSnapshots(expected, await snapshotKernelMount(image))).toBe("");
  });

  it("dump.erofs reports our UUID, label, block count and root nid", () => {
    const result = runInTrixie("dump.erofs", ["-s", insideChroot(image)]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Filesystem UUID:                              ${TEST_UUID}`);
    expect(result.stdout).toMatch(new RegExp(`Filesystem blocks:\\s+${plan.blocks}\\n`));
    expect(result.stdout).toMatch(new RegExp(`Filesystem root nid:\\s+${plan.rootNid}\\n`));
    expect(result.stdout).toMatch(compression ? /Filesystem features:\s+sb_csum 0padding compr_cfgs big_pcluster/ : /Filesystem features:\s+sb_csum\s*\n/);
    if (compression) expect(result.stdout).toMatch(new RegExp(`Filesystem compr_algs:\\s+${compression.algorithm}\\n`));
  });
});
