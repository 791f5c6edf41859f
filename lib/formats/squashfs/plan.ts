/**
 * Inode planning: which inode comes where and which number it gets, decided before anything
 * is written, because a directory inode needs its parent's number while the parent's inode is
 * written after it.
 *
 * Write order (also numbering order, 1-based): for a directory, first its subdirectories'
 * contents recursively, then the inodes of all its entries in name order, then its listing.
 * So every directory's children are numbered consecutively and sit next to each other in the
 * inode table, which keeps listings to one header per 256 entries. The root comes last. A
 * hardlinked node is written (and numbered) where it is first met.
 */
import { ErrorCode, fail } from "../../core/errors.js";
import { countLinks, walkTree, type DirNode, type FileNode, type TreeNode } from "../../tree/tree.js";
import { MAX_NAME_BYTES } from "./layout.js";

export interface InodePlan {
  readonly numbers: Map<TreeNode, number>;
  readonly inodeCount: number;
  /** Directory entries referencing each node (the hardlink count for non-directories). */
  readonly links: Map<TreeNode, number>;
  /** Unique regular files in tree walk order, with whether another file has the same size. */
  readonly files: readonly { node: FileNode; path: string; sizeShared: boolean }[];
  /** Distinct uids/gids in first-use order (the id table). */
  readonly ids: readonly number[];
}

/** The id table holds at most 65535 ids (the superblock's no_ids is a u16). */
const MAX_IDS = 0xffff;

export function planInodes(root: DirNode): InodePlan {
  const numbers = new Map<TreeNode, number>();
  const number = (directory: DirNode): void => {
    for (const entry of directory.entries) if (entry.node.kind === "dir") number(entry.node);
    for (const entry of directory.entries) if (!numbers.has(entry.node)) numbers.set(entry.node, numbers.size + 1);
  };
  number(root);
  numbers.set(root, numbers.size + 1);

  const files: { node: FileNode; path: string; sizeShared: boolean }[] = [];
  const sizes = new Map<number, number>();
  const seen = new Set<TreeNode>();
  const ids = new Map<number, number>();
  for (const { path, node } of walkTree(root)) {
    if (seen.has(node)) continue;
    seen.add(node);
    if (node.kind === "dir") {
      for (const entry of node.entries) {
        if (entry.nameBytes.length > MAX_NAME_BYTES || entry.nameBytes.length === 0) {
          fail(ErrorCode.Tree, `${path === "" ? "" : `${path}/`}${entry.name}: name is ${entry.nameBytes.length} bytes, squashfs allows 1..${MAX_NAME_BYTES}`, "shorten the name");
        }
      }
    }
    if (node.kind === "file") {
      files.push({ node, path, sizeShared: false });
      sizes.set(node.size, (sizes.get(node.size) ?? 0) + 1);
    }
    for (const id of [node.meta.uid, node.meta.gid]) {
      if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) fail(ErrorCode.Tree, `${path || "/"}: owner id ${id} is not a 32-bit unsigned integer`, "use ids in 0..4294967295");
      if (!ids.has(id)) ids.set(id, ids.size);
    }
  }
  if (ids.size > MAX_IDS) fail(ErrorCode.Tree, `tree: ${ids.size} distinct uids/gids, squashfs stores at most ${MAX_IDS}`, "map owners to fewer ids");
  for (const file of files) file.sizeShared = (sizes.get(file.node.size) ?? 0) > 1;
  return { numbers, inodeCount: numbers.size, links: countLinks(root), files, ids: [...ids.keys()] };
}
