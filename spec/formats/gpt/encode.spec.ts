/** GPT structures: field tables, golden bytes, CRCs, backup = primary with swapped LBAs, decode(encode(x)) = x. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BytesSource } from "../../../lib/io/source.js";
import { readGpt } from "../../../lib/formats/gpt/decode.js";
import { encodeGpt, encodeLabel, type GptEntry } from "../../../lib/formats/gpt/encode.js";
import { ENTRY, ENTRY_SIZE, HEADER, HEADER_SIZE, gptGeometry } from "../../../lib/formats/gpt/layout.js";
import { guidToGptBytes } from "../../../lib/core/guid.js";
import { toHex } from "../../../lib/core/bytes.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 200);

function assertTable(table: Record<string, readonly [number, number]>, size: number): void {
  const ranges = Object.values(table).sort((left, right) => left[0] - right[0]);
  let end = 0;
  for (const [offset, length] of ranges) {
    expect(offset).toBe(end);
    end = offset + length;
  }
  expect(end).toBe(size);
}

describe("GPT layout tables (UEFI 2.10 §5.3)", () => {
  it("header fields tile 92 bytes and entry fields tile 128 bytes, without gaps or overlaps", () => {
    assertTable(HEADER, HEADER_SIZE);
    assertTable(ENTRY, ENTRY_SIZE);
  });
  it("geometry matches libfdisk for 512- and 4096-byte sectors", () => {
    expect(gptGeometry(512, 204800)).toMatchObject({ firstUsableLba: 2048, lastUsableLba: 204766, backupEntriesLba: 204767, backupHeaderLba: 204799 });
    expect(gptGeometry(4096, 13061)).toMatchObject({ firstUsableLba: 256, lastUsableLba: 13055, backupEntriesLba: 13056, backupHeaderLba: 13060 });
  });
});

describe("GPT encoding", () => {
  it("writes GUIDs mixed-endian (golden bytes)", () => {
    expect(toHex(guidToGptBytes("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"))).toBe("28732ac11ff8d211ba4b00a0c93ec93b");
  });
  it("writes labels as UTF-16LE, 36 units, NUL padded", () => {
    const bytes = encodeLabel("esp");
    expect(toHex(bytes.subarray(0, 8))).toBe("6500730070000000");
    expect(bytes.length).toBe(72);
  });
  it("golden protective MBR and header for a 1 MiB + 1-partition disk", () => {
    const encoded = encodeGpt({ sectorSize: 512, totalSectors: 4096, diskGuid: "6913f4b6-6690-4a57-a202-f1b53c56dbdf", entries: [] });
    expect(toHex(encoded.primary.subarray(446, 462))).toBe("00000200eeffffff01000000ff0f0000");
    expect(toHex(encoded.primary.subarray(510, 512))).toBe("55aa");
    expect(toHex(encoded.primary.subarray(512, 520))).toBe(toHex(new TextEncoder().encode("EFI PART")));
  });

  const entry = fc.record({
    typeUuid: fc.uuid({ version: 4 }),
    uuid: fc.uuid({ version: 4 }),
    sizeSectors: fc.integer({ min: 1, max: 5000 }),
    gapSectors: fc.integer({ min: 0, max: 100 }),
    attributes: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    label: fc.string({ unit: "binary", maxLength: 36 }).filter((text) => !text.includes("\u0000") && text.length <= 36),
  });

  it("decode(encode(table)) is the table, for 512 and 4096-byte sectors, and both headers check out", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(512, 4096), fc.uniqueArray(entry, { maxLength: 20, selector: (value) => value.uuid }), fc.uuid({ version: 4 }), async (sectorSize, entries, diskGuid) => {
        // Disks above 4 MiB use libfdisk's 1 MiB-aligned first usable LBA.
        let lba = (1024 * 1024) / sectorSize;
        const gptEntries: GptEntry[] = entries.map((value, slot) => {
          lba += value.gapSectors;
          const first = lba;
          lba += value.sizeSectors;
          return { slot, typeUuid: value.typeUuid, uuid: value.uuid, firstLba: first, lastLba: lba - 1, attributes: value.attributes, label: value.label };
        });
        const totalSectors = Math.max(lba + 1 + 16384 / sectorSize + 1, (5 * 1024 * 1024) / sectorSize);
        const encoded = encodeGpt({ sectorSize, totalSectors, diskGuid, entries: gptEntries });
        const image = new Uint8Array(totalSectors * sectorSize);
        image.set(encoded.primary, 0);
        image.set(encoded.backup, encoded.backupOffsetBytes);
        const decoded = await readGpt(new BytesSource(image));
        expect(decoded.findings).toEqual([]);
        expect(decoded.gpt!.sectorSize).toBe(sectorSize);
        expect(decoded.gpt!.header.diskGuid).toBe(diskGuid);
        expect(decoded.gpt!.entries).toEqual(gptEntries.map((value) => ({ ...value, typeUuid: value.typeUuid.toLowerCase(), uuid: value.uuid.toLowerCase() })));
      }),
      { numRuns: RUNS },
    );
  });
});
