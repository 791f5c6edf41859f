/**
 * Inode order and validation. Inodes are numbered breadth first, a directory's children one
 * after another (as mkfs.erofs does), so a directory listing reads neighbouring inodes.
 * Hardlinks are one node object reached from several entries: one inode, one nid.
 * Everything erofs cannot represent is rejected here, before any layout work.
 */
import { utf8 } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import type { DirNode, Meta, TreeNode } from "../../tree/tree.js";
import { encodeDeviceNumber } from "../../tree/tree.js";
import { MAX_NAME_BYTES } from "./layout.js";

export interface InodeRecord {
  readonly node: TreeNode;
  /** First path that reaches the node ("" for the root). */
  readonly path: string;
  /** Index of the directory that first reached it (the root is its own parent). */
  readonly parentIndex: number;
  /** For directories: the inode index of each entry, in entry order. */
  childIndexes: number[];
  /** For symlinks: the target as stored (UTF-8). */
  readonly symlinkTarget: Uint8Array | undefined;
  /** For character and block devices: Linux new_encode_dev(major, minor); else 0. */
  readonly deviceNumber: number;
}

/** Linux PATH_MAX (4096) including its NUL. */
const MAX_SYMLINK_TARGET_BYTES = 4095;
/** new_encode_dev() keeps 12 bits of major and 20 bits of minor. */
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;
const MAX_ID = 0xffffffff;

export function planInodes(root: DirNode): InodeRecord[] {
  const records: InodeRecord[] = [];
  const indexOf = new Map<TreeNode, number>();
  const add = (node: TreeNode, path: string, parentIndex: number): void => {
    const existing = indexOf.get(node);
    if (existing !== undefined) {
      if (node.kind === "dir") fail(ErrorCode.Tree, `${path}: the directory is also reachable as ${records[existing]!.path || "/"}`, "directories cannot be hardlinked");
      return;
    }
    validateNode(node, path || "/");
    indexOf.set(node, records.length);
    records.push({
      node,
      path,
      parentIndex,
      childIndexes: [],
      symlinkTarget: node.kind === "symlink" ? utf8(node.target) : undefined,
      deviceNumber: node.kind === "chardev" || node.kind === "blockdev" ? encodeDeviceNumber(node.major, node.minor) : 0,
    });
  };

  add(root, "", 0);
  for (let cursor = 0; cursor < records.length; cursor++) {
    const record = records[cursor]!;
    if (record.node.kind !== "dir") continue;
    for (const entry of record.node.entries) {
      const path = record.path === "" ? entry.name : `${record.path}/${entry.name}`;
      validateName(entry.nameBytes, path);
      add(entry.node, path, cursor);
    }
    record.childIndexes = record.node.entries.map((entry) => indexOf.get(entry.node)!);
  }
  return records;
}

function validateName(nameBytes: Uint8Array, path: string): void {
  if (nameBytes.length === 0 || nameBytes.length > MAX_NAME_BYTES) {
    fail(ErrorCode.Format, `${path}: name is ${nameBytes.length} bytes (erofs allows 1 to ${MAX_NAME_BYTES})`, "rename the entry");
  }
  if (nameBytes.includes(0) || nameBytes.includes(0x2f)) {
    fail(ErrorCode.Format, `${path}: name contains a NUL or "/" byte`, "rename the entry");
  }
}

function validateNode(node: TreeNode, where: string): void {
  validateMeta(node.meta, where);
  switch (node.kind) {
    case "file":
      if (!Number.isSafeInteger(node.size) || node.size < 0) fail(ErrorCode.Format, `${where}: file size ${node.size} is not a byte count`, "check the input tree");
      break;
    case "symlink": {
      const length = utf8(node.target).length;
      if (length === 0 || length > MAX_SYMLINK_TARGET_BYTES) {
        fail(ErrorCode.Format, `${where}: symlink target is ${length} bytes (1 to ${MAX_SYMLINK_TARGET_BYTES} allowed)`, "fix the link target");
      }
      break;
    }
    case "chardev":
    case "blockdev":
      if (!isIntegerIn(node.major, 0, MAX_MAJOR) || !isIntegerIn(node.minor, 0, MAX_MINOR)) {
        fail(ErrorCode.Format, `${where}: device ${node.major}:${node.minor} cannot be encoded (major ≤ ${MAX_MAJOR}, minor ≤ ${MAX_MINOR})`, "use a device number Linux can represent");
      }
      break;
    default:
      break;
  }
}

function validateMeta(meta: Meta, where: string): void {
  if (!isIntegerIn(meta.uid, 0, MAX_ID) || !isIntegerIn(meta.gid, 0, MAX_ID)) {
    fail(ErrorCode.Format, `${where}: owner ${meta.uid}:${meta.gid} is outside 0..${MAX_ID}`, "map the owner to a 32-bit uid/gid");
  }
  if (!Number.isSafeInteger(meta.mtime)) {
    fail(ErrorCode.Format, `${where}: mtime ${meta.mtime} is not a whole number of seconds`, "check the input tree");
  }
  if (!isIntegerIn(meta.mode, 0, 0o7777)) {
    fail(ErrorCode.Format, `${where}: permission bits ${meta.mode} are outside 0..0o7777`, "check the input tree");
  }
}

function isIntegerIn(value: number, minimum: number, maximum: number): boolean {
  return Number.isInteger(value) && value >= minimum && value <= maximum;
}
