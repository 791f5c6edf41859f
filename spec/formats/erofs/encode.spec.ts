import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromHex, toHex, utf8, view } from "../../../lib/core/bytes.js";
import { crc32cRaw } from "../../../lib/core/crc32c.js";
import { encodeDirBlock, encodeInodeInto, encodeSuperblock, superblockChecksum } from "../../../lib/formats/erofs/encode.js";
import { encodeXattr, encodeXattrBodyInto, xattrBodyBytes, xattrInodeCount } from "../../../lib/formats/erofs/xattrs.js";
import { oraclesAvailable, runInTrixie } from "../../support/oracles.js";
import { chrootScratch, insideChroot } from "./support/oracle-run.js";

describe("erofs encoders", () => {
  it("crc32c raw update: seed ~0, no final inversion (check value 0xE3069283 inverted)", () => {
    expect(crc32cRaw(0xffffffff, utf8("123456789"))).toBe(~0xe3069283 >>> 0);
  });

  it("superblock golden bytes", () => {
    const superblock = encodeSuperblock({
      rootNid: 36,
      inodeCount: 5,
      buildTimeSeconds: 1000,
      blocks: 1,
      metaBlockAddress: 0,
      xattrBlockAddress: 0,
      uuid: fromHex("0123456789abcdef0123456789abcdef"),
      volumeName: utf8("label"),
    });
    expect(toHex(superblock.subarray(0, 96))).toBe(
      "e2e1f5e0" + "00000000" + "01000000" + "0c" + "00" + "2400" + "0500000000000000" + "e803000000000000" + "00000000" + "01000000" +
        "00000000" + "00000000" + "0123456789abcdef0123456789abcdef" + "6c6162656c" + "00".repeat(11) + "00".repeat(16),
    );
    expect(superblock.subarray(96).every((byte) => byte === 0)).toBe(true);
  });

  it("compact inode golden bytes (FLAT_INLINE regular file, one xattr slot)", () => {
    const out = new Uint8Array(32);
    encodeInodeInto(out, 0, { extended: false, dataLayout: 2, xattrCount: 5, mode: 0o100644, nlink: 1, sizeBytes: 3, union: 0xffffffff, ino: 3, uid: 1000, gid: 100, mtimeSeconds: 0 });
    expect(toHex(out)).toBe("0400" + "0500" + "a481" + "0100" + "03000000" + "00000000" + "ffffffff" + "03000000" + "e803" + "6400" + "00000000");
  });

  it("extended inode golden bytes (negative mtime, large ids)", () => {
    const out = new Uint8Array(64);
    encodeInodeInto(out, 0, { extended: true, dataLayout: 0, xattrCount: 0, mode: 0o020644, nlink: 70000, sizeBytes: 2 ** 33, union: 0x0103, ino: 9, uid: 100000, gid: 100001, mtimeSeconds: -1 });
    expect(toHex(out)).toBe(
      "0100" + "0000" + "a421" + "0000" + "0000000002000000" + "03010000" + "09000000" + "a0860100" + "a1860100" + "ffffffffffffffff" + "00000000" + "70110100" + "00".repeat(16),
    );
  });

  it("directory block: dirents first, then unterminated names", () => {
    const block = encodeDirBlock([
      { nid: 36, nameBytes: utf8("."), fileType: 2 },
      { nid: 36, nameBytes: utf8(".."), fileType: 2 },
      { nid: 40, nameBytes: utf8("a"), fileType: 1 },
    ]);
    expect(toHex(block)).toBe("2400000000000000" + "2400" + "02" + "00" + "2400000000000000" + "2500" + "02" + "00" + "2800000000000000" + "2700" + "01" + "00" + "2e2e2e61");
  });

  it("xattr body: header, shared ids, 4-byte aligned entries", () => {
    const inline = [encodeXattr({ name: "user.ab", value: utf8("xyz") }, "/f"), encodeXattr({ name: "system.posix_acl_access", value: fromHex("02000000") }, "/f")];
    const bytes = xattrBodyBytes(1, inline, "/f");
    expect(bytes).toBe(12 + 4 + 12 + 8);
    expect(xattrInodeCount(bytes)).toBe(7);
    const out = new Uint8Array(bytes);
    encodeXattrBodyInto(out, 0, [5], inline);
    expect(toHex(out)).toBe("00000000" + "01" + "00".repeat(7) + "05000000" + "02" + "01" + "0300" + "6162" + "78797a" + "000000" + "00" + "02" + "0400" + "02000000");
  });

  it("rejects xattr names without an erofs prefix", () => {
    expect(() => encodeXattr({ name: "system.foo", value: new Uint8Array() }, "/f")).toThrow(/^\/f: xattr "system\.foo" has no erofs name prefix;/);
    expect(() => encodeXattr({ name: "user.", value: new Uint8Array() }, "/f")).toThrow(/no erofs name prefix/);
  });
});

const haveMkfs = oraclesAvailable("root", "trixie");
describe.skipIf(!haveMkfs)("superblock checksum against mkfs.erofs 1.8", () => {
  it("reproduces the checksum mkfs.erofs stored", () => {
    const scratch = chrootScratch("erofs-crc");
    try {
      mkdirSync(join(scratch, "src/sub"), { recursive: true });
      writeFileSync(join(scratch, "src/sub/file"), "checksum me\n");
      const result = runInTrixie("mkfs.erofs", ["--quiet", "-T1234", "-Uabcdef01-2345-6789-abcd-ef0123456789", insideChroot(join(scratch, "img")), insideChroot(join(scratch, "src"))]);
      expect(result.status, result.stderr).toBe(0);
      const blockZero = readFileSync(join(scratch, "img")).subarray(0, 4096);
      const stored = view(blockZero).getUint32(1024 + 4, true);
      expect(stored).not.toBe(0);
      expect(superblockChecksum(new Uint8Array(blockZero))).toBe(stored);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
