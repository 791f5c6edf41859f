/**
 * Synthetic PE32+ EFI applications for tests that must run without downloaded boot parts:
 * a stub-like image with a few sections, and a kernel-like image with a large SizeOfImage and
 * optionally an x86 boot-protocol setup header ("HdrS" at 0x202, cmdline_size at 0x238).
 * Field offsets are written from the PE Format tables by hand, independent of lib/formats/pe,
 * so a layout mistake there does not cancel out here.
 */
export interface TestPeOptions {
  readonly machine?: number;
  readonly sectionAlignment?: number;
  readonly fileAlignment?: number;
  readonly sections?: readonly { name: string; size: number; fill?: number }[];
  readonly sizeOfImageAtLeast?: number;
  readonly subsystem?: number;
  /** Certificate table directory entry (file offset, size): a "signed" image. */
  readonly certificateTable?: readonly [number, number];
  /** x86 setup header with this cmdline_size. */
  readonly x86CmdlineSize?: number;
  readonly trailingSymbolTable?: boolean;
  /** Free section-header slots before SizeOfHeaders (default 8). */
  readonly headerSlots?: number;
}

export function makeTestPe(options: TestPeOptions = {}): Uint8Array {
  const sectionAlignment = options.sectionAlignment ?? 0x1000;
  const fileAlignment = options.fileAlignment ?? 0x200;
  const sections = options.sections ?? [{ name: ".text", size: 0x180, fill: 0xc3 }, { name: ".sbat", size: 0x40, fill: 0x61 }];
  const peOffset = 0x40;
  const optionalOffset = peOffset + 4 + 20;
  const tableOffset = optionalOffset + 240;
  const sizeOfHeaders = round(tableOffset + 40 * (sections.length + (options.headerSlots ?? 8)), fileAlignment);
  let rawOffset = sizeOfHeaders;
  let address = round(sizeOfHeaders, sectionAlignment);
  const placed = sections.map((section) => {
    const entry = { ...section, raw: rawOffset, rawSize: round(section.size, fileAlignment), address };
    rawOffset += entry.rawSize;
    address = round(address + section.size, sectionAlignment);
    return entry;
  });
  let fileSize = rawOffset;
  const symbolOffset = fileSize;
  if (options.trailingSymbolTable) fileSize += 2 * 18 + 4 + 6;
  const bytes = new Uint8Array(fileSize);
  const data = new DataView(bytes.buffer);
  data.setUint16(0, 0x5a4d, true);
  data.setUint32(0x3c, peOffset, true);
  data.setUint32(peOffset, 0x4550, true);
  const coff = peOffset + 4;
  data.setUint16(coff, options.machine ?? 0x8664, true);
  data.setUint16(coff + 2, sections.length, true);
  data.setUint32(coff + 4, 0x5eed, true);
  if (options.trailingSymbolTable) {
    data.setUint32(coff + 8, symbolOffset, true);
    data.setUint32(coff + 12, 2, true);
    data.setUint32(symbolOffset + 36, 10, true);
  }
  data.setUint16(coff + 16, 240, true);
  data.setUint16(coff + 18, 0x0206, true);
  data.setUint16(optionalOffset, 0x20b, true);
  data.setUint32(optionalOffset + 16, placed[0]?.address ?? 0, true);
  data.setUint32(optionalOffset + 32, sectionAlignment, true);
  data.setUint32(optionalOffset + 36, fileAlignment, true);
  data.setUint16(optionalOffset + 44, 1, true);
  data.setUint32(optionalOffset + 56, Math.max(address, options.sizeOfImageAtLeast ?? 0), true);
  data.setUint32(optionalOffset + 60, sizeOfHeaders, true);
  data.setUint16(optionalOffset + 68, options.subsystem ?? 10, true);
  data.setUint32(optionalOffset + 108, 16, true);
  if (options.certificateTable) {
    data.setUint32(optionalOffset + 112 + 4 * 8, options.certificateTable[0], true);
    data.setUint32(optionalOffset + 112 + 4 * 8 + 4, options.certificateTable[1], true);
  }
  placed.forEach((section, index) => {
    const header = tableOffset + 40 * index;
    for (let char = 0; char < section.name.length; char++) bytes[header + char] = section.name.charCodeAt(char);
    data.setUint32(header + 8, section.size, true);
    data.setUint32(header + 12, section.address, true);
    data.setUint32(header + 16, section.rawSize, true);
    data.setUint32(header + 20, section.raw, true);
    data.setUint32(header + 36, section.name === ".text" ? 0x60000020 : 0x40000040, true);
    bytes.fill(section.fill ?? index + 1, section.raw, section.raw + section.size);
  });
  if (options.x86CmdlineSize !== undefined) {
    if (tableOffset + 40 * sections.length > 0x1f1) throw new Error("fixture: too many sections for an x86 setup header");
    data.setUint32(0x202, 0x53726448, true);
    data.setUint16(0x206, 0x020f, true);
    data.setUint32(0x238, options.x86CmdlineSize, true);
  }
  return bytes;
}

function round(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
