/**
 * Issue 4 edge tree → our squashfs (gzip and zstd) → unsquashfs 4.5 (-s, -lln, extraction)
 * and the host kernel (loop mount). Both readers must give back exactly the source tree:
 * type, mode, owner, size, content, link target, device number, hardlink grouping, xattrs
 * (user./trusted./security.) and mtime.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSquashfsFile, type SquashfsResult } from "../../../lib/formats/squashfs/write.js";
import { treeFromDirectory } from "../../../lib/tree/from-dir.js";
import { treeFromTar } from "../../../lib/tree/from-tar.js";
import type { DirNode } from "../../../lib/tree/tree.js";
import { oraclesAvailable, runOk } from "../../support/oracles.js";
import { createSquashfsEdgeTree, EDGE_BLOCK_BYTES } from "./support/edge-tree.js";
import { describeForSquashfs, describeKernelMount, describeUnsquashfsExtract, treeListing, unsquashfsListing } from "./support/oracle.js";

const available = oraclesAvailable("root", "unsquashfs", "getfattr", "setfattr", "mknod", "python3", "mount");
// After every mtime in the tree (2100-01-01 included), so all mtimes must survive unchanged.
const SOURCE_DATE_EPOCH = 4_200_000_000;

describe.skipIf(!available)("squashfs edge tree against unsquashfs and the kernel", () => {
  let scratch: string;
  let tree: DirNode;
  let expected: string[];
  let source: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-edge-"));
    source = join(scratch, "source");
    mkdirSync(source);
    createSquashfsEdgeTree(source);
    tree = await treeFromDirectory(source, { sourceDateEpoch: SOURCE_DATE_EPOCH });
    expected = await describeForSquashfs(tree);
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const compression of ["gzip", "zstd"] as const) {
    describe(compression, () => {
      let image: string;
      let result: SquashfsResult;

      beforeAll(async () => {
        image = join(scratch, `edge-${compression}.sqfs`);
        result = await buildSquashfsFile(tree, { compression, blockSize: EDGE_BLOCK_BYTES, concurrency: 2, sourceDateEpoch: SOURCE_DATE_EPOCH }, image);
      });

      it("unsquashfs -s reads our superblock", () => {
        const stat = runOk("unsquashfs", ["-s", image]);
        expect(stat).toContain("Found a valid SQUASHFS 4:0 superblock");
        expect(stat).toContain(`Compression ${compression}`);
        expect(stat).toContain(`Block size ${EDGE_BLOCK_BYTES}`);
        expect(stat).toContain(`Number of inodes ${result.inodes}`);
        expect(stat).toContain(`Number of fragments ${result.fragments}`);
        expect(stat).toContain(`Filesystem size ${result.bytesUsed} bytes`);
        expect(stat).toContain("Filesystem is exportable via NFS");
        expect(result.sizeBytes % 4096).toBe(0);
      });

      it("unsquashfs -lln lists every entry with its mode and owner", () => {
        expect(unsquashfsListing(image)).toEqual(treeListing(tree));
      });

      it("unsquashfs extraction gives back the source tree", async () => {
        expect(await describeUnsquashfsExtract(image, scratch)).toEqual(expected);
      });

      it("a host kernel mount gives back the source tree", async () => {
        expect(await describeKernelMount(image)).toEqual(expected);
      });
    });
  }

  it("from a GNU tar of the same directory (--xattrs --numeric-owner): the kernel shows the tar's tree", async () => {
    const archive = join(scratch, "edge.tar");
    runOk("tar", ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-C", source, "-cf", archive, "."]);
    const tarTree = await treeFromTar(archive, { scratchDirectory: scratch, sourceDateEpoch: SOURCE_DATE_EPOCH });
    const image = join(scratch, "edge-from-tar.sqfs");
    await buildSquashfsFile(tarTree, { compression: "gzip", blockSize: EDGE_BLOCK_BYTES, concurrency: 2, sourceDateEpoch: SOURCE_DATE_EPOCH }, image);
    const fromTar = await describeForSquashfs(tarTree);
    expect(fromTar.length).toBeGreaterThan(3000);
    expect(await describeKernelMount(image)).toEqual(fromTar);
  });
});
