/**
 * Unified Kernel Image assembly (UAPI.5 "Unified Kernel Image"): systemd-stub plus sections
 * `.osrel .cmdline .dtb .uname .splash .initrd .linux` appended in that order, which is the
 * order systemd's ukify writes them (src/ukify/ukify.py make_uki / pe_add_sections); `.sbat`
 * is merged into the stub's own `.sbat` section in place, or appended last if the stub has
 * none. Placement follows ukify and the PE Format spec:
 *
 *   VirtualAddress   = round_up(end of the highest section in memory, SectionAlignment)
 *   PointerToRawData = round_up(end of file so far, FileAlignment)
 *   SizeOfRawData    = round_up(data length, FileAlignment), zero padded
 *   VirtualSize      = data length; for `.linux` max(length, kernel SizeOfImage) as ukify
 *                      does, because stubs that run the kernel in place (EFI handover) need
 *                      the kernel's whole memory image inside the section
 *   SizeOfImage      = round_up(highest VirtualAddress + VirtualSize, SectionAlignment)
 *
 * Both alignments come from the stub's own header (Debian's 252 x86-64 stub: 0x200/0x200;
 * other builds use 4 KiB), never from constants. CheckSum is computed (ukify writes 0; the
 * firmware ignores it, objdump and pesign show it). TimeDateStamp is the stub's unless given.
 * A trailing COFF symbol table (Debian's stub has one) is dropped, as ukify does.
 *
 * The output is planned first (planUki: validates everything, reads the inputs once for the
 * checksum) and then streamed (writeUki) or read on demand (ukiSource), so a 100 MiB initrd
 * is never copied into one buffer.
 */
import { utf8, view } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { alignUp } from "../../core/int.js";
import { BytesSource, ZeroSource, sourceChunks, type ByteSource } from "../../io/source.js";
import { MemorySink, type SequentialSink } from "../../io/stream.js";
import { PeChecksum } from "./checksum.js";
import { COFF_HEADER, DataDirectory, OPTIONAL_HEADER_PE32PLUS as OPT, SECTION_HEADER as SEC, SECTION_HEADER_SIZE, SectionFlag, SUBSYSTEM_EFI_APPLICATION } from "./layout.js";
import { findSection, parsePe, sectionData, symbolTableEnd, type PeImage } from "./parse.js";
import { ConcatSource } from "./sources.js";

export interface UkiInputs {
  /** systemd-stub (linuxx64.efi.stub / linuxaa64.efi.stub), unsigned. */
  readonly stub: Uint8Array;
  /** EFI-stub kernel (bzImage / arm64 Image with a PE header). */
  readonly linux: ByteSource | Uint8Array;
  /** Concatenated into one `.initrd`, each padded to 4 bytes when there are several (ukify). */
  readonly initrds?: readonly (ByteSource | Uint8Array)[];
  /** Kernel command line; `.cmdline` is omitted when empty. */
  readonly cmdline: string;
  /** os-release text; systemd-boot ignores UKIs without a non-empty `.osrel`. */
  readonly osrel: string;
  /**
   * `uname -r` of the kernel, for `.uname`. Default: read from an x86 kernel's setup header
   * (kernel_version), as ukify does; "" leaves `.uname` out.
   */
  readonly uname?: string;
  /** SBAT CSV lines to merge into the stub's `.sbat` (its header line may be included). */
  readonly sbat?: string;
  /** BMP image for `.splash`. */
  readonly splash?: Uint8Array;
  /** Flattened device tree for `.dtb`. */
  readonly dtb?: Uint8Array;
  /** COFF TimeDateStamp in seconds; default: the stub's own value. */
  readonly timeDateStamp?: number;
}

export interface UkiSection {
  readonly name: string;
  readonly virtualAddress: number;
  readonly virtualSize: number;
  readonly pointerToRawData: number;
  readonly sizeOfRawData: number;
  /** The section's data in order; its length may be below VirtualSize (`.linux`). */
  readonly parts: readonly ByteSource[];
  readonly dataSizeBytes: number;
}

export interface UkiPlan {
  readonly sizeBytes: number;
  /** The patched stub: headers (with the new section table) and the stub's own sections. */
  readonly stubBytes: Uint8Array;
  readonly sections: readonly UkiSection[];
  readonly checkSum: number;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
}

/** x86 boot protocol: cmdline_size is valid from protocol 2.06; older kernels and arm64 allow 2047 bytes + NUL. */
const DEFAULT_CMDLINE_MAX_BYTES = 2047;
const SBAT_HEADER = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md";
const KERNEL_HEADER_PROBE_BYTES = 64 * 1024;
const U32_LIMIT = 0x1_0000_0000;

export async function planUki(inputs: UkiInputs): Promise<UkiPlan> {
  const stub = readStub(inputs.stub);
  const { image } = stub;
  const linux = asSource(inputs.linux, "uki.linux");
  const kernel = await readKernelHeader(linux, image.machine);

  if (inputs.osrel.trim() === "") fail(ErrorCode.Input, "uki.osrel: empty", "systemd-boot lists only UKIs with a non-empty .osrel; pass the os-release text");
  checkCmdline(inputs.cmdline, kernel.cmdlineMaxBytes);

  const initrdParts: ByteSource[] = [];
  const initrds = (inputs.initrds ?? []).map((initrd, index) => asSource(initrd, `uki.initrds[${index}]`));
  for (const initrd of initrds) {
    initrdParts.push(initrd);
    // ukify join_initrds: with several initrds each is padded to 4 bytes; a single one is used as is.
    if (initrds.length > 1 && initrd.size % 4 !== 0) initrdParts.push(new ZeroSource(4 - (initrd.size % 4)));
  }
  const wanted: { name: string; parts: ByteSource[]; virtualSize?: number }[] = [];
  const text = (name: string, value: string | undefined): void => {
    if (value !== undefined && value !== "") wanted.push({ name, parts: [new BytesSource(utf8(value), `uki ${name}`)] });
  };
  const binary = (name: string, value: Uint8Array | undefined): void => {
    if (value !== undefined && value.length > 0) wanted.push({ name, parts: [new BytesSource(value, `uki ${name}`)] });
  };
  text(".osrel", inputs.osrel);
  text(".cmdline", inputs.cmdline);
  binary(".dtb", inputs.dtb);
  text(".uname", inputs.uname ?? kernel.uname);
  binary(".splash", inputs.splash);
  if (initrdParts.length > 0) wanted.push({ name: ".initrd", parts: initrdParts });
  wanted.push({ name: ".linux", parts: [linux], virtualSize: Math.max(linux.size, kernel.sizeOfImage) });

  const stubBytes = stub.bytes;
  const patch = view(stubBytes);
  const stubSbat = findSection(image, ".sbat");
  if (inputs.sbat !== undefined) {
    const merged = utf8(mergeSbat(stubSbat === undefined ? "" : textOf(sectionData(stubBytes, stubSbat)), inputs.sbat));
    if (stubSbat === undefined) wanted.push({ name: ".sbat", parts: [new BytesSource(merged, "uki .sbat")] });
    else replaceSectionInPlace(stubBytes, image, stubSbat, merged);
  }

  const { sectionAlignment, fileAlignment } = image;
  const headerRoom = headerRoomBytes(stubBytes, image);
  const tableEnd = image.sectionTableOffsetBytes + (image.sections.length + wanted.length) * SECTION_HEADER_SIZE;
  if (tableEnd > headerRoom) {
    fail(ErrorCode.Input, `uki.stub: no room for ${wanted.length} more section headers (table would end at ${tableEnd}, headers end at ${headerRoom})`, "use an unmodified systemd-stub (linuxx64.efi.stub)");
  }
  let memoryEnd = Math.max(...image.sections.map((section) => section.virtualAddress + section.virtualSize));
  let fileEnd = stubBytes.length;
  let codeBytes = 0;
  let dataBytes = 0;
  const sections: UkiSection[] = [];
  for (const [index, section] of wanted.entries()) {
    const dataSizeBytes = section.parts.reduce((total, part) => total + part.size, 0);
    const planned: UkiSection = {
      name: section.name,
      virtualAddress: alignUp(memoryEnd, sectionAlignment),
      virtualSize: section.virtualSize ?? dataSizeBytes,
      pointerToRawData: alignUp(fileEnd, fileAlignment),
      sizeOfRawData: alignUp(dataSizeBytes, fileAlignment),
      parts: section.parts,
      dataSizeBytes,
    };
    memoryEnd = planned.virtualAddress + planned.virtualSize;
    fileEnd = planned.pointerToRawData + planned.sizeOfRawData;
    if (memoryEnd >= U32_LIMIT || fileEnd >= U32_LIMIT) fail(ErrorCode.Size, `uki: ${section.name} would end beyond 4 GiB`, "PE images are limited to 32-bit sizes; use smaller initrds");
    const isCode = section.name === ".linux";
    if (isCode) codeBytes += planned.sizeOfRawData;
    else dataBytes += planned.sizeOfRawData;
    writeSectionHeader(stubBytes, image.sectionTableOffsetBytes + (image.sections.length + index) * SECTION_HEADER_SIZE, planned,
      SectionFlag.MEM_READ | (isCode ? SectionFlag.CNT_CODE : SectionFlag.CNT_INITIALIZED_DATA));
    sections.push(planned);
  }
  const opt = image.optionalHeaderOffsetBytes;
  const coff = image.coffHeaderOffsetBytes;
  patch.setUint16(coff + COFF_HEADER.NumberOfSections[0], image.sections.length + sections.length, true);
  if (inputs.timeDateStamp !== undefined) patch.setUint32(coff + COFF_HEADER.TimeDateStamp[0], inputs.timeDateStamp >>> 0, true);
  patch.setUint32(opt + OPT.SizeOfCode[0], (image.sizeOfCode + codeBytes) >>> 0, true);
  patch.setUint32(opt + OPT.SizeOfInitializedData[0], (image.sizeOfInitializedData + dataBytes) >>> 0, true);
  patch.setUint32(opt + OPT.SizeOfImage[0], alignUp(memoryEnd, sectionAlignment), true);
  patch.setUint32(opt + OPT.SizeOfHeaders[0], headerRoom, true);
  patch.setUint32(opt + OPT.CheckSum[0], 0, true);

  const checksum = new PeChecksum();
  checksum.update(stubBytes);
  let position = stubBytes.length;
  for (const section of sections) {
    checksum.updateZeros(section.pointerToRawData - position);
    for (const part of section.parts) for await (const chunk of sourceChunks(part, 4 * 1024 * 1024)) checksum.update(chunk);
    checksum.updateZeros(section.sizeOfRawData - section.dataSizeBytes);
    position = section.pointerToRawData + section.sizeOfRawData;
  }
  const checkSum = checksum.digest();
  patch.setUint32(opt + OPT.CheckSum[0], checkSum, true);
  return { sizeBytes: position, stubBytes, sections, checkSum, sectionAlignment, fileAlignment };
}

/**
 * The planned UKI as a random-access source: the ESP writer can store it as a file whose
 * kernel and initrd bytes are read from their own sources on demand.
 */
export function ukiSource(plan: UkiPlan, description = "UKI"): ByteSource {
  const pieces: ByteSource[] = [new BytesSource(plan.stubBytes, `${description} headers`)];
  let position = plan.stubBytes.length;
  for (const section of plan.sections) {
    pieces.push(new ZeroSource(section.pointerToRawData - position), ...section.parts, new ZeroSource(section.sizeOfRawData - section.dataSizeBytes));
    position = section.pointerToRawData + section.sizeOfRawData;
  }
  return new ConcatSource(pieces, description);
}

/** Streams a planned UKI front to back. */
export async function writeUki(plan: UkiPlan, sink: SequentialSink): Promise<void> {
  for await (const chunk of sourceChunks(ukiSource(plan), 4 * 1024 * 1024)) await sink.write(chunk);
}

/** Plans and writes a UKI into memory. */
export async function assembleUki(inputs: UkiInputs): Promise<Uint8Array> {
  const plan = await planUki(inputs);
  const sink = new MemorySink();
  await writeUki(plan, sink);
  return sink.bytes();
}

/** The stub, validated, copied, with a trailing COFF symbol table removed (ukify does the same). */
function readStub(bytes: Uint8Array): { bytes: Uint8Array; image: PeImage } {
  const parsed = parsePe(bytes);
  const image = parsed.image;
  if (image === undefined || !parsed.ok) {
    return fail(ErrorCode.Input, `uki.stub: not a usable PE32+ image (${parsed.findings.find((finding) => finding.severity === "error")?.message})`, "pass systemd-stub (linuxx64.efi.stub or linuxaa64.efi.stub from systemd-boot-efi)");
  }
  if (image.sections.length === 0) fail(ErrorCode.Input, "uki.stub: has no sections", "pass systemd-stub");
  if (image.subsystem !== SUBSYSTEM_EFI_APPLICATION) fail(ErrorCode.Input, `uki.stub: Subsystem ${image.subsystem} is not an EFI application (10)`, "pass systemd-stub");
  const certificates = image.dataDirectories[DataDirectory.Certificate];
  if (certificates !== undefined && (certificates.virtualAddress !== 0 || certificates.size !== 0)) {
    fail(ErrorCode.Input, "uki.stub: the stub is signed (its certificate table is not empty); adding sections would invalidate the signature", "use the unsigned stub and sign the finished UKI instead");
  }
  for (const name of [".linux", ".initrd", ".cmdline", ".osrel", ".uname", ".splash", ".dtb"]) {
    if (findSection(image, name)) fail(ErrorCode.Input, `uki.stub: already has a ${name} section (is it a UKI?)`, "pass the bare systemd-stub");
  }
  // A symbol table that ends the file is dropped; anywhere else it stays (its pointer remains valid).
  const symbolsEnd = symbolTableEnd(bytes, image);
  const stripSymbols = symbolsEnd === bytes.length;
  const copy = Uint8Array.from(bytes.subarray(0, stripSymbols ? image.pointerToSymbolTable : bytes.length));
  if (stripSymbols) {
    const patch = view(copy);
    patch.setUint32(image.coffHeaderOffsetBytes + COFF_HEADER.PointerToSymbolTable[0], 0, true);
    patch.setUint32(image.coffHeaderOffsetBytes + COFF_HEADER.NumberOfSymbols[0], 0, true);
  }
  const sectionsEnd = Math.max(...image.sections.map((section) => section.pointerToRawData + section.sizeOfRawData));
  if (copy.length < sectionsEnd) fail(ErrorCode.Input, "uki.stub: the COFF symbol table overlaps section data", "pass an unmodified systemd-stub");
  return { bytes: copy, image };
}

/**
 * Bytes available for headers: SizeOfHeaders rounded up to FileAlignment (always safe, ukify
 * does it, because the first section's data starts file-aligned), but never into a section's
 * raw data, and only if the gap after the section table is unused (all zero).
 */
function headerRoomBytes(bytes: Uint8Array, image: PeImage): number {
  const firstRaw = Math.min(...image.sections.filter((section) => section.sizeOfRawData > 0).map((section) => section.pointerToRawData));
  const room = Math.min(alignUp(image.sizeOfHeaders, image.fileAlignment), firstRaw);
  const tableEnd = image.sectionTableOffsetBytes + image.sections.length * SECTION_HEADER_SIZE;
  if (bytes.subarray(tableEnd, room).some((byte) => byte !== 0)) {
    fail(ErrorCode.Input, `uki.stub: bytes ${tableEnd}-${room} after the section table are in use`, "pass an unmodified systemd-stub");
  }
  return room;
}

async function readKernelHeader(linux: ByteSource, stubMachine: number): Promise<{ sizeOfImage: number; cmdlineMaxBytes: number; uname: string | undefined }> {
  const head = await linux.read(0, Math.min(linux.size, KERNEL_HEADER_PROBE_BYTES));
  // Only the header fields matter here (machine, SizeOfImage), as for ukify and the stub.
  const image = parsePe(head, { fileSizeBytes: linux.size }).image;
  if (image === undefined) fail(ErrorCode.Input, `uki.linux: ${linux.description} is not an EFI-stub kernel (no PE32+ header)`, "pass vmlinuz/Image of a kernel built with CONFIG_EFI_STUB");
  if (image.machine !== stubMachine) {
    fail(ErrorCode.Input, `uki.linux: kernel machine 0x${image.machine.toString(16)} differs from the stub's 0x${stubMachine.toString(16)}`, "use the stub of the kernel's architecture");
  }
  return { sizeOfImage: image.sizeOfImage, cmdlineMaxBytes: x86CmdlineSize(head) ?? DEFAULT_CMDLINE_MAX_BYTES, uname: x86KernelRelease(head) };
}

/**
 * x86 boot protocol: kernel_version (u16 at 0x20E, protocol ≥ 2.00) points, relative to 0x200,
 * at "6.1.0-56-cloud-amd64 (builder@host) #1 SMP ..."; the release is the first word.
 */
function x86KernelRelease(head: Uint8Array): string | undefined {
  if (head.length < 0x210) return undefined;
  const data = view(head);
  if (data.getUint32(0x202, true) !== 0x5372_6448) return undefined;
  const pointer = data.getUint16(0x20e, true);
  if (pointer === 0) return undefined;
  const start = 0x200 + pointer;
  const end = head.indexOf(0, start);
  if (start >= head.length || end === -1) return undefined;
  const release = new TextDecoder("latin1").decode(head.subarray(start, Math.min(end, start + 256))).split(" ")[0]!;
  return /^[0-9][A-Za-z0-9._+~-]*$/.test(release) ? release : undefined;
}

/** x86 boot protocol (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, version at 0x206, cmdline_size at 0x238 (≥ 2.06). */
function x86CmdlineSize(head: Uint8Array): number | undefined {
  if (head.length < 0x23c) return undefined;
  const data = view(head);
  if (data.getUint32(0x202, true) !== 0x5372_6448 || data.getUint16(0x206, true) < 0x206) return undefined;
  return data.getUint32(0x238, true);
}

function checkCmdline(cmdline: string, maxBytes: number): void {
  const length = utf8(cmdline).length;
  if (length > maxBytes) fail(ErrorCode.Input, `uki.cmdline: ${length} bytes, the kernel accepts at most ${maxBytes}`, "shorten the kernel command line");
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u001f\u007f]/.exec(cmdline);
  if (control) fail(ErrorCode.Input, `uki.cmdline: contains control character 0x${control[0].charCodeAt(0).toString(16)} at ${control.index}`, "separate kernel arguments with spaces, without newlines");
}

/** ukify merge_sbat: one `sbat,` header line, then the stub's entries, then the given ones; NUL terminated. */
function mergeSbat(stubText: string, extra: string): string {
  const entries = (text: string): string[] => text.replace(/\0+$/, "").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("sbat,"));
  return `${[SBAT_HEADER, ...entries(stubText), ...entries(extra)].join("\n")}\n\0`;
}

/** Swaps new contents into an existing stub section if they fit in both its file and memory room. */
function replaceSectionInPlace(stubBytes: Uint8Array, image: PeImage, section: PeImage["sections"][number], contents: Uint8Array): void {
  const nextAddress = Math.min(...image.sections.filter((other) => other.virtualAddress > section.virtualAddress).map((other) => other.virtualAddress));
  const memoryRoom = Math.min(nextAddress, alignUp(section.virtualAddress + section.virtualSize, image.sectionAlignment)) - section.virtualAddress;
  const room = Math.min(section.sizeOfRawData, memoryRoom);
  if (contents.length > room) {
    fail(ErrorCode.Input, `uki.sbat: merged SBAT is ${contents.length} bytes, the stub's ${section.name} section has room for ${room}`, "shorten the SBAT entries");
  }
  stubBytes.fill(0, section.pointerToRawData, section.pointerToRawData + section.sizeOfRawData);
  stubBytes.set(contents, section.pointerToRawData);
  view(stubBytes).setUint32(section.headerOffsetBytes + SEC.VirtualSize[0], contents.length, true);
}

function writeSectionHeader(target: Uint8Array, offset: number, section: UkiSection, characteristics: number): void {
  const header = view(target.subarray(offset, offset + SECTION_HEADER_SIZE));
  target.set(utf8(section.name), offset + SEC.Name[0]);
  header.setUint32(SEC.VirtualSize[0], section.virtualSize, true);
  header.setUint32(SEC.VirtualAddress[0], section.virtualAddress, true);
  header.setUint32(SEC.SizeOfRawData[0], section.sizeOfRawData, true);
  header.setUint32(SEC.PointerToRawData[0], section.pointerToRawData, true);
  header.setUint32(SEC.Characteristics[0], characteristics >>> 0, true);
}

function asSource(input: ByteSource | Uint8Array, description: string): ByteSource {
  return input instanceof Uint8Array ? new BytesSource(input, description) : input;
}

function textOf(bytes: Uint8Array): string {
  return new TextDecoder("utf-8").decode(bytes);
}
