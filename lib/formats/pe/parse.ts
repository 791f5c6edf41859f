/**
 * parsePe: a validating reader for PE32+ images (UEFI applications). It never throws on bad
 * input: every problem becomes a finding, and `image` is present only when the headers could
 * be read at all. Used by the UKI writer (to read the stub and the kernel), by Authenticode
 * signing, and by tests as our own reader next to objdump.
 */
import { getU64LE, view } from "../../core/bytes.js";
import {
  COFF_HEADER,
  COFF_HEADER_SIZE,
  COFF_SYMBOL_SIZE,
  DATA_DIRECTORY_SIZE,
  DOS_HEADER,
  DOS_HEADER_SIZE,
  DOS_MAGIC,
  OPTIONAL_HEADER_PE32PLUS as OPT,
  OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE,
  PE32_MAGIC,
  PE32PLUS_MAGIC,
  PE_SIGNATURE,
  PE_SIGNATURE_SIZE,
  SECTION_HEADER as SEC,
  SECTION_HEADER_SIZE,
  DataDirectory,
} from "./layout.js";

export interface PeSection {
  /** Name with trailing NULs removed (latin1, so any byte survives). */
  readonly name: string;
  readonly virtualSize: number;
  readonly virtualAddress: number;
  readonly sizeOfRawData: number;
  readonly pointerToRawData: number;
  readonly characteristics: number;
  /** File offset of this section's 40-byte header. */
  readonly headerOffsetBytes: number;
}

export interface PeDataDirectory {
  readonly virtualAddress: number;
  readonly size: number;
}

export interface PeImage {
  readonly fileSizeBytes: number;
  /** e_lfanew: file offset of "PE\0\0". */
  readonly peOffsetBytes: number;
  readonly coffHeaderOffsetBytes: number;
  readonly optionalHeaderOffsetBytes: number;
  readonly sectionTableOffsetBytes: number;
  readonly machine: number;
  readonly timeDateStamp: number;
  readonly pointerToSymbolTable: number;
  readonly numberOfSymbols: number;
  readonly characteristics: number;
  readonly sizeOfOptionalHeader: number;
  readonly sizeOfCode: number;
  readonly sizeOfInitializedData: number;
  readonly addressOfEntryPoint: number;
  /** NaN when above 2^53 (never for UEFI images, which are relocatable). */
  readonly imageBase: number;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
  readonly majorImageVersion: number;
  readonly sizeOfImage: number;
  readonly sizeOfHeaders: number;
  readonly checkSum: number;
  readonly subsystem: number;
  readonly dataDirectories: readonly PeDataDirectory[];
  readonly sections: readonly PeSection[];
  /** File offset of OptionalHeader.CheckSum (skipped by the Authenticode hash). */
  readonly checksumOffsetBytes: number;
  /** File offset of data directory entry 4 (Certificate Table), or undefined if absent. */
  readonly certificateDirectoryOffsetBytes: number | undefined;
}

export interface PeFinding {
  readonly severity: "error" | "warning";
  readonly message: string;
}

export interface ParsedPe {
  /** Present when the headers and section table could be read (there may still be errors). */
  readonly image: PeImage | undefined;
  readonly findings: readonly PeFinding[];
  readonly ok: boolean;
}

/**
 * `bytes` is the image, or only its first part (at least the headers) when
 * `fileSizeBytes` gives the size of the whole file: section bounds are checked against that.
 */
export function parsePe(bytes: Uint8Array, options: { fileSizeBytes?: number } = {}): ParsedPe {
  const findings: PeFinding[] = [];
  const error = (message: string): ParsedPe => {
    findings.push({ severity: "error", message });
    return { image: undefined, findings, ok: false };
  };
  if (bytes.length < DOS_HEADER_SIZE) return error(`file is ${bytes.length} bytes, too short for an MS-DOS header (64)`);
  const data = view(bytes);
  if (data.getUint16(DOS_HEADER.e_magic[0], true) !== DOS_MAGIC) return error("no MZ signature at offset 0: not a PE image");
  const peOffsetBytes = data.getUint32(DOS_HEADER.e_lfanew[0], true);
  const coffHeaderOffsetBytes = peOffsetBytes + PE_SIGNATURE_SIZE;
  const optionalHeaderOffsetBytes = coffHeaderOffsetBytes + COFF_HEADER_SIZE;
  if (optionalHeaderOffsetBytes + OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE > bytes.length) {
    return error(`e_lfanew ${peOffsetBytes} points past the end of the ${bytes.length}-byte file`);
  }
  if (data.getUint32(peOffsetBytes, true) !== PE_SIGNATURE) return error(`no "PE\\0\\0" signature at e_lfanew ${peOffsetBytes}`);
  const coff = (field: keyof typeof COFF_HEADER): number => readUnsigned(data, coffHeaderOffsetBytes, COFF_HEADER[field]);
  const opt = (field: keyof typeof OPT): number => readUnsigned(data, optionalHeaderOffsetBytes, OPT[field]);
  const magic = opt("Magic");
  if (magic === PE32_MAGIC) return error("optional header magic 0x10b (PE32, 32-bit): only PE32+ images are supported");
  if (magic !== PE32PLUS_MAGIC) return error(`optional header magic 0x${magic.toString(16)} is not PE32+ (0x20b)`);
  const sizeOfOptionalHeader = coff("SizeOfOptionalHeader");
  const numberOfRvaAndSizes = opt("NumberOfRvaAndSizes");
  const directoriesFit = Math.floor((sizeOfOptionalHeader - OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE) / DATA_DIRECTORY_SIZE);
  if (sizeOfOptionalHeader < OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE) return error(`SizeOfOptionalHeader ${sizeOfOptionalHeader} is below the 112 bytes of a PE32+ optional header`);
  if (numberOfRvaAndSizes > directoriesFit) return error(`NumberOfRvaAndSizes ${numberOfRvaAndSizes} does not fit in SizeOfOptionalHeader ${sizeOfOptionalHeader}`);
  const sectionTableOffsetBytes = optionalHeaderOffsetBytes + sizeOfOptionalHeader;
  const numberOfSections = coff("NumberOfSections");
  if (sectionTableOffsetBytes + numberOfSections * SECTION_HEADER_SIZE > bytes.length) {
    return error(`the section table (${numberOfSections} sections at ${sectionTableOffsetBytes}) runs past the end of the file`);
  }
  const dataDirectories: PeDataDirectory[] = [];
  const directoryBase = optionalHeaderOffsetBytes + OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE;
  for (let index = 0; index < numberOfRvaAndSizes; index++) {
    const offset = directoryBase + index * DATA_DIRECTORY_SIZE;
    dataDirectories.push({ virtualAddress: data.getUint32(offset, true), size: data.getUint32(offset + 4, true) });
  }
  const sections: PeSection[] = [];
  for (let index = 0; index < numberOfSections; index++) {
    const base = sectionTableOffsetBytes + index * SECTION_HEADER_SIZE;
    const sec = (field: keyof typeof SEC): number => readUnsigned(data, base, SEC[field]);
    const nameBytes = bytes.subarray(base, base + SEC.Name[1]);
    const nameEnd = nameBytes.indexOf(0);
    sections.push({
      name: latin1(nameEnd === -1 ? nameBytes : nameBytes.subarray(0, nameEnd)),
      virtualSize: sec("VirtualSize"),
      virtualAddress: sec("VirtualAddress"),
      sizeOfRawData: sec("SizeOfRawData"),
      pointerToRawData: sec("PointerToRawData"),
      characteristics: sec("Characteristics"),
      headerOffsetBytes: base,
    });
  }
  const image: PeImage = {
    fileSizeBytes: options.fileSizeBytes ?? bytes.length,
    peOffsetBytes,
    coffHeaderOffsetBytes,
    optionalHeaderOffsetBytes,
    sectionTableOffsetBytes,
    machine: coff("Machine"),
    timeDateStamp: coff("TimeDateStamp"),
    pointerToSymbolTable: coff("PointerToSymbolTable"),
    numberOfSymbols: coff("NumberOfSymbols"),
    characteristics: coff("Characteristics"),
    sizeOfOptionalHeader,
    sizeOfCode: opt("SizeOfCode"),
    sizeOfInitializedData: opt("SizeOfInitializedData"),
    addressOfEntryPoint: opt("AddressOfEntryPoint"),
    imageBase: getU64LE(data, optionalHeaderOffsetBytes + OPT.ImageBase[0]),
    sectionAlignment: opt("SectionAlignment"),
    fileAlignment: opt("FileAlignment"),
    majorImageVersion: opt("MajorImageVersion"),
    sizeOfImage: opt("SizeOfImage"),
    sizeOfHeaders: opt("SizeOfHeaders"),
    checkSum: opt("CheckSum"),
    subsystem: opt("Subsystem"),
    dataDirectories,
    sections,
    checksumOffsetBytes: optionalHeaderOffsetBytes + OPT.CheckSum[0],
    certificateDirectoryOffsetBytes: numberOfRvaAndSizes > DataDirectory.Certificate ? directoryBase + DataDirectory.Certificate * DATA_DIRECTORY_SIZE : undefined,
  };
  validate(image, findings);
  return { image, findings, ok: !findings.some((finding) => finding.severity === "error") };
}

/** Rules from the PE Format spec that the UEFI loader (EDK2 PeCoffLib) and systemd-stub rely on. */
function validate(image: PeImage, findings: PeFinding[]): void {
  const error = (message: string): void => void findings.push({ severity: "error", message });
  const warn = (message: string): void => void findings.push({ severity: "warning", message });
  const { sectionAlignment, fileAlignment } = image;
  if (!isPowerOfTwo(fileAlignment) || fileAlignment < 512 || fileAlignment > 65536) {
    error(`FileAlignment ${fileAlignment} is not a power of two between 512 and 64 KiB`);
  }
  if (!isPowerOfTwo(sectionAlignment) || sectionAlignment < fileAlignment) {
    error(`SectionAlignment ${sectionAlignment} is not a power of two ≥ FileAlignment ${fileAlignment}`);
  }
  const tableEnd = image.sectionTableOffsetBytes + image.sections.length * SECTION_HEADER_SIZE;
  if (tableEnd > image.sizeOfHeaders) error(`the section table ends at ${tableEnd}, past SizeOfHeaders ${image.sizeOfHeaders}`);
  let imageEnd = 0;
  const byAddress = [...image.sections].sort((left, right) => left.virtualAddress - right.virtualAddress);
  for (const [index, section] of byAddress.entries()) {
    const label = `section ${JSON.stringify(section.name)}`;
    if (section.pointerToRawData + section.sizeOfRawData > image.fileSizeBytes) {
      error(`${label}: raw data ${section.pointerToRawData}+${section.sizeOfRawData} runs past the end of the ${image.fileSizeBytes}-byte file`);
    }
    if (section.sizeOfRawData > 0 && section.pointerToRawData < image.sizeOfHeaders) {
      error(`${label}: raw data at ${section.pointerToRawData} overlaps the headers (SizeOfHeaders ${image.sizeOfHeaders})`);
    }
    // Real systemd-stub/systemd-boot 252 builds have sections at 0x...100 with 0x200 alignment
    // and EDK2 loads them, so this is only a warning.
    if (isPowerOfTwo(sectionAlignment) && section.virtualAddress % sectionAlignment !== 0) {
      warn(`${label}: VirtualAddress 0x${section.virtualAddress.toString(16)} is not a multiple of SectionAlignment 0x${sectionAlignment.toString(16)}`);
    }
    if (section.virtualAddress < image.sizeOfHeaders) error(`${label}: VirtualAddress 0x${section.virtualAddress.toString(16)} overlaps the headers`);
    const next = byAddress[index + 1];
    const end = section.virtualAddress + section.virtualSize;
    if (next !== undefined && end > next.virtualAddress) {
      error(`${label}: memory 0x${section.virtualAddress.toString(16)}-0x${end.toString(16)} overlaps section ${JSON.stringify(next.name)} at 0x${next.virtualAddress.toString(16)}`);
    }
    imageEnd = Math.max(imageEnd, end);
  }
  if (image.sizeOfImage < imageEnd) error(`SizeOfImage 0x${image.sizeOfImage.toString(16)} is below the end of the last section 0x${imageEnd.toString(16)}`);
  const byFile = image.sections.filter((section) => section.sizeOfRawData > 0).sort((left, right) => left.pointerToRawData - right.pointerToRawData);
  for (let index = 1; index < byFile.length; index++) {
    const previous = byFile[index - 1]!;
    if (previous.pointerToRawData + previous.sizeOfRawData > byFile[index]!.pointerToRawData) {
      error(`section ${JSON.stringify(previous.name)}: raw data overlaps section ${JSON.stringify(byFile[index]!.name)} in the file`);
    }
  }
  const certificates = image.dataDirectories[DataDirectory.Certificate];
  if (certificates !== undefined && certificates.size > 0 && certificates.virtualAddress + certificates.size > image.fileSizeBytes) {
    error(`the certificate table ${certificates.virtualAddress}+${certificates.size} runs past the end of the file`);
  }
}

/** Where the COFF symbol table and its string table end, if both lie inside the file. */
export function symbolTableEnd(bytes: Uint8Array, image: PeImage): number | undefined {
  if (image.pointerToSymbolTable === 0) return undefined;
  const stringTableOffset = image.pointerToSymbolTable + image.numberOfSymbols * COFF_SYMBOL_SIZE;
  if (stringTableOffset + 4 > bytes.length) return undefined;
  const stringTableSize = view(bytes).getUint32(stringTableOffset, true);
  const end = stringTableOffset + Math.max(4, stringTableSize);
  return end <= bytes.length ? end : undefined;
}

export function findSection(image: PeImage, name: string): PeSection | undefined {
  return image.sections.find((section) => section.name === name);
}

/** The first `virtualSize` bytes of a section as stored in the file (zero-filled past SizeOfRawData). */
export function sectionData(bytes: Uint8Array, section: PeSection): Uint8Array {
  const out = new Uint8Array(section.virtualSize);
  const stored = Math.min(section.virtualSize, section.sizeOfRawData);
  out.set(bytes.subarray(section.pointerToRawData, section.pointerToRawData + stored));
  return out;
}

function readUnsigned(data: DataView, base: number, [offset, length]: readonly [number, number]): number {
  switch (length) {
    case 1: return data.getUint8(base + offset);
    case 2: return data.getUint16(base + offset, true);
    case 4: return data.getUint32(base + offset, true);
    default: return getU64LE(data, base + offset);
  }
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}
