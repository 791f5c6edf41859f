/** Superblock encoder/decoder: golden bytes (hand-derived from formats.md §3.1) and round trip. */
import { describe, expect, it } from "vitest";
import { toHex } from "../../../lib/core/bytes.js";
import { decodeSuperblock, encodeSuperblock } from "../../../lib/formats/verity/superblock.js";

const FIELDS = { hashType: 1 as const, uuid: "0f3c2a55-61d2-4e7b-9a10-5c2d7e8f9a01", algorithm: "sha256" as const, dataBlockSize: 4096, hashBlockSize: 512, dataBlocks: 2 ** 33 + 5, salt: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) };

describe("verity superblock", () => {
  it("encodes the fields at the offsets of struct verity_sb", () => {
    const bytes = encodeSuperblock(FIELDS);
    expect(bytes.length).toBe(512);
    expect(toHex(bytes.subarray(0, 0x58))).toBe(
      "7665726974790000" + "01000000" + "01000000" + "0f3c2a5561d24e7b9a105c2d7e8f9a01" +
      "736861323536" + "00".repeat(26) + "00100000" + "00020000" + "0500000002000000" + "0400" + "000000000000",
    );
    expect(toHex(bytes.subarray(0x58, 0x5c))).toBe("deadbeef");
    expect(bytes.subarray(0x5c).every((byte) => byte === 0)).toBe(true);
  });

  it("round-trips", () => {
    expect(decodeSuperblock(encodeSuperblock(FIELDS))).toEqual(FIELDS);
  });

  it("reports damage as a reason, not an exception", () => {
    const bytes = encodeSuperblock(FIELDS);
    bytes[0] = 0x56;
    expect(decodeSuperblock(bytes)).toMatch(/signature/);
    const wrongVersion = encodeSuperblock(FIELDS);
    wrongVersion[8] = 2;
    expect(decodeSuperblock(wrongVersion)).toMatch(/version 2/);
    expect(decodeSuperblock(new Uint8Array(100))).toMatch(/100 bytes/);
  });
});
