/**
 * PE/COFF field tables (Microsoft "PE Format", sections "MS-DOS Stub", "COFF File Header",
 * "Optional Header (Image Only)", "Optional Header Data Directories", "Section Table").
 * Every table is `{ Field: [offsetBytes, lengthBytes] }` relative to the start of its
 * structure, named as in the specification. Only PE32+ (magic 0x20b) is laid out: the UEFI
 * images gptimg handles (systemd-stub and systemd-boot for x86-64 and arm64, EFI-stub kernels)
 * are all PE32+.
 */

export type FieldTable = Readonly<Record<string, readonly [offsetBytes: number, lengthBytes: number]>>;

/** MS-DOS header: only the two fields a PE loader reads. 64 bytes. */
export const DOS_HEADER = {
  e_magic: [0, 2],
  e_lfanew: [60, 4],
} as const satisfies FieldTable;
export const DOS_HEADER_SIZE = 64;
/** "MZ" read as a little-endian u16. */
export const DOS_MAGIC = 0x5a4d;

/** "PE\0\0", 4 bytes at e_lfanew, followed by the COFF file header. */
export const PE_SIGNATURE = 0x0000_4550;
export const PE_SIGNATURE_SIZE = 4;

/** COFF file header, 20 bytes, right after the PE signature. */
export const COFF_HEADER = {
  Machine: [0, 2],
  NumberOfSections: [2, 2],
  TimeDateStamp: [4, 4],
  PointerToSymbolTable: [8, 4],
  NumberOfSymbols: [12, 4],
  SizeOfOptionalHeader: [16, 2],
  Characteristics: [18, 2],
} as const satisfies FieldTable;
export const COFF_HEADER_SIZE = 20;
/** A COFF symbol table entry is 18 bytes; the string table after it starts with its own u32 size. */
export const COFF_SYMBOL_SIZE = 18;

/** Optional header, PE32+ layout: 112 fixed bytes, then NumberOfRvaAndSizes data directories. */
export const OPTIONAL_HEADER_PE32PLUS = {
  Magic: [0, 2],
  MajorLinkerVersion: [2, 1],
  MinorLinkerVersion: [3, 1],
  SizeOfCode: [4, 4],
  SizeOfInitializedData: [8, 4],
  SizeOfUninitializedData: [12, 4],
  AddressOfEntryPoint: [16, 4],
  BaseOfCode: [20, 4],
  ImageBase: [24, 8],
  SectionAlignment: [32, 4],
  FileAlignment: [36, 4],
  MajorOperatingSystemVersion: [40, 2],
  MinorOperatingSystemVersion: [42, 2],
  MajorImageVersion: [44, 2],
  MinorImageVersion: [46, 2],
  MajorSubsystemVersion: [48, 2],
  MinorSubsystemVersion: [50, 2],
  Win32VersionValue: [52, 4],
  SizeOfImage: [56, 4],
  SizeOfHeaders: [60, 4],
  CheckSum: [64, 4],
  Subsystem: [68, 2],
  DllCharacteristics: [70, 2],
  SizeOfStackReserve: [72, 8],
  SizeOfStackCommit: [80, 8],
  SizeOfHeapReserve: [88, 8],
  SizeOfHeapCommit: [96, 8],
  LoaderFlags: [104, 4],
  NumberOfRvaAndSizes: [108, 4],
} as const satisfies FieldTable;
export const OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE = 112;
export const PE32PLUS_MAGIC = 0x20b;
export const PE32_MAGIC = 0x10b;

/** One data directory entry (8 bytes); entry i sits at optional header + 112 + 8*i. */
export const DATA_DIRECTORY = {
  VirtualAddress: [0, 4],
  Size: [4, 4],
} as const satisfies FieldTable;
export const DATA_DIRECTORY_SIZE = 8;
/**
 * Data directory indices (PE Format, "Optional Header Data Directories"). Entry 4, the
 * Certificate Table, is special: its VirtualAddress is a *file offset*, not an RVA.
 */
export const DataDirectory = {
  Export: 0,
  Import: 1,
  Resource: 2,
  Exception: 3,
  Certificate: 4,
  BaseRelocation: 5,
  Debug: 6,
} as const;

/** Section header, 40 bytes; the table follows the optional header directly. */
export const SECTION_HEADER = {
  Name: [0, 8],
  VirtualSize: [8, 4],
  VirtualAddress: [12, 4],
  SizeOfRawData: [16, 4],
  PointerToRawData: [20, 4],
  PointerToRelocations: [24, 4],
  PointerToLinenumbers: [28, 4],
  NumberOfRelocations: [32, 2],
  NumberOfLinenumbers: [34, 2],
  Characteristics: [36, 4],
} as const satisfies FieldTable;
export const SECTION_HEADER_SIZE = 40;
/** Section names are at most 8 bytes, NUL padded; systemd-stub compares at most 8 bytes. */
export const SECTION_NAME_MAX_BYTES = 8;

/** Section Characteristics flags used here (PE Format, "Section Flags"). */
export const SectionFlag = {
  CNT_CODE: 0x0000_0020,
  CNT_INITIALIZED_DATA: 0x0000_0040,
  MEM_DISCARDABLE: 0x0200_0000,
  MEM_EXECUTE: 0x2000_0000,
  MEM_READ: 0x4000_0000,
  MEM_WRITE: 0x8000_0000,
} as const;

/** COFF Machine values of the UEFI architectures (PE Format, "Machine Types"). */
export const Machine = {
  I386: 0x014c,
  AMD64: 0x8664,
  ARM: 0x01c2,
  ARMNT: 0x01c4,
  ARM64: 0xaa64,
  RISCV64: 0x5064,
  LOONGARCH64: 0x6264,
} as const;

/** Subsystem 10: EFI application (systemd-stub, systemd-boot, EFI-stub kernels). */
export const SUBSYSTEM_EFI_APPLICATION = 10;

/**
 * WIN_CERTIFICATE (PE Format, "The Attribute Certificate Table"): dwLength u32 (including this
 * 8-byte header), wRevision u16, wCertificateType u16, then bCertificate; each entry is padded
 * to a multiple of 8 bytes.
 */
export const WIN_CERTIFICATE = {
  dwLength: [0, 4],
  wRevision: [4, 2],
  wCertificateType: [6, 2],
} as const satisfies FieldTable;
export const WIN_CERTIFICATE_HEADER_SIZE = 8;
export const WIN_CERT_REVISION_2_0 = 0x0200;
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
export const WIN_CERTIFICATE_ALIGNMENT = 8;

export function fieldOffset(table: FieldTable, field: string): number {
  return table[field]![0];
}
