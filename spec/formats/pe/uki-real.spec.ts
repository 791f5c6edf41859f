/** UKI from Debian's systemd-stub 252 and cloud kernel (boot parts), checked with objdump and osslsigncode. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parsePe } from "../../../lib/formats/pe/parse.js";
import { assembleUki } from "../../../lib/formats/pe/uki.js";
import { FileSliceSource } from "../../../lib/io/source.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { bootParts } from "../../boot/parts.js";
import { objdumpPe, osslsigncodeChecksum } from "./objdump.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-uki-real-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("UKI from the real systemd-stub and kernel", () => {
  it("objdump sees the stub's sections and ours, aligned to the stub's own values, not overlapping", async () => {
    const parts = bootParts();
    if (!parts || !oraclesAvailable("objdump", "osslsigncode")) return;
    const stub = readFileSync(parts.stub);
    const kernelSize = readFileSync(parts.vmlinuz).length;
    const uki = await assembleUki({
      stub,
      linux: new FileSliceSource(parts.vmlinuz, 0, kernelSize),
      initrds: [new Uint8Array(4096).fill(7)],
      cmdline: "console=ttyS0,115200 panic=5",
      osrel: 'ID=gptimg\nPRETTY_NAME="gptimg test"\n',
      uname: parts.kernelVersion,
    });
    const stubImage = parsePe(stub).image!;
    const dump = objdumpPe(uki, join(work, "uki.efi"));
    expect(dump.sections.map((section) => section.name)).toEqual([...stubImage.sections.map((section) => section.name), ".osrel", ".cmdline", ".uname", ".initrd", ".linux"]);
    expect(dump.fields["SectionAlignment"]).toBe(stubImage.sectionAlignment);
    expect(dump.fields["FileAlignment"]).toBe(stubImage.fileAlignment);
    const ours = parsePe(uki).image!;
    let previousEnd = 0;
    for (const section of [...ours.sections].sort((left, right) => left.virtualAddress - right.virtualAddress)) {
      expect(section.virtualAddress).toBeGreaterThanOrEqual(previousEnd);
      previousEnd = section.virtualAddress + section.virtualSize;
    }
    for (const section of dump.sections.slice(stubImage.sections.length)) {
      expect(section.vma % stubImage.sectionAlignment).toBe(0);
      expect(section.fileOffset % stubImage.fileAlignment).toBe(0);
    }
    const linux = ours.sections.find((section) => section.name === ".linux")!;
    const kernelImage = parsePe(readFileSync(parts.vmlinuz)).image!;
    expect(linux.virtualSize).toBe(Math.max(kernelSize, kernelImage.sizeOfImage));
    expect(dump.fields["SizeOfImage"]).toBe(Math.ceil(previousEnd / stubImage.sectionAlignment) * stubImage.sectionAlignment);
    const { current, calculated } = osslsigncodeChecksum(join(work, "uki.efi"));
    expect(current).toBe(calculated);
  });

  it(".uname defaults to the release in the kernel's setup header (matches the package's module directory)", async () => {
    const parts = bootParts();
    if (!parts) return;
    const uki = await assembleUki({ stub: readFileSync(parts.stub), linux: readFileSync(parts.vmlinuz), cmdline: "", osrel: "ID=x\n" });
    const image = parsePe(uki).image!;
    const uname = image.sections.find((section) => section.name === ".uname")!;
    expect(new TextDecoder().decode(uki.subarray(uname.pointerToRawData, uname.pointerToRawData + uname.virtualSize))).toBe(parts.kernelVersion);
    const without = parsePe(await assembleUki({ stub: readFileSync(parts.stub), linux: readFileSync(parts.vmlinuz), cmdline: "", osrel: "ID=x\n", uname: "" })).image!;
    expect(without.sections.some((section) => section.name === ".uname")).toBe(false);
  });

  it("refuses to grow the 252 stub's .sbat past the 256 bytes before .sdmagic", async () => {
    const parts = bootParts();
    if (!parts) return;
    const error = await assembleUki({
      stub: readFileSync(parts.stub), linux: readFileSync(parts.vmlinuz), cmdline: "", osrel: "ID=x\n",
      sbat: "uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n",
    }).then(() => undefined, (caught: Error) => caught.message);
    expect(error).toMatch(/^uki\.sbat: merged SBAT is \d+ bytes, the stub's \.sbat section has room for 256/);
  });
});
