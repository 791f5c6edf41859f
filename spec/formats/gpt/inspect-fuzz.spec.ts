/**
 * The GPT reader never throws on damaged input: 10,000 mutated and truncated images each
 * give a result with findings (gptimg inspect reports them; it never crashes).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BytesSource } from "../../../lib/io/source.js";
import { readGpt } from "../../../lib/formats/gpt/decode.js";
import { encodeGpt } from "../../../lib/formats/gpt/encode.js";

const SECTORS = 2048 + 64 + 34;

function sampleImage(sectorSize: number): Uint8Array {
  const totalSectors = sectorSize === 512 ? SECTORS : 600;
  const first = 1048576 / sectorSize;
  const encoded = encodeGpt({
    sectorSize,
    totalSectors,
    diskGuid: "6913f4b6-6690-4a57-a202-f1b53c56dbdf",
    entries: [
      { slot: 0, typeUuid: "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", uuid: "b2d552b0-45db-4678-b34f-066168609d1a", firstLba: first, lastLba: first + 15, attributes: 1n << 63n, label: "esp" },
      { slot: 3, typeUuid: "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", uuid: "9e90c9c3-c7e8-44f2-bf19-9ae2689de795", firstLba: first + 16, lastLba: first + 40, attributes: 0n, label: "root-x86-64" },
    ],
  });
  const image = new Uint8Array(totalSectors * sectorSize);
  image.set(encoded.primary, 0);
  image.set(encoded.backup, encoded.backupOffsetBytes);
  return image;
}

describe("GPT reader on fuzzed images", () => {
  it("10,000 mutated/truncated images: no exception, damage is reported", async () => {
    const images = [sampleImage(512), sampleImage(4096)];
    const mutation = fc.record({
      image: fc.constantFrom(0, 1),
      flips: fc.array(fc.record({ offset: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 0, maxLength: 8 }),
      truncateTo: fc.option(fc.nat(), { nil: undefined }),
      focusHeaders: fc.boolean(),
    });
    let damaged = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (value) => {
        const original = images[value.image]!;
        const sectorSize = value.image === 0 ? 512 : 4096;
        const bytes = Uint8Array.from(original);
        let changed = false;
        for (const flip of value.flips) {
          // Half the mutations hit the header and entry sectors, where a parser is most fragile.
          const offset = value.focusHeaders ? flip.offset % (34 * sectorSize) : flip.offset % bytes.length;
          changed ||= bytes[offset] !== flip.value;
          bytes[offset] = flip.value;
        }
        const image = value.truncateTo === undefined ? bytes : bytes.subarray(0, value.truncateTo % (bytes.length + 1));
        changed ||= image.length !== original.length;
        const result = await readGpt(new BytesSource(image));
        expect(Array.isArray(result.findings)).toBe(true);
        if (result.findings.some((finding) => finding.severity === "error")) damaged++;
        if (!changed) expect(result.findings).toEqual([]);
      }),
      { numRuns: 10_000 },
    );
    expect(damaged).toBeGreaterThan(1000);
  });
});
