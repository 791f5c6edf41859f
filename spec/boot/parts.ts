/**
 * The downloaded boot parts (Debian kernel, systemd-stub, systemd-boot, busybox) that boot
 * tests and real-stub UKI tests use. spec/boot/oracles/fetch-boot-parts.sh puts them in
 * GPTIMG_BOOT_PARTS (default /var/cache/gptimg/boot-parts); .ci/oracles.sh runs it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REQUIRE_ORACLES } from "../support/oracles.js";

export const BOOT_PARTS_DIR = process.env["GPTIMG_BOOT_PARTS"] ?? "/var/cache/gptimg/boot-parts";
export const ORACLE_SCRIPTS_DIR = new URL("./oracles/", import.meta.url).pathname;

export interface BootParts {
  readonly directory: string;
  readonly kernelVersion: string;
  readonly vmlinuz: string;
  readonly stub: string;
  readonly systemdBoot: string;
  readonly busybox: string;
  /** lib/modules/<kernelVersion> with modules.dep. */
  readonly modulesDirectory: string;
}

/** The boot parts, or undefined (skip) when absent; throws instead under GPTIMG_REQUIRE_ORACLES=1. */
export function bootParts(): BootParts | undefined {
  const envFile = join(BOOT_PARTS_DIR, "parts.env");
  if (!existsSync(envFile)) {
    const message = `boot parts not available in ${BOOT_PARTS_DIR} (run spec/boot/oracles/fetch-boot-parts.sh ${BOOT_PARTS_DIR})`;
    if (REQUIRE_ORACLES) throw new Error(message);
    console.warn(`SKIP: ${message}`);
    return undefined;
  }
  const values = Object.fromEntries(readFileSync(envFile, "utf8").split("\n").filter((line) => /^[A-Z_]+=/.test(line)).map((line) => {
    const index = line.indexOf("=");
    return [line.slice(0, index), line.slice(index + 1)];
  }));
  const at = (key: string): string => join(BOOT_PARTS_DIR, values[key] ?? "");
  return {
    directory: BOOT_PARTS_DIR,
    kernelVersion: values["KVER"] ?? "",
    vmlinuz: at("VMLINUZ"),
    stub: at("UKI_STUB"),
    systemdBoot: at("SDBOOT_EFI"),
    busybox: at("BUSYBOX"),
    modulesDirectory: join(at("MODULES_ROOT"), "lib", "modules", values["KVER"] ?? ""),
  };
}

/**
 * A spec `boot` section for the busybox oracle initramfs tree at `initrd` (relative to the
 * spec): systemd-boot, a UKI from the boot parts, boot counting with 3 tries.
 */
export function oracleBootSection(parts: BootParts, osRelease: string, uki: Record<string, unknown> = {}): object {
  return {
    systemdBoot: parts.systemdBoot,
    loaderConf: "timeout 0\n",
    uki: {
      stub: parts.stub,
      kernel: parts.vmlinuz,
      initrds: [{ tree: "initrd", compression: "gzip" }],
      cmdline: "console=ttyS0,115200 panic=5 ro",
      osRelease: { text: osRelease },
      uname: parts.kernelVersion,
      triesLeft: 3,
      ...uki,
    },
  };
}
