/**
 * Boot harness: boots a raw disk image under UEFI firmware in QEMU and decides pass/fail by a
 * marker line on the serial console. The TypeScript twin of spec/boot/oracles/boot-check.sh
 * (same QEMU arguments, dead-end list and KVM probe), so vitest can boot images directly and
 * get the serial log back.
 *
 * - q35 + OVMF: OVMF_CODE_4M.fd read-only pflash + a fresh copy of OVMF_VARS_4M.fd per boot.
 * - The image is attached with snapshot=on: QEMU never writes to it (unless `writable`).
 * - KVM when it really works for a UEFI guest (probed by booting OVMF without a disk and
 *   waiting for BdsDxe on serial); TCG otherwise. GPTIMG_BOOT_ACCEL=kvm|tcg skips the probe.
 * - Pass = a serial line (CR and ANSI escapes removed) equals the marker exactly; the kernel
 *   echoes its command line, so substring matches would be fooled.
 * - Fails fast on dead ends: EFI shell, boot manager menu, kernel panic, initrd failure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { hasTool, REQUIRE_ORACLES } from "../support/oracles.js";

export const OVMF_DIR = process.env["OVMF_DIR"] ?? "/usr/share/OVMF";
const OVMF_CODE = join(OVMF_DIR, "OVMF_CODE_4M.fd");
const OVMF_VARS = join(OVMF_DIR, "OVMF_VARS_4M.fd");
/**
 * Debian's test-only Secure Boot firmware: PK, KEK and db hold the "snakeoil" certificate whose
 * key ships in the ovmf package (/usr/share/ovmf/PkKek-1-snakeoil.{key,pem}, password
 * "snakeoil"), and Secure Boot is enabled. It is an SMM build, so QEMU needs smm=on and a
 * secure pflash.
 */
const OVMF_CODE_SNAKEOIL = join(OVMF_DIR, "OVMF_CODE_4M.snakeoil.fd");
const OVMF_VARS_SNAKEOIL = join(OVMF_DIR, "OVMF_VARS_4M.snakeoil.fd");
export const SNAKEOIL_KEY = process.env["OVMF_SNAKEOIL_KEY"] ?? "/usr/share/ovmf/PkKek-1-snakeoil.key";
export const SNAKEOIL_CERTIFICATE = process.env["OVMF_SNAKEOIL_CERT"] ?? "/usr/share/ovmf/PkKek-1-snakeoil.pem";
const QEMU = process.env["QEMU"] ?? "qemu-system-x86_64";

/**
 * Console lines that mean the boot can no longer reach the marker. A guest kernel oops that
 * does not panic ("kernel BUG at …", then die()'s "invalid opcode: 0000 [#1]" in udev's
 * context) leaves a hung boot behind it.
 */
const DEAD_ENDS = /UEFI Interactive Shell|Shell> |No bootable option|Boot Manager Menu|ORACLE-INITRD-FAIL|GPTIMG-INITRD-FAIL|Kernel panic - not syncing|kernel BUG at|: [0-9a-f]{4} \[#\d+\]|Failed to boot|Error loading|rescue shell|You are in emergency mode|Entering emergency mode|the root account is locked/;

export interface BootOptions {
  readonly timeoutSeconds?: number;
  /** More console patterns that end the boot as failed (e.g. the verity error a negative test expects). */
  readonly deadEnds?: RegExp;
  /** QEMU -cpu model under TCG (default: QEMU's qemu64). */
  readonly tcgCpu?: string;
  /** Keep the serial log here as well. */
  readonly serialLogPath?: string;
  readonly memoryMiB?: number;
  /** Seconds to let the guest power off after the marker before QEMU is killed. */
  readonly graceSeconds?: number;
  /** Boot the Secure-Boot-enforcing snakeoil firmware instead of plain OVMF. */
  readonly secureBoot?: boolean;
  /** Let the guest write to the image (first-boot repartitioning); default: snapshot=on, the image is never written. */
  readonly writable?: boolean;
}

export interface BootResult {
  readonly passed: boolean;
  /** "marker seen", or why not (dead end line, timeout, QEMU exit). */
  readonly reason: string;
  /** Serial console as plain text. */
  readonly log: string;
  readonly seconds: number;
  readonly accelerator: "kvm" | "tcg";
}

/** True when QEMU and OVMF are installed; throws under GPTIMG_REQUIRE_ORACLES=1 when not. */
export function bootOraclesAvailable(options: { secureBoot?: boolean } = {}): boolean {
  const firmware = options.secureBoot ? [OVMF_CODE_SNAKEOIL, OVMF_VARS_SNAKEOIL, SNAKEOIL_KEY, SNAKEOIL_CERTIFICATE] : [OVMF_CODE, OVMF_VARS];
  const missing = [hasTool(QEMU) ? undefined : `${QEMU} (apt-get install qemu-system-x86)`, ...firmware.map((path) => (existsSync(path) ? undefined : `${path} (apt-get install ovmf)`))]
    .filter((item): item is string => item !== undefined);
  if (missing.length === 0) return true;
  const message = `boot oracles not available: ${missing.join(", ")}`;
  if (REQUIRE_ORACLES) throw new Error(message);
  console.warn(`SKIP: ${message}`);
  return false;
}

export async function bootImage(imagePath: string, marker: string, options: BootOptions = {}): Promise<BootResult> {
  if (marker.trim() === "" || marker.includes("\n")) throw new Error("bootImage: the marker must be one non-empty line");
  const timeoutSeconds = options.timeoutSeconds ?? 180;
  const accelerator = await chooseAccelerator();
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-boot-"));
  const serialPath = join(scratch, "serial.log");
  const varsPath = join(scratch, "vars.fd");
  copyFileSync(options.secureBoot ? OVMF_VARS_SNAKEOIL : OVMF_VARS, varsPath);
  writeFileSync(serialPath, "");
  const started = Date.now();
  const qemu = spawn(QEMU, [
    ...acceleratorArguments(accelerator),
    ...(accelerator === "tcg" && options.tcgCpu ? ["-cpu", options.tcgCpu] : []),
    "-machine", options.secureBoot ? "q35,smm=on" : "q35", "-m", String(options.memoryMiB ?? 512), "-smp", "1",
    ...(options.secureBoot ? ["-global", "driver=cfi.pflash01,property=secure,value=on"] : []),
    "-nodefaults", "-display", "none", "-monitor", "none", "-no-reboot",
    "-serial", `file:${serialPath}`,
    "-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${options.secureBoot ? OVMF_CODE_SNAKEOIL : OVMF_CODE}`,
    "-drive", `if=pflash,format=raw,unit=1,file=${varsPath}`,
    "-drive", `if=virtio,format=raw,${options.writable ? "" : "snapshot=on,"}file=${resolve(imagePath)}`,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let qemuOutput = "";
  qemu.stdout?.on("data", (chunk: Buffer) => (qemuOutput += chunk.toString()));
  qemu.stderr?.on("data", (chunk: Buffer) => (qemuOutput += chunk.toString()));
  const exited = new Promise<number | null>((done) => qemu.on("exit", (code) => done(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  let reason = `no marker within ${timeoutSeconds}s`;
  let passed = false;
  try {
    let deadline = started + timeoutSeconds * 1000;
    for (;;) {
      await sleep(200);
      const log = readSerial(serialPath);
      if (!passed && hasLine(log, marker)) {
        passed = true;
        reason = "marker seen";
        deadline = Math.min(deadline, Date.now() + (options.graceSeconds ?? 10) * 1000);
      }
      if (exitCode !== undefined) {
        if (!passed && hasLine(readSerial(serialPath), marker)) passed = true;
        if (!passed) reason = `QEMU exited (${exitCode}) without the marker${qemuOutput.trim() ? `: ${qemuOutput.trim().split("\n").at(-1)}` : ""}`;
        else reason = "marker seen";
        break;
      }
      if (!passed) {
        const dead = DEAD_ENDS.exec(log) ?? options.deadEnds?.exec(log);
        if (dead) {
          await Promise.race([exited, sleep(3000)]);
          reason = `dead end on the console: '${dead[0]}'`;
          break;
        }
      }
      if (Date.now() > deadline) break;
    }
  } finally {
    await stop(qemu, exited);
  }
  const log = readSerial(serialPath);
  if (options.serialLogPath) writeFileSync(options.serialLogPath, log);
  rmSync(scratch, { recursive: true, force: true });
  return { passed, reason, log, seconds: (Date.now() - started) / 1000, accelerator };
}

/** The last lines of a boot log plus the lines that usually say why a boot failed. */
export function explainBoot(result: BootResult, tailLines = 40): string {
  const lines = result.log.split("\n").filter((line) => line.trim() !== "");
  const why = lines.filter((line) => /INITRD-FAIL|verity.*(corrupt|error|fail)|Kernel panic|kernel BUG at|\[#\d+\]|VFS: Cannot|I\/O error|SQUASHFS error|erofs.*(error|corrupt|failed)|FAT-fs|Failed to|not found/.test(line));
  return `${result.reason} (${result.accelerator}, ${result.seconds.toFixed(1)}s)\n--- why:\n${why.slice(-20).join("\n")}\n--- last ${tailLines} lines:\n${lines.slice(-tailLines).join("\n")}`;
}

function readSerial(path: string): string {
  const raw = existsSync(path) ? readFileSync(path, "latin1") : "";
  // ANSI CSI sequences and charset selections, then CR and other non-printables except tab/newline.
  return raw.replace(/\x1b\[[0-9;=?]*[A-Za-z]/g, "").replace(/\x1b[()][A-Za-z0-9]/g, "").replace(/[^\t\n\x20-\x7e]/g, "");
}

function hasLine(log: string, marker: string): boolean {
  return log.split("\n").some((line) => line === marker);
}

let acceleratorChoice: Promise<"kvm" | "tcg"> | undefined;

/** Probes KVM once per test process. */
function chooseAccelerator(): Promise<"kvm" | "tcg"> {
  const forced = process.env["GPTIMG_BOOT_ACCEL"] ?? process.env["ORACLE_ACCEL"];
  if (forced === "kvm" || forced === "tcg") return Promise.resolve(forced);
  acceleratorChoice ??= probeKvm();
  return acceleratorChoice;
}

function acceleratorArguments(accelerator: "kvm" | "tcg"): string[] {
  return accelerator === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg"];
}

/**
 * /dev/kvm may exist and still be unusable for firmware (kvm_pvm on these machines: QEMU
 * starts, then dies in OVMF's 32-bit SEC code). Boot OVMF without a disk and wait up to 20 s
 * for its boot manager to print BdsDxe.
 */
async function probeKvm(): Promise<"kvm" | "tcg"> {
  if (!existsSync("/dev/kvm")) return "tcg";
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-kvm-probe-"));
  const serialPath = join(scratch, "serial.log");
  copyFileSync(OVMF_VARS, join(scratch, "vars.fd"));
  writeFileSync(serialPath, "");
  const qemu = spawn(QEMU, ["-accel", "kvm", "-cpu", "host", "-machine", "q35", "-m", "128", "-nodefaults", "-display", "none",
    "-monitor", "none", "-no-reboot", "-serial", `file:${serialPath}`,
    "-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
    "-drive", `if=pflash,format=raw,unit=1,file=${join(scratch, "vars.fd")}`], { stdio: "ignore" });
  const exited = new Promise<void>((done) => qemu.on("exit", () => done()));
  let running = true;
  void exited.then(() => (running = false));
  let verdict: "kvm" | "tcg" = "tcg";
  for (let attempt = 0; attempt < 100 && running; attempt++) {
    await sleep(200);
    if (readSerial(serialPath).includes("BdsDxe")) {
      verdict = "kvm";
      break;
    }
  }
  await stop(qemu, exited);
  rmSync(scratch, { recursive: true, force: true });
  return verdict;
}

async function stop(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(3000)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await exited;
  }
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((done) => setTimeout(done, milliseconds));
}
