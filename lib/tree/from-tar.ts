/**
 * treeFromTar: a tar archive (plain, gzip, xz or zstd; detected by magic bytes) as a Tree.
 * Members are never read into memory: a plain archive is sliced directly, a compressed one is
 * first decompressed once into a spool file in the scratch directory and sliced from there.
 *
 * Accepted: ustar, GNU ('L'/'K' long names, base-256 numbers) and PAX (path, linkpath, size,
 * uid, gid, mtime, SCHILY.xattr.*, LIBARCHIVE.xattr.*) headers. Rejected, naming the member:
 * absolute paths and ".." components, hardlinks to missing targets, GNU sparse/multi-volume
 * members, a file replacing a non-empty directory, bad checksums and truncation.
 */
import { mkdtemp, open, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fromUtf8 } from "../core/bytes.js";
import { clampMtime } from "../core/context.js";
import { ErrorCode, fail } from "../core/errors.js";
import { alignUp } from "../core/int.js";
import { decompressToSpool, sniffCompression } from "../io/decompress.js";
import { FileSliceSource } from "../io/source.js";
import { TreeBuilder } from "./builder.js";
import { encodeAclXattr, isMinimalAcl, parseAclText } from "./tar-acl.js";
import { checksumMatches, isZeroBlock, parsePaxRecords, parsePaxTime, parseTarHeader, TAR_BLOCK_BYTES, type PaxRecord, type RawTarHeader } from "./tar-header.js";
import type { DirNode, Meta, Xattr } from "./tree.js";

export interface TarTreeOptions {
  /** Where a compressed archive is decompressed to; required for .tar.gz/.tar.xz/.tar.zst. */
  readonly scratchDirectory?: string;
  /** Clamps every mtime to this many seconds since the epoch. */
  readonly sourceDateEpoch?: number;
}

/** Long names, PAX bodies: metadata members larger than this are rejected as corrupt. */
const MAX_METADATA_MEMBER_BYTES = 16 * 1024 * 1024;
const WINDOW_BYTES = 1024 * 1024;

export async function treeFromTar(archivePath: string, options: TarTreeOptions = {}): Promise<DirNode> {
  const archiveStat = await stat(archivePath).catch((error: NodeJS.ErrnoException) => fail(ErrorCode.Input, `${archivePath}: cannot open (${error.code ?? error})`, "check the archive path"));
  if (!archiveStat.isFile()) fail(ErrorCode.Input, `${archivePath}: not a regular file`, "give a tar archive (.tar, .tar.gz, .tar.xz, .tar.zst)");
  const kind = await sniffCompression(archivePath);
  let dataPath = archivePath;
  if (kind !== "none") {
    if (!options.scratchDirectory) fail(ErrorCode.Usage, `${archivePath}: a ${kind}-compressed tar needs a scratch directory`, "pass scratchDirectory");
    const spool = await decompressToSpool(archivePath, kind, await mkdtemp(join(options.scratchDirectory, "tar-")), "archive.tar");
    dataPath = spool.path;
  }
  const handle = await open(dataPath, "r");
  try {
    const reader = new WindowReader(handle, (await handle.stat()).size);
    return await parseArchive(reader, dataPath, archivePath, options);
  } finally {
    await handle.close();
  }
}

class WindowReader {
  private windowStart = 0;
  private window = new Uint8Array(0);
  constructor(private readonly handle: FileHandle, readonly size: number) {}

  /** Up to `length` bytes at `offset` (fewer only at the end of the file). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(offset + length, this.size);
    if (offset >= this.windowStart && end <= this.windowStart + this.window.length) {
      return this.window.subarray(offset - this.windowStart, end - this.windowStart);
    }
    const want = Math.max(end - offset, WINDOW_BYTES);
    const buffer = new Uint8Array(Math.min(want, this.size - offset));
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await this.handle.read(buffer, done, buffer.length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    this.windowStart = offset;
    this.window = buffer.subarray(0, done);
    return this.window.subarray(0, Math.min(end - offset, done));
  }
}

interface Pending {
  longName?: Uint8Array;
  longLink?: Uint8Array;
  pax: Map<string, Uint8Array>;
}

async function parseArchive(reader: WindowReader, dataPath: string, archiveLabel: string, options: TarTreeOptions): Promise<DirNode> {
  const builder = new TreeBuilder();
  const globals = new Map<string, Uint8Array>();
  let pending: Pending = { pax: new Map() };
  let lastMember = "(start of archive)";
  for (let offset = 0; ; ) {
    const block = await reader.read(offset, TAR_BLOCK_BYTES);
    if (block.length === 0) break;
    if (block.length < TAR_BLOCK_BYTES) fail(ErrorCode.Input, `${archiveLabel}: truncated after member "${lastMember}" (partial header at offset ${offset})`, "the archive is incomplete; recreate it");
    if (isZeroBlock(block)) break;
    if (!checksumMatches(block)) fail(ErrorCode.Input, `${archiveLabel}: bad header checksum at offset ${offset} (after member "${lastMember}")`, "the archive is corrupt; recreate it");
    const header = parseTarHeader(block);
    if (typeof header === "string") fail(ErrorCode.Input, `${archiveLabel}: ${header} in the header at offset ${offset} (after member "${lastMember}")`, "the archive is corrupt; recreate it");
    const isMetadata = "LKxg".includes(header.typeflag);
    const paxSize = isMetadata ? undefined : paxText(pending.pax, globals, "size");
    const size = paxSize !== undefined ? Number(paxSize) : header.size;
    if (!Number.isSafeInteger(size) || size < 0) fail(ErrorCode.Input, `${archiveLabel}: bad size at offset ${offset}`, "the archive is corrupt; recreate it");
    const dataOffset = offset + TAR_BLOCK_BYTES;
    const memberName = isMetadata ? safeText(header.name) : safeText(pending.longName ?? pending.pax.get("path") ?? globals.get("path") ?? header.name);
    if (dataOffset + size > reader.size) fail(ErrorCode.Input, `${archiveLabel}: truncated at member "${memberName}" (needs ${dataOffset + size} bytes, archive has ${reader.size})`, "the archive is incomplete; recreate it");
    offset = dataOffset + alignUp(size, TAR_BLOCK_BYTES);
    if (isMetadata) {
      if (size > MAX_METADATA_MEMBER_BYTES) fail(ErrorCode.Input, `${archiveLabel}: ${size}-byte extended header at offset ${dataOffset - TAR_BLOCK_BYTES}`, "the archive is corrupt");
      const body = Uint8Array.from(await reader.read(dataOffset, size));
      if (header.typeflag === "L") pending.longName = trimNul(body);
      else if (header.typeflag === "K") pending.longLink = trimNul(body);
      else {
        const records = parsePaxRecords(body);
        if (typeof records === "string") fail(ErrorCode.Input, `${archiveLabel}: PAX header at offset ${dataOffset - TAR_BLOCK_BYTES}: ${records}`, "the archive is corrupt");
        applyPax(header.typeflag === "g" ? globals : pending.pax, records);
      }
      continue;
    }
    lastMember = memberName;
    addMember(builder, { header, size, dataOffset, pending, globals, dataPath, archiveLabel, memberName, options });
    pending = { pax: new Map() };
  }
  return builder.build();
}

function applyPax(target: Map<string, Uint8Array>, records: PaxRecord[]): void {
  // A record with an empty value deletes the keyword (pax §4.100.5 "keyword=" with no value);
  // an xattr may legitimately be empty, so those keys are kept.
  for (const { key, value } of records) {
    if (value.length === 0 && !key.includes(".xattr.")) target.delete(key);
    else target.set(key, value);
  }
}

function paxText(pax: Map<string, Uint8Array>, globals: Map<string, Uint8Array>, key: string): string | undefined {
  const value = pax.get(key) ?? globals.get(key);
  return value === undefined ? undefined : new TextDecoder().decode(value);
}

function trimNul(bytes: Uint8Array): Uint8Array {
  const end = bytes.indexOf(0);
  return end < 0 ? bytes : bytes.subarray(0, end);
}

/** For messages only: never fails. */
function safeText(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

interface MemberInput {
  readonly header: RawTarHeader;
  readonly size: number;
  readonly dataOffset: number;
  readonly pending: Pending;
  readonly globals: Map<string, Uint8Array>;
  readonly dataPath: string;
  readonly archiveLabel: string;
  readonly memberName: string;
  readonly options: TarTreeOptions;
}

function addMember(builder: TreeBuilder, input: MemberInput): void {
  const { header, pending, globals, archiveLabel, memberName } = input;
  const where = `${archiveLabel}: member "${memberName}"`;
  const path = memberPath(pending.longName ?? pending.pax.get("path") ?? globals.get("path") ?? header.name, where);
  const meta = memberMeta(input, where);
  const linkBytes = pending.longLink ?? pending.pax.get("linkpath") ?? globals.get("linkpath") ?? header.linkname;
  const typeflag = header.typeflag === "0" && path.endsWith("/") ? "5" : header.typeflag;
  if ([...pending.pax.keys()].some((key) => key.startsWith("GNU.sparse."))) {
    fail(ErrorCode.Input, `${where}: GNU sparse members (PAX GNU.sparse.*) are not supported`, "recreate the archive without --sparse");
  }
  switch (typeflag) {
    case "0":
    case "7":
      builder.addFile(path, meta, new FileSliceSource(input.dataPath, input.dataOffset, input.size, `${archiveLabel}:${memberName}`), where);
      return;
    case "1":
      builder.addHardlink(path, memberPath(linkBytes, `${where} (hardlink target)`), where);
      return;
    case "2":
      builder.addSymlink(path, meta, decodeName(linkBytes, `${where} (symlink target)`), where);
      return;
    case "3":
    case "4":
      builder.addDevice(path, typeflag === "3" ? "chardev" : "blockdev", meta, header.devmajor, header.devminor, where);
      return;
    case "5":
    case "D":
      builder.addDirectory(path, meta, where);
      return;
    case "6":
      builder.addSpecial(path, "fifo", meta, where);
      return;
    case "S":
      return fail(ErrorCode.Input, `${where}: GNU sparse members are not supported`, "recreate the archive without --sparse");
    case "V":
      return;
    default:
      return fail(ErrorCode.Input, `${where}: unsupported member type '${typeflag}'`, "use regular files, links, directories, devices and fifos only");
  }
}

/** Member name → tree path: UTF-8, strip one leading "./", reject absolute and "..". */
function memberPath(bytes: Uint8Array, where: string): string {
  let name = decodeName(bytes, where);
  if (name.startsWith("/")) fail(ErrorCode.Input, `${where}: absolute member path "${name}"`, "create the archive with relative paths (tar -C DIR .)");
  if (name.startsWith("./")) name = name.slice(2);
  else if (name === ".") name = "";
  if (name.split("/").includes("..")) fail(ErrorCode.Input, `${where}: member path "${name}" leaves the tree with ".."`, "remove the member or recreate the archive without \"..\" paths");
  return name;
}

function decodeName(bytes: Uint8Array, where: string): string {
  try {
    return fromUtf8(bytes);
  } catch {
    return fail(ErrorCode.Input, `${where}: name is not valid UTF-8`, "rename the file to UTF-8 before archiving");
  }
}

function memberMeta(input: MemberInput, where: string): Meta {
  const { header, pending, globals, options } = input;
  const number = (key: string, fallback: number): number => {
    const text = paxText(pending.pax, globals, key);
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text)) fail(ErrorCode.Input, `${where}: bad PAX ${key} "${text}"`, "the archive is corrupt");
    return Number(text);
  };
  const mtimeText = paxText(pending.pax, globals, "mtime");
  const mtime = mtimeText === undefined ? header.mtime : parsePaxTime(mtimeText);
  if (mtime === undefined) fail(ErrorCode.Input, `${where}: bad PAX mtime "${mtimeText}"`, "the archive is corrupt");
  return {
    mode: header.mode & 0o7777,
    uid: number("uid", header.uid),
    gid: number("gid", header.gid),
    mtime: clampMtime(mtime, options.sourceDateEpoch),
    xattrs: memberXattrs(new Map([...globals, ...pending.pax]), where),
  };
}

/**
 * SCHILY.xattr.NAME=raw bytes (GNU tar, star, bsdtar); LIBARCHIVE.xattr.URL-ENCODED-NAME=base64
 * (bsdtar, which writes both). The SCHILY form wins when both name the same attribute.
 */
function memberXattrs(pax: Map<string, Uint8Array>, where: string): Xattr[] {
  const byName = new Map<string, Uint8Array>();
  for (const [key, value] of pax) {
    if (!key.startsWith("LIBARCHIVE.xattr.")) continue;
    let name: string;
    try {
      name = decodeURIComponent(key.slice("LIBARCHIVE.xattr.".length));
    } catch {
      return fail(ErrorCode.Input, `${where}: bad xattr name in "${key}"`, "the archive is corrupt");
    }
    byName.set(name, decodeBase64(new TextDecoder().decode(value), where));
  }
  for (const [key, value] of pax) {
    if (key.startsWith("SCHILY.xattr.")) byName.set(key.slice("SCHILY.xattr.".length), value);
  }
  // `tar --acls` text ACLs, unless the same ACL also came as an xattr (--xattrs-include='*').
  for (const [kind, xattrName] of [["access", "system.posix_acl_access"], ["default", "system.posix_acl_default"]] as const) {
    const text = pax.get(`SCHILY.acl.${kind}`);
    if (text === undefined || byName.has(xattrName)) continue;
    const entries = parseAclText(new TextDecoder().decode(text));
    if (typeof entries === "string") fail(ErrorCode.Input, `${where}: ${entries}`, "archive with --xattrs --xattrs-include='*' instead of --acls, which stores ACLs with numeric ids");
    // A minimal access ACL is just the mode bits; the kernel keeps no xattr for it.
    if (entries.length > 0 && !(kind === "access" && isMinimalAcl(entries))) byName.set(xattrName, encodeAclXattr(entries));
  }
  return [...byName].map(([name, value]) => ({ name, value })).sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
}

function decodeBase64(text: string, where: string): Uint8Array {
  let binary: string;
  try {
    // libarchive omits the "=" padding (archive_write_set_format_pax.c base64_encode).
    binary = atob(text + "=".repeat((4 - (text.length % 4)) % 4));
  } catch {
    return fail(ErrorCode.Input, `${where}: LIBARCHIVE.xattr value is not base64`, "the archive is corrupt");
  }
  return Uint8Array.from(binary, (character) => character.charCodeAt(0));
}
