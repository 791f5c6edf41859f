/**
 * Canonical text listing of a Tree for comparisons in tests: one line per path with kind,
 * mode, owner, mtime, size, link target, device numbers, xattrs (hex) and a hardlink group
 * (the first path of the node), plus optional content digests.
 */
import { createHash } from "node:crypto";
import { toHex } from "../../lib/core/bytes.js";
import { sourceChunks } from "../../lib/io/source.js";
import { walkTree, type DirNode, type TreeNode } from "../../lib/tree/tree.js";

export interface DescribeOptions {
  readonly mtimes?: boolean;
  readonly contents?: boolean;
  readonly xattrs?: boolean;
}

export async function describeTree(root: DirNode, options: DescribeOptions = {}): Promise<string[]> {
  const firstPath = new Map<TreeNode, string>();
  const lines: string[] = [];
  for (const { path, node } of walkTree(root)) {
    const fields = [path === "" ? "." : path, node.kind, node.meta.mode.toString(8), `${node.meta.uid}:${node.meta.gid}`];
    if (options.mtimes !== false) fields.push(`t=${node.meta.mtime}`);
    if (node.kind !== "dir") {
      const first = firstPath.get(node);
      if (first !== undefined) {
        lines.push(`${fields[0]} hardlink→${first}`);
        continue;
      }
      firstPath.set(node, path);
    }
    if (node.kind === "file") {
      fields.push(`size=${node.size}`);
      if (options.contents) fields.push(`sha256=${await digest(node)}`);
    }
    if (node.kind === "symlink") fields.push(`→${node.target}`);
    if (node.kind === "chardev" || node.kind === "blockdev") fields.push(`dev=${node.major},${node.minor}`);
    if (options.xattrs !== false) for (const xattr of node.meta.xattrs) fields.push(`${xattr.name}=${toHex(xattr.value)}`);
    lines.push(fields.join(" "));
  }
  return lines;
}

async function digest(node: TreeNode & { kind: "file" }): Promise<string> {
  const hash = createHash("sha256");
  let total = 0;
  for await (const chunk of sourceChunks(node.content, 1024 * 1024)) {
    hash.update(chunk);
    total += chunk.length;
  }
  if (total !== node.size) throw new Error(`content of ${node.content.description} has ${total} bytes, tree says ${node.size}`);
  return hash.digest("hex");
}
