/**
 * newc cpio writer. Oracles: GNU cpio (-t, -tv --numeric-uid-gid, -idm) and bsdcpio (-t,
 * -i) read and extract our archives; the extracted tree, read back by treeFromDirectory,
 * must equal the source tree (names, modes, owners, mtimes, contents, links, devices).
 * gzip/zstd variants are decompressed by the real gzip and zstd commands.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHex } from "../../../lib/core/bytes.js";
import { GptimgError } from "../../../lib/core/errors.js";
import { encodeCpioHeader, encodeCpioTrailer } from "../../../lib/formats/cpio/encode.js";
import { CPIO_NEWC_HEADER, CPIO_NEWC_HEADER_BYTES } from "../../../lib/formats/cpio/layout.js";
import { concatenateInitrds, writeCpio, type CpioWriteOptions } from "../../../lib/formats/cpio/write.js";
import { BytesSource, ZeroSource } from "../../../lib/io/source.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { MemorySink } from "../../../lib/io/stream.js";
import { treeFromDirectory } from "../../../lib/tree/from-dir.js";
import { walkTree, type DirNode } from "../../../lib/tree/tree.js";
import { oraclesAvailable, runOk } from "../../support/oracles.js";
import { describeTree } from "../../tree/describe.js";
import { makeEdgeTree } from "../../tree/edge-tree.js";

async function archive(root: DirNode, options: CpioWriteOptions = {}): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeCpio(root, sink, options);
  return sink.bytes();
}

describe("newc layout and encoding", () => {
  it("the 14 fields tile the 110-byte header without gaps", () => {
    const fields = Object.values(CPIO_NEWC_HEADER).sort((left, right) => left[0] - right[0]);
    let expectedOffset = 0;
    for (const [offset, length] of fields) {
      expect(offset).toBe(expectedOffset);
      expectedOffset = offset + length;
    }
    expect(expectedOffset).toBe(CPIO_NEWC_HEADER_BYTES);
  });

  it("the trailer is GNU cpio's byte for byte (ino 0, nlink 1, namesize 11, padded to 124)", () => {
    const ascii = "070701" + "00000000".repeat(4) + "00000001" + "00000000".repeat(6) + "0000000b" + "00000000" + "TRAILER!!!";
    const expected = new Uint8Array(124);
    expected.set(new TextEncoder().encode(ascii));
    expect(toHex(encodeCpioTrailer())).toBe(toHex(expected));
  });

  it("refuses values that do not fit 8 hex digits, naming the entry", () => {
    expect(() => encodeCpioHeader({ ino: 1, mode: 0o100644, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 2 ** 32, rdevmajor: 0, rdevminor: 0, name: "huge.img" })).toThrow(/"huge\.img": filesize 4294967296/);
  });
});

const haveTools = oraclesAvailable("root", "cpio", "bsdcpio", "gzip", "zstd", "setfattr", "setcap", "mknod");

describe("zstd initrds and the codec's one-frame limit", () => {
  it("an archive past the limit fails in one line naming the setting, while it is being written", async () => {
    const builder = new TreeBuilder();
    builder.addFile("huge", { mode: 0o644, uid: 0, gid: 0, mtime: 5, xattrs: [] }, new ZeroSource(800 * 1024 * 1024));
    const sink = new MemorySink();
    const error = await writeCpio(builder.build(), sink, { compression: "zstd", description: "boot.uki.initrds[0].compression" }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GptimgError);
    const message = (error as GptimgError).message;
    expect(message).toMatch(/^boot\.uki\.initrds\[0\]\.compression: the cpio archive passes \d+ bytes, more than zstd compresses in one frame here/);
    expect(message).not.toContain("\n");
    // Refused before the archive reached 800 MiB, and nothing was written.
    expect(Number(/passes (\d+) bytes/.exec(message)![1])).toBeLessThan(800 * 1024 * 1024);
    expect(sink.bytes().length).toBe(0);
  });
});

describe.skipIf(!haveTools)("GNU cpio and bsdcpio read our archives", () => {
  let scratch = "";
  let source = "";
  let tree: DirNode;
  let plain: Uint8Array;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-cpio-"));
    source = join(scratch, "src");
    makeEdgeTree(source);
    tree = await treeFromDirectory(source, { xattrs: false });
    plain = await archive(tree);
    writeFileSync(join(scratch, "plain.cpio"), plain);
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const sourceListing = async (): Promise<string[]> => (await describeTree(tree, { contents: true, xattrs: false })).filter((line) => !line.startsWith(". "));

  it("cpio -t and bsdcpio -t list every path in walk order", async () => {
    const expected = [...walkTree(tree)].map(({ path }) => (path === "" ? "." : path));
    const gnu = runOk("cpio", ["-t", "--quiet", "-F", join(scratch, "plain.cpio")]).trimEnd().split("\n");
    const bsd = runOk("bsdcpio", ["-t", "-F", join(scratch, "plain.cpio")], { env: { ...process.env, LC_ALL: "C.UTF-8" } }).trimEnd().split("\n");
    expect(gnu).toEqual(expected);
    expect(bsd).toEqual(expected);
  });

  it("cpio -tv --numeric-uid-gid shows our modes, owners, sizes and link targets", () => {
    const listing = runOk("cpio", ["-tv", "--numeric-uid-gid", "--quiet", "-F", join(scratch, "plain.cpio")], { env: { ...process.env, TZ: "UTC", LC_ALL: "C" } });
    const line = (name: string): string => listing.split("\n").find((entry) => entry.endsWith(` ${name}`) || entry.includes(` ${name} -> `)) ?? `(no ${name})`;
    expect(line("suid")).toMatch(/^-rwsr-xr-x +1 0 +0 +5 /);
    expect(line("sticky")).toMatch(/^drwxrwxrwt +2 0 +0 /);
    expect(line("owned")).toMatch(/^-rw-r--r-- +1 1234 +5678 +6 /);
    expect(line("bigowner")).toMatch(/ 3000000 +3000001 /);
    expect(line("null")).toMatch(/^crw-rw-rw- +1 0 +0 +1, +3 /);
    expect(line("fifo")).toMatch(/^prw--w---- /);
    expect(line("abs-link")).toMatch(/^lrwxrwxrwx .* abs-link -> \/absolute\/target$/);
    expect(line("hard-b")).toMatch(/^-rw-r--r-- +3 0 +0 +0 /);
    expect(line("sticky/hard-c")).toMatch(/^-rw-r--r-- +3 0 +0 +7 /);
  });

  it("GNU cpio -idm extracts a tree identical to the source (GNU cpio sets neither symlink nor directory mtimes afterwards)", async () => {
    const target = join(scratch, "gnu-out");
    mkdirSync(target);
    runOk("sh", ["-c", `cd '${target}' && cpio -idm --quiet --no-absolute-filenames < '${join(scratch, "plain.cpio")}'`]);
    const withoutSymlinkMtimes = (lines: string[]): string[] => lines.map((line) => (/ (symlink|dir) /.test(line) ? line.replace(/ t=-?\d+/, "") : line));
    const extracted = (await describeTree(await treeFromDirectory(target, { xattrs: false }), { contents: true, xattrs: false })).filter((line) => !line.startsWith(". "));
    expect(withoutSymlinkMtimes(extracted)).toEqual(withoutSymlinkMtimes(await sourceListing()));
  });

  it("bsdcpio -i extracts a tree identical to the source, directory mtimes included", async () => {
    const target = join(scratch, "bsd-out");
    mkdirSync(target);
    runOk("sh", ["-c", `cd '${target}' && bsdcpio -idm --quiet < '${join(scratch, "plain.cpio")}'`]);
    const extracted = (await describeTree(await treeFromDirectory(target, { xattrs: false }), { contents: true, xattrs: false })).filter((line) => !line.startsWith(". "));
    expect(extracted).toEqual(await sourceListing());
  });

  it.each([
    ["gzip", "gzip -dc"],
    ["zstd", "zstd -dc -q"],
  ] as const)("the %s variant decompresses (real tool) to the plain archive", async (compression, command) => {
    const compressed = await archive(tree, { compression });
    const path = join(scratch, `archive.${compression}`);
    writeFileSync(path, compressed);
    const decompressed = runOk("sh", ["-c", `${command} < '${path}' | od -An -v -tx1 | tr -d ' \\n'`]);
    expect(decompressed).toBe(toHex(plain));
    expect(compressed.length).toBeLessThan(plain.length);
  });

  it("is deterministic: two builds (and two compressed builds) are byte-identical", async () => {
    expect(toHex(await archive(tree))).toBe(toHex(plain));
    const again = await treeFromDirectory(source, { xattrs: false });
    expect(toHex(await archive(again, { compression: "gzip" }))).toBe(toHex(await archive(tree, { compression: "gzip" })));
  });

  it("a hardlinked symlink becomes two symlinks (the kernel's do_symlink has no hardlink path)", async () => {
    const builder = new TreeBuilder();
    builder.addSymlink("a", { mode: 0o777, uid: 0, gid: 0, mtime: 5, xattrs: [] }, "target");
    builder.addHardlink("b", "a");
    const path = join(scratch, "symlinks.cpio");
    writeFileSync(path, await archive(builder.build()));
    const target = join(scratch, "symlinks-out");
    mkdirSync(target);
    runOk("sh", ["-c", `cd '${target}' && cpio -idm --quiet < '${path}'`]);
    expect(runOk("readlink", [join(target, "a"), join(target, "b")])).toBe("target\ntarget\n");
  });

  it("concatenation: microcode first, parts padded to 4, and GNU cpio reads the first archive", async () => {
    const microcode = new BytesSource(plain, "ucode.cpio");
    const odd = new BytesSource(new Uint8Array([0x1f, 0x8b, 1]), "odd.gz");
    const sink = new MemorySink();
    const written = await concatenateInitrds({ microcode: [microcode], initrds: [odd, microcode] }, sink);
    expect(written).toBe(plain.length + 4 + plain.length);
    const bytes = sink.bytes();
    expect(toHex(bytes.subarray(plain.length, plain.length + 4))).toBe("1f8b0100");
    writeFileSync(join(scratch, "concat.img"), bytes);
    expect(runOk("cpio", ["-t", "--quiet", "-F", join(scratch, "concat.img")]).split("\n")[1]).toBe("abs-link");
    await expect(concatenateInitrds({ microcode: [odd], initrds: [] }, new MemorySink())).rejects.toThrow(GptimgError);
    await expect(concatenateInitrds({ microcode: [odd], initrds: [] }, new MemorySink())).rejects.toThrow(/odd\.gz: microcode initrd is not an uncompressed newc cpio/);
  });
});
