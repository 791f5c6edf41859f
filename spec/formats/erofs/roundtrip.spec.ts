/**
 * Writer → our own decoder (lib/formats/erofs/decode.ts) over random trees: every entry comes
 * back with its type, mode, owner, mtime, size, content, link target, device number, xattrs,
 * and hardlinks share a nid. Fast and root-free; the oracle specs use fsck.erofs and the kernel.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toHex } from "../../../lib/core/bytes.js";
import { decodeTree } from "../../../lib/formats/erofs/decode.js";
import { planErofs } from "../../../lib/formats/erofs/plan.js";
import { writeErofs } from "../../../lib/formats/erofs/write.js";
import { MemorySink } from "../../../lib/io/stream.js";
import { encodeDeviceNumber, fullMode, walkTree, type TreeNode } from "../../../lib/tree/tree.js";
import { buildRecipe, EPOCH, treeRecipeArbitrary } from "./support/arbitrary-tree.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25) * 2;
const UUID = "3a1f4e2d-6c5b-4a98-b7c6-d5e4f3a2b1c0";

async function contentHex(node: TreeNode): Promise<string> {
  if (node.kind === "file") return toHex(await node.content.read(0, node.size));
  if (node.kind === "symlink") return toHex(new TextEncoder().encode(node.target));
  return "";
}

describe("erofs writer → decoder round trip", () => {
  it("random trees come back entry for entry", async () => {
    await fc.assert(
      fc.asyncProperty(treeRecipeArbitrary, async (recipe) => {
        const tree = buildRecipe(recipe);
        const plan = planErofs(tree, { uuid: UUID, label: "roundtrip", sourceDateEpoch: EPOCH });
        const sink = new MemorySink();
        await writeErofs(plan, sink);
        const decoded = decodeTree(sink.bytes());
        expect(decoded.superblock).toMatchObject({ uuid: UUID, volumeName: "roundtrip", blocks: plan.blocks, inodeCount: plan.inodes.length, buildTimeSeconds: EPOCH });
        const byPath = new Map(decoded.entries.map((entry) => [entry.path, entry.inode]));
        byPath.set("", decoded.root);
        const nidOfNode = new Map<TreeNode, number>();
        let count = 0;
        for (const { path, node } of walkTree(tree)) {
          count++;
          const inode = byPath.get(path);
          expect(inode, path).toBeDefined();
          const want = {
            mode: fullMode(node),
            uid: node.meta.uid,
            gid: node.meta.gid,
            mtime: node.meta.mtime,
            xattrs: node.meta.xattrs.map((xattr) => `${xattr.name}=${toHex(xattr.value)}`),
            data: await contentHex(node),
            rdev: node.kind === "chardev" || node.kind === "blockdev" ? encodeDeviceNumber(node.major, node.minor) : undefined,
          };
          const got = {
            mode: inode!.mode,
            uid: inode!.uid,
            gid: inode!.gid,
            mtime: inode!.mtime,
            xattrs: inode!.xattrs.map((xattr) => `${xattr.name}=${toHex(xattr.value)}`),
            data: node.kind === "dir" ? "" : toHex(inode!.data),
            rdev: node.kind === "chardev" || node.kind === "blockdev" ? inode!.union : undefined,
          };
          expect(got, path).toEqual(want);
          const seen = nidOfNode.get(node);
          if (seen === undefined) nidOfNode.set(node, inode!.nid);
          else expect(inode!.nid, `${path} is a hardlink`).toBe(seen);
        }
        expect(decoded.entries.length + 1).toBe(count);
      }),
      { numRuns: RUNS },
    );
  });

  it("rejects a corrupted superblock checksum", async () => {
    const tree = buildRecipe({ rootMeta: { mode: 0o755, uid: 0, gid: 0, mtime: EPOCH, xattrs: [] }, entries: [], wideDirectory: 0 });
    const sink = new MemorySink();
    await writeErofs(planErofs(tree, { uuid: UUID }), sink);
    const image = sink.bytes();
    image[2000] = image[2000]! ^ 1;
    expect(() => decodeTree(image)).toThrow(/superblock checksum mismatch/);
  });
});
