/**
 * Access to the independent readers our tests trust: host tools (sfdisk, sgdisk, fsck.fat,
 * unsquashfs, veritysetup, …) and a Debian trixie chroot with current systemd (repart v257,
 * erofs-utils 1.8). When GPTIMG_REQUIRE_ORACLES=1 (CI), a missing oracle fails the test;
 * otherwise the test is skipped with the reason shown.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync } from "node:fs";

export const REQUIRE_ORACLES = process.env["GPTIMG_REQUIRE_ORACLES"] === "1";
export const TRIXIE_ROOT = process.env["GPTIMG_TRIXIE_ROOT"] ?? "/var/cache/gptimg/trixie";

export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

export function hasTrixie(): boolean {
  return existsSync(`${TRIXIE_ROOT}/usr/bin/systemd-repart`);
}

/**
 * The REAL systemd-sysupdate (Debian ships none): built from trixie's systemd source package by
 * spec/update/oracles/build-sysupdate.sh in its own chroot, which it marks with a stamp file.
 */
export const SYSUPDATE_ROOT = process.env["GPTIMG_SYSUPDATE_ROOT"] ?? "/var/cache/gptimg/sysupdate-build";

export function hasSysupdate(): boolean {
  return existsSync(`${SYSUPDATE_ROOT}/.gptimg-sysupdate`) && existsSync(`${SYSUPDATE_ROOT}/usr/local/bin/systemd-sysupdate`);
}

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/**
 * True when every oracle is present. When one is missing: throws under
 * GPTIMG_REQUIRE_ORACLES=1, else returns false so the caller can `it.skipIf(!…)`.
 */
export function oraclesAvailable(...names: string[]): boolean {
  const missing = names.filter((name) => !oracleIsPresent(name));
  if (missing.length === 0) return true;
  const hint = missing.includes("sysupdate") ? "spec/update/oracles/build-sysupdate.sh" : ".ci/run or .ci/oracles.sh";
  const message = `oracle(s) not available: ${missing.join(", ")} (run ${hint} to install them)`;
  if (REQUIRE_ORACLES) throw new Error(message);
  console.warn(`SKIP: ${message}`);
  return false;
}

/**
 * "trixie" = the chroot with systemd v257; "trixie-tree" = the tree fixture; "sysupdate" = the
 * systemd-sysupdate build chroot; "root" = uid 0; "python3-lz4" = Debian's python3-lz4 (liblz4)
 * for /usr/bin/python3; else a host command.
 */
function oracleIsPresent(name: string): boolean {
  switch (name) {
    case "trixie": return hasTrixie();
    case "trixie-tree": return existsSync(TRIXIE_TREE_TAR) && existsSync(`${TRIXIE_TREE_DIR}/usr`);
    case "sysupdate": return hasSysupdate();
    case "root": return isRoot;
    case "python3-lz4": return spawnSync("/usr/bin/python3", ["-c", "import lz4.block"]).status === 0;
    default: return hasTool(name);
  }
}

export function run(command: string, args: string[], options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { encoding: "utf8", maxBuffer: 512 * 1024 * 1024, ...options });
}

/** Runs a command and returns stdout, throwing with stderr when it fails. */
export function runOk(command: string, args: string[], options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

/**
 * Runs a command inside the trixie chroot. `proc` and `dev` are bind-mounted once (by
 * .ci/oracles.sh or here, idempotently). Paths passed to the command must live under
 * TRIXIE_ROOT; use trixiePath() to place files there.
 */
export function runInTrixie(command: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  ensureTrixieMounts();
  return run("chroot", [TRIXIE_ROOT, command, ...args], { ...options, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", ...options.env } });
}

export function ensureTrixieMounts(): void {
  const mounts = execFileSync("cat", ["/proc/mounts"], { encoding: "utf8" });
  if (!mounts.includes(` ${TRIXIE_ROOT}/proc `)) execFileSync("mount", ["-t", "proc", "proc", `${TRIXIE_ROOT}/proc`]);
  if (!mounts.includes(` ${TRIXIE_ROOT}/dev `)) execFileSync("mount", ["--bind", "/dev", `${TRIXIE_ROOT}/dev`]);
}

/** A real Debian trixie tree (minbase + systemd) as a directory and as the GNU tar it came from. */
export const TRIXIE_TREE_DIR = process.env["GPTIMG_TRIXIE_TREE"] ?? "/var/cache/gptimg/trixie-tree";
export const TRIXIE_TREE_TAR = process.env["GPTIMG_TRIXIE_TAR"] ?? "/var/cache/gptimg/trixie-tree.tar";
