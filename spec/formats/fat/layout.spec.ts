/** FAT field tables match fatgen103 sizes with no overlaps; timestamps encode and clamp as specified. */
import { describe, expect, it } from "vitest";
import { BPB, DIRENT, EBPB16, EBPB32, FSINFO, LFN_DIRENT, encodeLongNameEntryInto } from "../../../lib/formats/fat/layout.js";
import { fatTimestamp } from "../../../lib/formats/fat/time.js";

type Table = Record<string, readonly [number, number]>;

function coverage(table: Table, from: number, size: number): void {
  const fields = Object.values(table).sort((left, right) => left[0] - right[0]);
  let next = from;
  for (const [offset, length] of fields) {
    expect(offset).toBe(next);
    next = offset + length;
  }
  expect(next).toBe(from + size);
}

describe("FAT layout tables", () => {
  it("tile their structures exactly (fatgen103 offsets)", () => {
    coverage(BPB, 0, 36);
    coverage(EBPB16, 36, 510 - 36);
    coverage(EBPB32, 36, 510 - 36);
    coverage(FSINFO, 0, 512);
    coverage(DIRENT, 0, 32);
    coverage(LFN_DIRENT, 0, 32);
    expect(EBPB32.BS_VolID[0]).toBe(0x43);
    expect(EBPB16.BS_VolID[0]).toBe(0x27);
  });

  it("long-name entries: 13 units, 0x0000 terminator, 0xFFFF padding, ordinal flags", () => {
    const bytes = new Uint8Array(64);
    const data = new DataView(bytes.buffer);
    encodeLongNameEntryInto(data, 0, "abcdefghijklmnop", 2, true, 0x5a);
    expect(bytes[0]).toBe(0x42);
    expect(bytes[11]).toBe(0x0f);
    expect(bytes[13]).toBe(0x5a);
    expect(Buffer.from(bytes.subarray(1, 11)).toString("hex")).toBe("6e006f0070000000ffff");
    encodeLongNameEntryInto(data, 32, "abcdefghijklm", 1, true, 0);
    expect(Buffer.from(bytes.subarray(32 + 28, 32 + 32)).toString("hex")).toBe("6c006d00");
  });
});

describe("FAT timestamps", () => {
  it("encode UTC with 2-second resolution and the odd second in hundredths", () => {
    // 2023-11-14 22:13:21 UTC
    const stamp = fatTimestamp(1_700_000_001);
    expect(stamp.date).toBe(14 | (11 << 5) | ((2023 - 1980) << 9));
    expect(stamp.time).toBe((21 >> 1) | (13 << 5) | (22 << 11));
    expect(stamp.hundredths).toBe(100);
  });

  it("clamp to 1980-01-01 and 2107-12-31 23:59:58", () => {
    expect(fatTimestamp(0)).toEqual({ date: 1 | (1 << 5), time: 0, hundredths: 0 });
    expect(fatTimestamp(-5)).toEqual(fatTimestamp(0));
    const last = fatTimestamp(Date.UTC(2200, 0, 1) / 1000);
    expect(last.date).toBe(31 | (12 << 5) | (127 << 9));
    expect(last.time).toBe((59 >> 1) | (59 << 5) | (23 << 11));
  });
});
