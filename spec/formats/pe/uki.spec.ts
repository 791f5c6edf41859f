import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { utf8 } from "../../../lib/core/bytes.js";
import { GptimgError } from "../../../lib/core/errors.js";
import { peChecksum } from "../../../lib/formats/pe/checksum.js";
import { parsePe } from "../../../lib/formats/pe/parse.js";
import { assembleUki, planUki, ukiSource, type UkiInputs } from "../../../lib/formats/pe/uki.js";
import { BytesSource } from "../../../lib/io/source.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { makeTestPe } from "./fixture.js";
import { objdumpPe, osslsigncodeChecksum } from "./objdump.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-uki-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const runs = Number(process.env.GPTIMG_FC_RUNS ?? 25);

const alignUp = (value: number, alignment: number): number => Math.ceil(value / alignment) * alignment;

function inputs(overrides: Partial<UkiInputs> = {}, stubOptions: Parameters<typeof makeTestPe>[0] = {}): UkiInputs {
  return {
    stub: makeTestPe(stubOptions),
    linux: makeTestPe({ sections: [{ name: ".text", size: 0x2345 }], sizeOfImageAtLeast: 0x80000, x86CmdlineSize: 2047, sectionAlignment: 0x1000 }),
    initrds: [Uint8Array.from({ length: 1001 }, (_, index) => index & 0xff), new Uint8Array(7).fill(0xee)],
    cmdline: "console=ttyS0,115200 panic=5 ro",
    osrel: "ID=gptimg-test\nVERSION_ID=1\n",
    uname: "6.1.0-test",
    ...overrides,
  };
}

async function expectFailure(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(GptimgError);
  const message = (error as GptimgError).message;
  expect(message).not.toContain("\n");
  expect(message).toMatch(pattern);
}

describe("assembleUki (synthetic stub and kernel)", () => {
  it.each([[0x1000, 0x200], [0x200, 0x200], [0x1000, 0x1000], [0x10000, 0x1000]])(
    "sections follow the stub's with SectionAlignment %d / FileAlignment %d (objdump -h -p)",
    async (sectionAlignment, fileAlignment) => {
      if (!oraclesAvailable("objdump")) return;
      const given = inputs({}, { sectionAlignment, fileAlignment });
      const uki = await assembleUki(given);
      const parsed = parsePe(uki);
      expect(parsed.findings).toEqual([]);
      const dump = objdumpPe(uki, join(work, `align-${sectionAlignment}-${fileAlignment}.efi`));
      expect(dump.sections.map((section) => section.name)).toEqual([".text", ".sbat", ".osrel", ".cmdline", ".uname", ".initrd", ".linux"]);
      const linux = given.linux as Uint8Array;
      const expectedSizes: Record<string, [dataBytes: number, virtualBytes: number]> = {
        ".osrel": [utf8(given.osrel).length, utf8(given.osrel).length],
        ".cmdline": [given.cmdline.length, given.cmdline.length],
        ".uname": [given.uname!.length, given.uname!.length],
        ".initrd": [1004 + 8, 1012],
        ".linux": [linux.length, 0x80000],
      };
      let previousEnd = 0;
      for (const section of dump.sections) {
        expect(section.vma % sectionAlignment, `${section.name} VMA`).toBe(0);
        expect(section.fileOffset % fileAlignment, `${section.name} file offset`).toBe(0);
        expect(section.vma, `${section.name} overlaps the previous section`).toBeGreaterThanOrEqual(previousEnd);
        const ours = parsed.image!.sections.find((candidate) => candidate.name === section.name)!;
        expect(section.vma).toBe(ours.virtualAddress);
        previousEnd = ours.virtualAddress + ours.virtualSize;
        const expected = expectedSizes[section.name];
        if (expected) {
          expect(ours.virtualSize, `${section.name} VirtualSize`).toBe(expected[1]);
          expect(ours.sizeOfRawData).toBe(alignUp(expected[0], fileAlignment));
          // BFD reports min(VirtualSize, SizeOfRawData) for image sections.
          expect(section.size).toBe(Math.min(expected[1], alignUp(expected[0], fileAlignment)));
        }
      }
      expect(dump.fields["SizeOfImage"]).toBe(alignUp(previousEnd, sectionAlignment));
      expect(dump.fields["SectionAlignment"]).toBe(sectionAlignment);
      expect(dump.fields["FileAlignment"]).toBe(fileAlignment);
      expect(uki.length).toBe(dump.sections.at(-1)!.fileOffset + alignUp(linux.length, fileAlignment));
    },
  );

  it("section contents sit at PointerToRawData; multiple initrds are each padded to 4 bytes (ukify)", async () => {
    const given = inputs();
    const uki = await assembleUki(given);
    const image = parsePe(uki).image!;
    const at = (name: string): Uint8Array => {
      const section = image.sections.find((candidate) => candidate.name === name)!;
      return uki.subarray(section.pointerToRawData, section.pointerToRawData + Math.min(section.virtualSize, section.sizeOfRawData));
    };
    expect(new TextDecoder().decode(at(".cmdline"))).toBe(given.cmdline);
    expect(new TextDecoder().decode(at(".osrel"))).toBe(given.osrel);
    const [first, second] = given.initrds as Uint8Array[];
    expect(at(".initrd")).toEqual(Uint8Array.from([...first!, 0, 0, 0, ...second!, 0]));
    const linux = given.linux as Uint8Array;
    expect(at(".linux").subarray(0, linux.length)).toEqual(linux);
    const single = parsePe(await assembleUki({ ...given, initrds: [first!] })).image!;
    expect(single.sections.find((section) => section.name === ".initrd")!.virtualSize).toBe(1001);
  });

  it("CheckSum agrees with osslsigncode's calculation", async () => {
    if (!oraclesAvailable("osslsigncode")) return;
    for (const [index, fileAlignment] of [0x200, 0x1000].entries()) {
      const uki = await assembleUki(inputs({ initrds: [new Uint8Array(12345).fill(0x5a)] }, { fileAlignment }));
      const path = join(work, `checksum-${index}.efi`);
      objdumpPe(uki, path);
      const { current, calculated } = osslsigncodeChecksum(path);
      expect(current).toBe(calculated);
      expect(parsePe(uki).image!.checkSum).toBe(calculated);
    }
  });

  it("is deterministic; TimeDateStamp is the stub's unless given", async () => {
    const one = await assembleUki(inputs());
    const two = await assembleUki(inputs());
    expect(one).toEqual(two);
    expect(parsePe(one).image!.timeDateStamp).toBe(0x5eed);
    const stamped = parsePe(await assembleUki(inputs({ timeDateStamp: 1_704_067_200 }))).image!;
    expect(stamped.timeDateStamp).toBe(1_704_067_200);
  });

  it("drops a trailing COFF symbol table, as ukify does", async () => {
    const image = parsePe(await assembleUki(inputs({}, { trailingSymbolTable: true }))).image!;
    expect(image.pointerToSymbolTable).toBe(0);
    expect(image.numberOfSymbols).toBe(0);
    expect(image.sections.find((section) => section.name === ".osrel")!.pointerToRawData % 0x200).toBe(0);
  });

  it("merges SBAT into the stub's .sbat in place when it fits; refuses when it does not", async () => {
    const sbat = "gptimg,1,gptimg,gptimg,1,https://example.invalid\n";
    const uki = await assembleUki(inputs({ sbat }, { sections: [{ name: ".text", size: 0x180 }, { name: ".sbat", size: 0x40 }, { name: ".sdmagic", size: 0x20 }], sectionAlignment: 0x1000 }));
    const image = parsePe(uki).image!;
    const section = image.sections.find((candidate) => candidate.name === ".sbat")!;
    expect(image.sections.filter((candidate) => candidate.name === ".sbat")).toHaveLength(1);
    const text = new TextDecoder().decode(uki.subarray(section.pointerToRawData, section.pointerToRawData + section.virtualSize));
    expect(text.startsWith("sbat,1,SBAT Version,sbat,1,")).toBe(true);
    expect(text.endsWith(`${sbat}\0`)).toBe(true);
    await expectFailure(assembleUki(inputs({ sbat: sbat.repeat(80) })), /uki\.sbat: merged SBAT is \d+ bytes, the stub's \.sbat section has room for \d+/);
    const noSbat = parsePe(await assembleUki(inputs({ sbat }, { sections: [{ name: ".text", size: 0x180 }] }))).image!;
    expect(noSbat.sections.map((candidate) => candidate.name).at(-1)).toBe(".sbat");
  });

  it("fc: any section sizes and alignments give a valid image whose checksum is split-invariant", async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(0x200, 0x1000), fc.constantFrom(1, 2, 16),
      fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 0, maxLength: 3 }),
      fc.string({ maxLength: 300 }).map((text) => text.replace(/[\u0000-\u001f\u007f]/g, " ")),
      fc.integer({ min: 1, max: 40000 }), fc.integer({ min: 2, max: 9999 }),
      async (fileAlignment, sectionFactor, initrdSizes, cmdline, kernelBytes, split) => {
        const uki = await assembleUki({
          ...inputs({}, { fileAlignment, sectionAlignment: fileAlignment * sectionFactor }),
          linux: makeTestPe({ sections: [{ name: ".text", size: kernelBytes }], sizeOfImageAtLeast: 0x40000 }),
          initrds: initrdSizes.map((size) => new BytesSource(new Uint8Array(size).fill(size & 0xff))),
          cmdline,
        });
        const parsed = parsePe(uki);
        expect(parsed.findings).toEqual([]);
        expect(parsed.image!.checkSum).toBe(peChecksum(uki, parsed.image!.checksumOffsetBytes));
        expect(uki.length % fileAlignment).toBe(0);
        const at = Math.min(split, uki.length);
        const chunked = await assembleUki({
          ...inputs({}, { fileAlignment, sectionAlignment: fileAlignment * sectionFactor }),
          linux: makeTestPe({ sections: [{ name: ".text", size: kernelBytes }], sizeOfImageAtLeast: 0x40000 }),
          initrds: initrdSizes.map((size) => new BytesSource(new Uint8Array(size).fill(size & 0xff))),
          cmdline,
        });
        expect(chunked.subarray(0, at)).toEqual(uki.subarray(0, at));
      },
    ), { numRuns: runs });
  });

  it("fc: ukiSource reads any range exactly as writeUki writes it", async () => {
    const plan = await planUki(inputs());
    const whole = await assembleUki(inputs());
    const source = ukiSource(plan);
    expect(source.size).toBe(whole.length);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: whole.length }), fc.integer({ min: 0, max: 70000 }), async (offset, length) => {
      const take = Math.min(length, whole.length - offset);
      expect(await source.read(offset, take)).toEqual(whole.subarray(offset, offset + take));
    }), { numRuns: runs * 2 });
  });

  it("plans the size before writing", async () => {
    const plan = await planUki(inputs());
    expect(plan.sizeBytes).toBe((await assembleUki(inputs())).length);
  });
});

describe("assembleUki bad input → one-line GptimgError", () => {
  it("kernel that is not a PE image (missing .linux payload)", async () => {
    await expectFailure(assembleUki(inputs({ linux: utf8("not a kernel at all") })), /^uki\.linux: .* is not an EFI-stub kernel/);
    await expectFailure(assembleUki(inputs({ linux: new Uint8Array(0) })), /^uki\.linux:/);
  });
  it("signed stub (certificate table not empty)", async () => {
    await expectFailure(assembleUki(inputs({}, { certificateTable: [0x600, 0x10] })), /^uki\.stub: the stub is signed/);
  });
  it("stub that is not an EFI application, or not PE at all, or already a UKI", async () => {
    await expectFailure(assembleUki(inputs({}, { subsystem: 3 })), /^uki\.stub: Subsystem 3 is not an EFI application/);
    await expectFailure(assembleUki(inputs({ stub: new Uint8Array(4096) })), /^uki\.stub: not a usable PE32\+ image \(no MZ signature/);
    const uki = await assembleUki(inputs());
    await expectFailure(assembleUki(inputs({ stub: uki })), /^uki\.stub: already has a \.linux section/);
  });
  it("kernel of another architecture", async () => {
    await expectFailure(assembleUki(inputs({ linux: makeTestPe({ machine: 0xaa64 }) })), /^uki\.linux: kernel machine 0xaa64 differs from the stub's 0x8664/);
  });
  it("command line longer than the kernel's cmdline_size, or with a newline", async () => {
    await expectFailure(assembleUki(inputs({ cmdline: "x".repeat(2048) })), /^uki\.cmdline: 2048 bytes, the kernel accepts at most 2047/);
    const small = makeTestPe({ x86CmdlineSize: 255 });
    await expectFailure(assembleUki(inputs({ linux: small, cmdline: "y".repeat(256) })), /at most 255/);
    await expectFailure(assembleUki(inputs({ cmdline: "root=x\nro" })), /^uki\.cmdline: contains control character 0xa at 6/);
  });
  it("empty os-release", async () => {
    await expectFailure(assembleUki(inputs({ osrel: "\n" })), /^uki\.osrel: empty/);
  });
  it("no header room for the new section table entries", async () => {
    const crowded = { sections: [{ name: ".text", size: 0x10 }], headerSlots: 2 };
    await expectFailure(assembleUki(inputs({}, crowded)), /^uki\.stub: no room for \d+ more section headers/);
  });
});
