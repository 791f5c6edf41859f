/**
 * Tar header primitives with hand-made vectors (POSIX ustar table, GNU base-256, PAX records,
 * POSIX.1e ACL text), and a property: random trees extracted by bsdcpio and archived by GNU
 * tar read back as the directory they came from.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHex } from "../../lib/core/bytes.js";
import { writeCpio } from "../../lib/formats/cpio/write.js";
import { MemorySink } from "../../lib/io/stream.js";
import { treeFromDirectory } from "../../lib/tree/from-dir.js";
import { treeFromTar } from "../../lib/tree/from-tar.js";
import { encodeAclXattr, parseAclText } from "../../lib/tree/tar-acl.js";
import { TAR_BLOCK_BYTES, TAR_HEADER, checksumMatches, parseNumeric, parsePaxRecords, parsePaxTime } from "../../lib/tree/tar-header.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";
import { describeTree } from "./describe.js";
import { randomTree } from "./random-tree.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

describe("tar header primitives", () => {
  it("the ustar fields fit in 500 bytes of the 512-byte block without overlapping", () => {
    const fields = Object.values(TAR_HEADER).sort((left, right) => left[0] - right[0]);
    for (let index = 1; index < fields.length; index++) expect(fields[index]![0]).toBe(fields[index - 1]![0] + fields[index - 1]![1]);
    const last = fields[fields.length - 1]!;
    expect(last[0] + last[1]).toBe(500);
  });

  it("numbers: octal with NUL/space ends, GNU base-256 positive and negative", () => {
    expect(parseNumeric(text("0000644\0"))).toBe(0o644);
    expect(parseNumeric(text("  755 \0"))).toBe(0o755);
    expect(parseNumeric(text("\0\0\0\0"))).toBe(0);
    expect(parseNumeric(text("12x4"))).toBeUndefined();
    expect(parseNumeric(bytes(0x80, 0, 0, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0))).toBe(3_000_000);
    expect(parseNumeric(bytes(0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0))).toBe(2 ** 33);
    expect(parseNumeric(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe))).toBe(-2);
  });

  it("checksum: unsigned sum with the field as spaces", () => {
    const block = new Uint8Array(TAR_BLOCK_BYTES);
    block.set(text("a"), 0);
    block.set(text("ustar\0"), 257);
    // 'a' (97) + "ustar" (117+115+116+97+114) + 8 spaces (256) = 912 = 0o1620
    block.set(text("001620\0 "), 148);
    expect(checksumMatches(block)).toBe(true);
    block[0] = 0x62;
    expect(checksumMatches(block)).toBe(false);
  });

  it("PAX records: length-prefixed, binary values kept, malformed lengths reported", () => {
    const body = new Uint8Array([...text("16 path=a/b/cde\n"), ...text("26 SCHILY.xattr.user.x="), 0x00, 0xff, 0x0a]);
    const records = parsePaxRecords(body);
    expect(Array.isArray(records)).toBe(true);
    expect((records as Array<{ key: string; value: Uint8Array }>).map(({ key, value }) => `${key}=${toHex(value)}`)).toEqual(["path=612f622f636465", "SCHILY.xattr.user.x=00ff"]);
    expect(parsePaxRecords(text("99 path=x\n"))).toMatch(/overruns/);
    expect(parsePaxTime("1795303955.036301169")).toBe(1795303955);
    expect(parsePaxTime("-1.5")).toBe(-2);
    expect(parsePaxTime("-3")).toBe(-3);
    expect(parsePaxTime("12a")).toBeUndefined();
  });

  it("ACL text → posix_acl xattr bytes as the kernel stores them", () => {
    const entries = parseAclText("user::rw-\ngroup::r--\nuser:4242:rw-\nmask::rw-\nother::r--\ngroup:4343:r--  #effective:r--\n");
    expect(typeof entries).not.toBe("string");
    expect(toHex(encodeAclXattr(entries as never))).toBe("02000000" + "01000600ffffffff" + "0200060092100000" + "04000400ffffffff" + "08000400f7100000" + "10000600ffffffff" + "20000400ffffffff");
    expect(parseAclText("user:bob:rw-")).toMatch(/names user "bob"/);
    expect(parseAclText("user:bob:rw-:1001")).toEqual([{ tag: 2, permissions: 6, id: 1001 }]);
  });
});

const runs = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);
const haveTools = oraclesAvailable("root", "bsdcpio", "tar");

describe.skipIf(!haveTools)("random trees through GNU tar", () => {
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-tar-prop-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("treeFromTar(GNU tar of a directory) equals treeFromDirectory of it (gnu and pax formats)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(randomTree, fc.constantFrom("gnu", "pax"), async (tree, format) => {
        run++;
        const sink = new MemorySink();
        await writeCpio(tree, sink);
        const directory = join(scratch, `dir-${run}`);
        mkdirSync(directory);
        writeFileSync(join(scratch, "tree.cpio"), sink.bytes());
        runOk("sh", ["-c", `cd '${directory}' && bsdcpio -idm --quiet < '${join(scratch, "tree.cpio")}'`]);
        const archive = join(scratch, `run-${run}.tar`);
        runOk("tar", [`--format=${format}`, "--numeric-owner", "-C", directory, "-cf", archive, "."]);
        const expected = await describeTree(await treeFromDirectory(directory, { xattrs: false }), { contents: true });
        expect(await describeTree(await treeFromTar(archive), { contents: true })).toEqual(expected);
        rmSync(directory, { recursive: true, force: true });
        rmSync(archive);
      }),
      { numRuns: runs },
    );
  });
});
