/**
 * Debian trixie tree, read from its GNU tar (--xattrs --numeric-owner) → our zstd squashfs →
 * unsquashfs -s/-lln and the host kernel must show exactly the tree the tar describes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { treeFromTar } from "../../../lib/tree/from-tar.js";
import { oraclesAvailable, TRIXIE_TREE_TAR } from "../../support/oracles.js";
import { checkDebianImage } from "./support/debian.js";

const available = oraclesAvailable("root", "trixie-tree", "unsquashfs", "getfattr", "mount");

describe.skipIf(!available)("squashfs zstd on the Debian trixie tree (from the tar)", () => {
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-debian-zstd-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("unsquashfs and the kernel read back the tree", async () => {
    await checkDebianImage(await treeFromTar(TRIXIE_TREE_TAR, { scratchDirectory: scratch }), "zstd", scratch);
  });
});
