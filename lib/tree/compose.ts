/**
 * buildPartitionTree: the one Tree a partition's filesystem is made from, composed the way
 * systemd-repart's CopyFiles=/ExcludeFiles=/MakeDirectories= do (repart.d(5)), plus inline
 * entries and ownership/mode overrides from the spec:
 *
 * 1. each `copyFiles` "SRC[:DST]" source (host directory, tar archive or single file) is read,
 *    its `excludeFiles` removed, and merged at DST — later sources win, a file may not replace
 *    a non-empty directory;
 * 2. `makeDirectories` are created where missing (mode 0755, root, SOURCE_DATE_EPOCH mtime);
 * 3. inline `entries` are added (they win over copied files);
 * 4. `excludeFilesTarget` is removed, then `overrides` and SOURCE_DATE_EPOCH clamping are
 *    applied (`allRootOwned` was already applied to host directory and file sources).
 */
import { lstat, readlink, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, relative, resolve } from "node:path";
import { utf8 } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import { BytesSource, FileSliceSource } from "../io/source.js";
import { DEFAULT_DIR_META, TreeBuilder, splitTreePath } from "./builder.js";
import { treeFromDirectory } from "./from-dir.js";
import { treeFromTar } from "./from-tar.js";
import { applyMetaPolicy, excludePaths, type MetaOverride } from "./transform.js";
import { walkTree, type DirNode, type Meta } from "./tree.js";

/** An entry written directly in the spec. */
export interface InlineEntry {
  readonly path: string;
  readonly type: "file" | "dir" | "symlink";
  /** File contents as UTF-8 text. */
  readonly content?: string;
  /** File contents from a host file: relative to the spec's directory, or an absolute host path. */
  readonly contentFrom?: string;
  /** Symlink target (stored as given; never followed). */
  readonly target?: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

export interface PartitionTreeInput {
  /**
   * "SRC" or "SRC:DST"; DST defaults to "/". A relative SRC is resolved inside the base
   * directory (symlinks leading out of it are refused); an absolute SRC is a host path, as
   * CopyBlocks= paths are and as repart reads CopyFiles= without --copy-source.
   */
  readonly copyFiles?: readonly string[];
  /** Paths inside each copyFiles source (as repart's ExcludeFiles=); trailing "/" = contents only. */
  readonly excludeFiles?: readonly string[];
  /** Paths in the composed tree (as repart's ExcludeFilesTarget=); trailing "/" = contents only. */
  readonly excludeFilesTarget?: readonly string[];
  readonly makeDirectories?: readonly string[];
  readonly entries?: readonly InlineEntry[];
  /** Later overrides win; `path` may be a glob (`*`, `?`, `**`). */
  readonly overrides?: readonly MetaOverride[];
  /** uid/gid 0 for directory sources (e.g. a directory owned by the unprivileged user building). */
  readonly allRootOwned?: boolean;
  /** Read xattrs of directory sources (needs getfattr); default true. */
  readonly xattrs?: boolean;
}

export interface ComposeContext {
  /** Spools for compressed archives are written here. */
  readonly scratchDirectory: string;
  readonly sourceDateEpoch?: number;
}

/** Host files that are extracted rather than copied as one file (compression is sniffed). */
const ARCHIVE_NAME = /\.(tar|tgz|txz|tzst|tar\.gz|tar\.xz|tar\.zst|tar\.zstd)$/;

export async function buildPartitionTree(input: PartitionTreeInput, baseDirectory: string, context: ComposeContext): Promise<DirNode> {
  const epochMtime = context.sourceDateEpoch ?? 0;
  const builder = new TreeBuilder({ ...DEFAULT_DIR_META, mtime: epochMtime });
  for (const [index, copy] of (input.copyFiles ?? []).entries()) {
    const where = `copyFiles[${index}] "${copy}"`;
    const { source, destination } = splitCopy(copy, where);
    const hostPath = await resolveSource(baseDirectory, source, where);
    const sourceStat = await stat(hostPath);
    if (sourceStat.isDirectory() || ARCHIVE_NAME.test(hostPath)) {
      const tree = sourceStat.isDirectory()
        ? await treeFromDirectory(hostPath, { sourceDateEpoch: context.sourceDateEpoch, xattrs: input.xattrs, repartExclusions: true, allRootOwned: input.allRootOwned })
        : await treeFromTar(hostPath, { scratchDirectory: context.scratchDirectory, sourceDateEpoch: context.sourceDateEpoch });
      mergeTree(builder, excludePaths(tree, input.excludeFiles ?? []), destination, where);
    } else if (sourceStat.isFile()) {
      const target = destination.endsWith("/") || destination === "" ? `${destination}/${basename(hostPath)}` : destination;
      const meta: Meta = { mode: sourceStat.mode & 0o7777, uid: input.allRootOwned ? 0 : sourceStat.uid, gid: input.allRootOwned ? 0 : sourceStat.gid, mtime: Math.floor(sourceStat.mtimeMs / 1000), xattrs: [] };
      builder.addFile(target, meta, new FileSliceSource(hostPath, 0, sourceStat.size, hostPath), where);
    } else {
      fail(ErrorCode.Input, `${where}: ${hostPath} is neither a directory, a tar archive nor a regular file`, "point SRC at a directory, archive or file");
    }
  }
  for (const [index, path] of (input.makeDirectories ?? []).entries()) {
    const where = `makeDirectories[${index}] "${path}"`;
    const parts = splitTreePath(path, where);
    for (let depth = 1; depth <= parts.length; depth++) {
      const prefix = parts.slice(0, depth).join("/");
      if (!builder.lookup(prefix, where)) builder.addDirectory(prefix, { ...DEFAULT_DIR_META, mtime: epochMtime }, where);
    }
  }
  for (const [index, entry] of (input.entries ?? []).entries()) await addInlineEntry(builder, entry, baseDirectory, epochMtime, `entries[${index}] "${entry.path}"`);
  const tree = withImplicitDirectoryMtimes(excludePaths(builder.build(), input.excludeFilesTarget ?? []), epochMtime);
  // allRootOwned describes who the build host's files belong to, so it applies to directory
  // sources only: archives carry real owners, and inline entries and overrides are explicit.
  return applyMetaPolicy(tree, { overrides: input.overrides, sourceDateEpoch: context.sourceDateEpoch });
}

function splitCopy(copy: string, where: string): { source: string; destination: string } {
  const colon = copy.indexOf(":");
  const source = colon < 0 ? copy : copy.slice(0, colon);
  const destination = colon < 0 ? "/" : copy.slice(colon + 1);
  if (source === "") fail(ErrorCode.Spec, `${where}: empty SRC`, 'write "SRC:DST", e.g. "rootfs.tar:/"');
  if (destination.includes(":")) fail(ErrorCode.Spec, `${where}: copy options after DST are not supported`, 'write "SRC:DST"');
  splitTreePath(destination, where);
  return { source, destination };
}

/** Merges `tree` below `destination`: directories update metadata, other nodes replace. */
function mergeTree(builder: TreeBuilder, tree: DirNode, destination: string, where: string): void {
  const prefix = splitTreePath(destination, where).join("/");
  for (const { path, node } of walkTree(tree)) {
    const target = prefix === "" ? path : path === "" ? prefix : `${prefix}/${path}`;
    if (node.kind === "dir") builder.addDirectory(target, node.meta, `${where}: "${path || "."}"`);
    else builder.addNode(target, node, `${where}: "${path}"`);
  }
}

async function addInlineEntry(builder: TreeBuilder, entry: InlineEntry, baseDirectory: string, epochMtime: number, where: string): Promise<void> {
  const meta = (defaultMode: number): Meta => ({ mode: entry.mode ?? defaultMode, uid: entry.uid ?? 0, gid: entry.gid ?? 0, mtime: epochMtime, xattrs: [] });
  if (entry.type === "dir") {
    builder.addDirectory(entry.path, meta(0o755), where);
    return;
  }
  if (entry.type === "symlink") {
    if (entry.target === undefined || entry.target === "") fail(ErrorCode.Spec, `${where}: a symlink needs "target"`, 'add "target": "…"');
    builder.addSymlink(entry.path, meta(0o777), entry.target, where);
    return;
  }
  if ((entry.content === undefined) === (entry.contentFrom === undefined)) {
    fail(ErrorCode.Spec, `${where}: a file needs exactly one of "content" and "contentFrom"`, "give the text inline or a host file to copy");
  }
  if (entry.content !== undefined) {
    builder.addFile(entry.path, meta(0o644), new BytesSource(utf8(entry.content), `inline:${entry.path}`), where);
    return;
  }
  const hostPath = await resolveSource(baseDirectory, entry.contentFrom!, where);
  const fileStat = await stat(hostPath);
  if (!fileStat.isFile()) fail(ErrorCode.Input, `${where}: contentFrom ${hostPath} is not a regular file`, "point contentFrom at a file");
  builder.addFile(entry.path, meta(0o644), new FileSliceSource(hostPath, 0, fileStat.size, hostPath), where);
}

/** Absolute paths are host paths; relative ones must stay inside `baseDirectory`. */
function resolveSource(baseDirectory: string, path: string, where: string): Promise<string> {
  return isAbsolute(path) ? resolveInside("/", path.replace(/^\/+/, ""), where) : resolveInside(baseDirectory, path, where);
}

/**
 * Resolves `relativePath` below `root` component by component, following host symlinks only
 * while they stay inside `root`: a link that leads out of it (absolute, or via "..") is
 * refused, so a spec cannot pull in host files from outside its directory by accident.
 */
export async function resolveInside(root: string, relativePath: string, where: string): Promise<string> {
  const rootPath = resolve(root);
  if (isAbsolute(relativePath)) fail(ErrorCode.Spec, `${where}: "${relativePath}" is absolute`, "give a path relative to the spec's directory");
  const pending = relativePath.split("/").filter((part) => part !== "" && part !== ".");
  let current = rootPath;
  for (let hops = 0; pending.length > 0; ) {
    const part = pending.shift()!;
    const next = part === ".." ? dirname(current) : `${current}/${part}`;
    if (!isInside(rootPath, next)) fail(ErrorCode.Spec, `${where}: "${relativePath}" leaves ${rootPath}`, "keep sources inside the spec's directory");
    let info;
    try {
      info = await lstat(next);
    } catch {
      return fail(ErrorCode.Input, `${where}: ${next} does not exist`, "check the path in the spec");
    }
    if (!info.isSymbolicLink()) {
      current = next;
      continue;
    }
    if (++hops > 40) fail(ErrorCode.Input, `${where}: too many symlinks resolving "${relativePath}"`, "fix the symlink loop");
    const target = await readlink(next);
    const resolved = resolve(dirname(next), target);
    if (!isInside(rootPath, resolved)) {
      fail(ErrorCode.Input, `${where}: symlink ${next} → "${target}" points outside ${rootPath}`, "copy from the link's real location, inside the spec's directory");
    }
    pending.unshift(...relative(rootPath, resolved).split("/").filter((piece) => piece !== ""));
    current = rootPath;
  }
  return current;
}

function isInside(root: string, path: string): boolean {
  const rest = relative(root, path);
  return rest === "" || (!rest.startsWith("..") && !isAbsolute(rest));
}

/** Directories the builder created implicitly (DEFAULT_DIR_META) get the SOURCE_DATE_EPOCH mtime. */
function withImplicitDirectoryMtimes(root: DirNode, epochMtime: number): DirNode {
  if (epochMtime === 0) return root;
  const visit = (directory: DirNode): DirNode => ({
    ...directory,
    meta: directory.meta === DEFAULT_DIR_META ? { ...DEFAULT_DIR_META, mtime: epochMtime } : directory.meta,
    entries: directory.entries.map((entry) => (entry.node.kind === "dir" ? { ...entry, node: visit(entry.node) } : entry)),
  });
  return visit(root);
}
