/**
 * Debian trixie tree (minbase + systemd), read from the directory → our gzip squashfs →
 * unsquashfs -s/-lln and the host kernel; the size is compared with mksquashfs 4.5 on the
 * same tree with the same block size and compressor (target: at most 1 % larger).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { treeFromDirectory } from "../../../lib/tree/from-dir.js";
import { oraclesAvailable, runOk, TRIXIE_TREE_DIR } from "../../support/oracles.js";
import { checkDebianImage, DEBIAN_BLOCK_BYTES } from "./support/debian.js";

const available = oraclesAvailable("root", "trixie-tree", "unsquashfs", "mksquashfs", "getfattr", "mount");

describe.skipIf(!available)("squashfs gzip on the Debian trixie tree (from the directory)", () => {
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-debian-gzip-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("unsquashfs and the kernel read back the tree; size within 1 % of mksquashfs", async () => {
    const tree = await treeFromDirectory(TRIXIE_TREE_DIR);
    await checkDebianImage(tree, "gzip", scratch, (_image, result) => {
      const reference = join(scratch, "mksquashfs-gzip.sqfs");
      runOk("mksquashfs", [TRIXIE_TREE_DIR, reference, "-noappend", "-processors", "2", "-b", String(DEBIAN_BLOCK_BYTES), "-comp", "gzip", "-quiet", "-no-progress"]);
      const referenceBytes = statSync(reference).size;
      const ratio = result.sizeBytes / referenceBytes;
      console.log(`squashfs gzip on trixie-tree: gptimg ${result.sizeBytes} B, mksquashfs ${referenceBytes} B, ratio ${ratio.toFixed(4)}`);
      expect(ratio).toBeLessThanOrEqual(1.01);
    });
  });
});
