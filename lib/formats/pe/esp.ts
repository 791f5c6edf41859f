/**
 * The ESP contents of a systemd-boot + UKI system as a Tree for the FAT writer (formats.md
 * §5.3, UAPI.1 Boot Loader Specification, systemd-boot(7)):
 *
 *   /EFI/BOOT/BOOT<ARCH>.EFI           systemd-boot, the removable-media path firmware boots
 *   /EFI/systemd/systemd-boot<arch>.efi the same binary at its installed path (bootctl layout)
 *   /EFI/Linux/<id>_<version>+<tries>.efi the UKI (Type #2 entry; "+N" = boot counting)
 *   /loader/loader.conf                 when given
 *
 * The architecture comes from systemd-boot's own PE header (COFF Machine), never from the
 * host, and the UKI must be for the same machine.
 */
import { ErrorCode, fail } from "../../core/errors.js";
import { BytesSource, type ByteSource } from "../../io/source.js";
import { TreeBuilder } from "../../tree/builder.js";
import type { DirNode, Meta } from "../../tree/tree.js";
import { Machine } from "./layout.js";
import { parsePe } from "./parse.js";

/** UEFI removable-media file names (UEFI spec §3.5.1.1) and systemd's EFI arch suffixes. */
const ARCHITECTURES: Readonly<Record<number, { removable: string; suffix: string }>> = {
  [Machine.AMD64]: { removable: "BOOTX64.EFI", suffix: "x64" },
  [Machine.I386]: { removable: "BOOTIA32.EFI", suffix: "ia32" },
  [Machine.ARM64]: { removable: "BOOTAA64.EFI", suffix: "aa64" },
  [Machine.ARMNT]: { removable: "BOOTARM.EFI", suffix: "arm" },
  [Machine.RISCV64]: { removable: "BOOTRISCV64.EFI", suffix: "riscv64" },
  [Machine.LOONGARCH64]: { removable: "BOOTLOONGARCH64.EFI", suffix: "loongarch64" },
};

/** Characters of an id or version: BLS file-name charset minus "+" (the boot-counting separator). */
const NAME_PART = /^[A-Za-z0-9._-]+$/;
const MAX_FILE_NAME_BYTES = 255;

export interface UkiFileName {
  /** IMAGE_ID / ID of the OS, e.g. "debian". */
  readonly id: string;
  /** IMAGE_VERSION, e.g. "13.1"; omitted from the name when absent. */
  readonly version?: string;
  /** Boot counting: the file is named `…+<triesLeft>.efi`; absent = no counting. */
  readonly triesLeft?: number;
}

/** `<id>_<version>+<tries>.efi`, the name systemd-sysupdate and kernel-install use. */
export function ukiFileName(name: UkiFileName, where = "boot.uki"): string {
  for (const [field, value] of [["id", name.id], ["version", name.version]] as const) {
    if (value !== undefined && !NAME_PART.test(value)) {
      fail(ErrorCode.Spec, `${where}.${field}: "${value}" may only contain A-Z a-z 0-9 . _ -`, "boot loaders and boot counting parse these file names");
    }
  }
  if (name.triesLeft !== undefined && (!Number.isInteger(name.triesLeft) || name.triesLeft < 0 || name.triesLeft > 999)) {
    fail(ErrorCode.Spec, `${where}.triesLeft: ${name.triesLeft} is not a whole number from 0 to 999`, "use e.g. 3 (systemd's default)");
  }
  const fileName = `${name.id}${name.version === undefined ? "" : `_${name.version}`}${name.triesLeft === undefined ? "" : `+${name.triesLeft}`}.efi`;
  if (fileName.length > MAX_FILE_NAME_BYTES) fail(ErrorCode.Spec, `${where}: file name ${fileName.length} characters long, at most ${MAX_FILE_NAME_BYTES}`, "shorten id or version");
  return fileName;
}

export interface EspInputs {
  /** systemd-boot<arch>.efi (signed when Secure Boot is wanted). */
  readonly systemdBoot: Uint8Array;
  /** The finished (signed) UKI. */
  readonly uki: ByteSource;
  /** File name under /EFI/Linux (see ukiFileName). */
  readonly ukiFileName: string;
  /** loader.conf text, e.g. "timeout 0\n"; no file when absent. */
  readonly loaderConf?: string;
  /** mtime of every entry (SOURCE_DATE_EPOCH; the FAT writer clamps to its 1980 epoch). */
  readonly mtime: number;
}

export async function espTree(inputs: EspInputs): Promise<DirNode> {
  const loader = parsePe(inputs.systemdBoot).image;
  if (loader === undefined) fail(ErrorCode.Input, "boot.systemdBoot: not a PE image", "pass systemd-boot<arch>.efi from systemd-boot-efi");
  const architecture = ARCHITECTURES[loader.machine];
  if (architecture === undefined) fail(ErrorCode.Input, `boot.systemdBoot: unknown EFI machine 0x${loader.machine.toString(16)}`, "pass systemd-boot for x64, ia32, aa64, arm, riscv64 or loongarch64");
  const ukiHead = await inputs.uki.read(0, Math.min(inputs.uki.size, 64 * 1024));
  const uki = parsePe(ukiHead, { fileSizeBytes: inputs.uki.size }).image;
  if (uki === undefined) fail(ErrorCode.Input, `boot.uki: ${inputs.uki.description} is not a PE image`, "pass the UKI built by assembleUki");
  if (uki.machine !== loader.machine) {
    fail(ErrorCode.Input, `boot.uki: machine 0x${uki.machine.toString(16)} differs from systemd-boot's 0x${loader.machine.toString(16)}`, "use systemd-boot and a UKI of the same architecture");
  }
  if (!inputs.ukiFileName.toLowerCase().endsWith(".efi") || inputs.ukiFileName.includes("/") || inputs.ukiFileName.startsWith(".")) {
    fail(ErrorCode.Spec, `boot.uki: file name "${inputs.ukiFileName}" must end in .efi, not start with "." and contain no "/"`, "systemd-boot lists only /EFI/Linux/*.efi");
  }
  const directory: Meta = { mode: 0o755, uid: 0, gid: 0, mtime: inputs.mtime, xattrs: [] };
  const file: Meta = { ...directory, mode: 0o644 };
  const builder = new TreeBuilder(directory);
  for (const path of ["EFI", "EFI/BOOT", "EFI/systemd", "EFI/Linux"]) builder.addDirectory(path, directory);
  const loaderSource = new BytesSource(inputs.systemdBoot, "systemd-boot");
  builder.addFile(`EFI/BOOT/${architecture.removable}`, file, loaderSource);
  builder.addFile(`EFI/systemd/systemd-boot${architecture.suffix}.efi`, file, loaderSource);
  builder.addFile(`EFI/Linux/${inputs.ukiFileName}`, file, inputs.uki);
  if (inputs.loaderConf !== undefined) {
    builder.addDirectory("loader", directory);
    builder.addFile("loader/loader.conf", file, new BytesSource(new TextEncoder().encode(inputs.loaderConf), "loader.conf"));
  }
  return builder.build();
}
