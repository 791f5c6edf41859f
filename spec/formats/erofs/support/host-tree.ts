/**
 * Test-only: a comparable snapshot of a tree or of a host directory (an extraction or a mount),
 * read independently of lib/tree (lstat, readlink, getfattr), so tests can say "identical in
 * type, mode, owner, size, content, target, rdev, hardlinks, xattrs, mtime".
 */
import { createHash } from "node:crypto";
import { createReadStream, type BigIntStats } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { fromHex, toHex } from "../../../../lib/core/bytes.js";
import { walkTree, type DirNode, type Meta, type TreeNode, type Xattr } from "../../../../lib/tree/tree.js";
import { runOk } from "../../../support/oracles.js";

/** All xattrs under `root` (paths relative, "" = root), read in one getfattr run. */
export function readHostXattrs(root: string): Map<string, Xattr[]> {
  const text = runOk("getfattr", ["-R", "-P", "-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", root]);
  const result = new Map<string, Xattr[]>();
  let current: Xattr[] | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("# file: ")) {
      const absolute = unescapeGetfattr(line.slice("# file: ".length));
      const relative = absolute === root ? "" : absolute.slice(root.length + 1);
      current = [];
      result.set(relative, current);
    } else if (line !== "" && current) {
      const equals = line.indexOf("=");
      const name = equals < 0 ? line : line.slice(0, equals);
      const value = equals < 0 ? "" : line.slice(equals + 1);
      current.push({ name: unescapeGetfattr(name), value: value.startsWith("0x") ? fromHex(value.slice(2)) : new Uint8Array() });
    }
  }
  for (const list of result.values()) list.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
  return result;
}

/** getfattr prints unprintable bytes (and "\") as \ooo octal escapes. */
function unescapeGetfattr(text: string): string {
  const raw = Buffer.from(text, "utf8");
  const bytes: number[] = [];
  for (let index = 0; index < raw.length; index++) {
    const escape = raw.subarray(index + 1, index + 4).toString("latin1");
    if (raw[index] === 0x5c && /^[0-7]{3}$/.test(escape)) {
      bytes.push(parseInt(escape, 8));
      index += 3;
    } else {
      bytes.push(raw[index]!);
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function metaOf(stat: BigIntStats, xattrs: Xattr[]): Meta {
  return { mode: Number(stat.mode & 0o7777n), uid: Number(stat.uid), gid: Number(stat.gid), mtime: Number(stat.mtimeNs / 1_000_000_000n) - (stat.mtimeNs < 0n && stat.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0), xattrs };
}

export interface EntrySnapshot {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  sha256?: string;
  target?: string;
  rdev?: string;
  xattrs: string;
  /** Smallest path of the hardlink group, for non-directories reached more than once. */
  linkGroup?: string;
}

function xattrText(xattrs: readonly Xattr[]): string {
  return xattrs.map((xattr) => `${xattr.name}=${toHex(xattr.value)}`).sort().join(",");
}

/** Snapshot of our source tree (symlink permission bits are not compared: Linux has none). */
export async function snapshotTree(root: DirNode): Promise<Map<string, EntrySnapshot>> {
  const result = new Map<string, EntrySnapshot>();
  const pathsOf = new Map<TreeNode, string[]>();
  for (const { path, node } of walkTree(root)) {
    pathsOf.set(node, [...(pathsOf.get(node) ?? []), path]);
    const entry: EntrySnapshot = { type: node.kind, mode: node.kind === "symlink" ? 0 : node.meta.mode, uid: node.meta.uid, gid: node.meta.gid, mtime: node.meta.mtime, xattrs: xattrText(node.meta.xattrs) };
    if (node.kind === "file") {
      entry.size = node.size;
      const hash = createHash("sha256");
      for (let offset = 0; offset < node.size; offset += 1 << 20) hash.update(await node.content.read(offset, Math.min(1 << 20, node.size - offset)));
      entry.sha256 = hash.digest("hex");
    }
    if (node.kind === "symlink") entry.target = node.target;
    if (node.kind === "chardev" || node.kind === "blockdev") entry.rdev = `${node.major}:${node.minor}`;
    result.set(path, entry);
  }
  for (const paths of pathsOf.values()) {
    if (paths.length > 1) for (const path of paths) result.get(path)!.linkGroup = [...paths].sort()[0]!;
  }
  return result;
}

/** Snapshot of a host directory (a fsck.erofs extraction or a kernel mount). */
export async function snapshotHostDirectory(root: string): Promise<Map<string, EntrySnapshot>> {
  const xattrs = readHostXattrs(root);
  const result = new Map<string, EntrySnapshot>();
  const pathsOfInode = new Map<string, string[]>();
  const visit = async (relative: string): Promise<void> => {
    const absolute = relative === "" ? root : join(root, relative);
    const stat = await lstat(absolute, { bigint: true });
    const type = stat.isDirectory() ? "dir" : stat.isFile() ? "file" : stat.isSymbolicLink() ? "symlink" : stat.isCharacterDevice() ? "chardev" : stat.isBlockDevice() ? "blockdev" : stat.isFIFO() ? "fifo" : "socket";
    const meta = metaOf(stat, xattrs.get(relative) ?? []);
    const entry: EntrySnapshot = { type, mode: type === "symlink" ? 0 : meta.mode, uid: meta.uid, gid: meta.gid, mtime: meta.mtime, xattrs: xattrText(meta.xattrs) };
    if (type === "file") {
      entry.size = Number(stat.size);
      entry.sha256 = await hashFile(absolute);
    }
    if (type === "symlink") entry.target = await readlink(absolute);
    if (type === "chardev" || type === "blockdev") {
      const rdev = Number(stat.rdev);
      entry.rdev = `${((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff)}:${(rdev & 0xff) | ((rdev >>> 12) & ~0xff)}`;
    }
    if (type !== "dir") {
      const key = `${stat.dev}:${stat.ino}`;
      pathsOfInode.set(key, [...(pathsOfInode.get(key) ?? []), relative]);
    }
    result.set(relative, entry);
    if (type === "dir") {
      const names = await readdir(absolute);
      for (const name of names.sort()) await visit(relative === "" ? name : `${relative}/${name}`);
    }
  };
  await visit("");
  for (const paths of pathsOfInode.values()) {
    if (paths.length > 1) for (const path of paths) result.get(path)!.linkGroup = [...paths].sort()[0]!;
  }
  return result;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Lists differences (at most `limit`), "" when identical. */
export function diffSnapshots(expected: Map<string, EntrySnapshot>, actual: Map<string, EntrySnapshot>, limit = 20): string {
  const problems: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (!got) problems.push(`missing: /${path}`);
    else if (JSON.stringify(want, Object.keys(want).sort()) !== JSON.stringify(got, Object.keys(got).sort())) problems.push(`/${path}: expected ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`unexpected: /${path}`);
  return problems.slice(0, limit).join("\n");
}

/**
 * What fsck.erofs 1.8 --extract can reproduce: it sets xattrs before writing file data, so the
 * kernel drops security.capability from regular files on that write (file_remove_privs), and
 * it fails on empty-valued xattrs ("failed to get xattr value size"). mkfs.erofs's own images
 * extract the same way; the kernel mount checks these attributes instead.
 */
export function withoutFsckExtractLimits(snapshot: Map<string, EntrySnapshot>): Map<string, EntrySnapshot> {
  const result = new Map<string, EntrySnapshot>();
  for (const [path, entry] of snapshot) {
    const xattrs = entry.xattrs
      .split(",")
      .filter((item) => item !== "" && !item.endsWith("=") && !(entry.type === "file" && item.startsWith("security.capability=")))
      .join(",");
    result.set(path, { ...entry, xattrs });
  }
  return result;
}
