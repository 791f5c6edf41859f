/**
 * Test-only helpers around the independent squashfs readers: unsquashfs (squashfs-tools) and
 * the host kernel (loop mount, read-only). Trees are compared as canonical listings
 * (spec/tree/describe.ts) with contents hashed; xattrs outside user./trusted./security.
 * are left out because squashfs cannot store them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { treeFromDirectory } from "../../../../lib/tree/from-dir.js";
import { walkTree, type DirNode, type TreeNode } from "../../../../lib/tree/tree.js";
import { runOk } from "../../../support/oracles.js";
import { describeTree } from "../../../tree/describe.js";

const STORABLE_XATTR = /^(user|trusted|security)\./;

/** Canonical listing (contents hashed), keeping only xattrs squashfs can store. */
export async function describeForSquashfs(tree: DirNode): Promise<string[]> {
  const lines = await describeTree(tree, { contents: true });
  return lines.map((line) => line.split(" ").filter((field) => !/^[a-z]+\.[^=]*=/.test(field) || STORABLE_XATTR.test(field)).join(" "));
}

/**
 * Mounts the image read-only through a loop device, reads it back as a tree, unmounts. The
 * kernel answers EOPNOTSUPP to xattr calls on an image without an xattr table (mksquashfs
 * images alike), so `hasXattrs` false reads no xattrs.
 */
export async function describeKernelMount(image: string, hasXattrs = true): Promise<string[]> {
  const mountPoint = mkdtempSync(join(tmpdir(), "gptimg-sqfs-mnt-"));
  runOk("mount", ["-o", "loop,ro", "-t", "squashfs", image, mountPoint]);
  try {
    return await describeForSquashfs(await treeFromDirectory(mountPoint, { xattrs: hasXattrs }));
  } finally {
    runOk("umount", [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
}

/** unsquashfs -lln: one line per entry → "mode owner path" (the root as "."). */
export function unsquashfsListing(image: string): string[] {
  const output = runOk("unsquashfs", ["-lln", "-d", "", image]);
  const lines: string[] = [];
  for (const line of output.split("\n")) {
    const match = /^([-dlcbps][-rwxsStT]{9}) (\d+\/\d+)\s+.+? \d{4}-\d\d-\d\d \d\d:\d\d (.*)$/.exec(line);
    if (!match) continue;
    let path = match[1]!.startsWith("l") ? match[3]!.replace(/ -> .*$/s, "") : match[3]!;
    path = path.replace(/^\/?/, "");
    lines.push(`${match[1]} ${match[2]} ${path === "" ? "." : path}`);
  }
  return lines.sort();
}

/** The listing unsquashfs -lln should print for a tree, in the same form. */
export function treeListing(tree: DirNode): string[] {
  const lines: string[] = [];
  for (const { path, node } of walkTree(tree)) lines.push(`${modeString(node)} ${node.meta.uid}/${node.meta.gid} ${path === "" ? "." : path}`);
  return lines.sort();
}

const TYPE_CHAR: Record<TreeNode["kind"], string> = { dir: "d", file: "-", symlink: "l", chardev: "c", blockdev: "b", fifo: "p", socket: "s" };

/** ls -l style mode: type, rwx triplets, s/S for set-id bits, t/T for sticky. */
function modeString(node: TreeNode): string {
  const mode = node.meta.mode;
  const triplet = (shift: number, special: boolean, setChar: string): string => {
    const bits = (mode >> shift) & 7;
    const execute = bits & 1 ? (special ? setChar : "x") : special ? setChar.toUpperCase() : "-";
    return `${bits & 4 ? "r" : "-"}${bits & 2 ? "w" : "-"}${execute}`;
  };
  return TYPE_CHAR[node.kind] + triplet(6, (mode & 0o4000) !== 0, "s") + triplet(3, (mode & 0o2000) !== 0, "s") + triplet(0, (mode & 0o1000) !== 0, "t");
}

/** Extracts with unsquashfs -d and reads the result back as a tree. */
export async function describeUnsquashfsExtract(image: string, scratch: string): Promise<string[]> {
  const target = join(scratch, `extract-${Date.now()}`);
  runOk("unsquashfs", ["-no-progress", "-d", target, image]);
  try {
    return await describeForSquashfs(await treeFromDirectory(target));
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}
