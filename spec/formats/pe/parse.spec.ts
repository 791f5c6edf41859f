import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PeChecksum, peChecksum } from "../../../lib/formats/pe/checksum.js";
import { parsePe } from "../../../lib/formats/pe/parse.js";
import { bootParts } from "../../boot/parts.js";
import { makeTestPe } from "./fixture.js";

const runs = Number(process.env.GPTIMG_FC_RUNS ?? 25);

describe("parsePe", () => {
  it("reads a synthetic image", () => {
    const parsed = parsePe(makeTestPe());
    expect(parsed.ok).toBe(true);
    expect(parsed.image!.sections.map((section) => section.name)).toEqual([".text", ".sbat"]);
    expect(parsed.image!.machine).toBe(0x8664);
    expect(parsed.image!.checksumOffsetBytes).toBe(0x40 + 24 + 64);
    expect(parsed.image!.certificateDirectoryOffsetBytes).toBe(0x40 + 24 + 112 + 32);
  });

  it("fc: never throws on garbage or on a damaged image; reports errors instead", () => {
    const valid = makeTestPe();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      const parsed = parsePe(bytes);
      expect(parsed.ok || parsed.findings.some((finding) => finding.severity === "error")).toBe(true);
    }), { numRuns: runs * 20 });
    fc.assert(fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: valid.length }), (offset, value, cut) => {
      const damaged = valid.slice(0, cut);
      if (offset < damaged.length) damaged[offset] = value;
      expect(() => parsePe(damaged)).not.toThrow();
    }), { numRuns: runs * 40 });
  });

  it("reports overlapping sections and headers as errors", () => {
    const bytes = makeTestPe({ sectionAlignment: 0x1000 });
    const data = new DataView(bytes.buffer);
    const secondHeader = 0x40 + 24 + 240 + 40;
    data.setUint32(secondHeader + 12, 0x1000, true);
    expect(parsePe(bytes).findings.map((finding) => finding.message)).toContain('section ".text": memory 0x1000-0x1180 overlaps section ".sbat" at 0x1000');
    expect(parsePe(bytes.slice(0, 100)).findings[0]!.message).toMatch(/points past the end/);
  });

  it("checksum: binutils' CheckSum values of Debian's systemd-stub and systemd-boot (known answers)", () => {
    const parts = bootParts();
    if (!parts) return;
    for (const path of [parts.stub, parts.systemdBoot]) {
      const bytes = readFileSync(path);
      const image = parsePe(bytes).image!;
      expect(image.checkSum).not.toBe(0);
      expect(peChecksum(bytes, image.checksumOffsetBytes)).toBe(image.checkSum);
    }
    const kernel = parsePe(readFileSync(parts.vmlinuz));
    expect(kernel.findings.filter((finding) => finding.severity === "error")).toEqual([]);
    expect(kernel.image!.sizeOfImage).toBeGreaterThan(kernel.image!.fileSizeBytes);
  });

  it("fc: checksum does not depend on how the input is split, including odd chunk lengths and zero runs", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 6 }), (bytes, cuts) => {
      const whole = new PeChecksum();
      whole.update(bytes);
      const pieces = new PeChecksum();
      let start = 0;
      for (const cut of [...cuts].sort((left, right) => left - right)) {
        const end = Math.min(cut, bytes.length);
        const chunk = bytes.subarray(start, end);
        if (chunk.every((byte) => byte === 0) && chunk.length % 3 === 0) pieces.updateZeros(chunk.length);
        else pieces.update(chunk);
        start = Math.max(start, end);
      }
      pieces.update(bytes.subarray(start));
      expect(pieces.digest()).toBe(whole.digest());
    }), { numRuns: runs * 4 });
    const whole = new PeChecksum();
    whole.update(Uint8Array.from([1, 2, 3, 0, 0, 0, 0, 5]));
    const pieces = new PeChecksum();
    pieces.update(Uint8Array.from([1, 2, 3]));
    pieces.updateZeros(4);
    pieces.update(Uint8Array.from([5]));
    expect(pieces.digest()).toBe(whole.digest());
    expect(whole.digest()).toBe(((0x0201 + 0x0003 + 0x0500) + 8) >>> 0);
  });
});
