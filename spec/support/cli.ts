/** Runs the compiled gptimg CLI (the test command builds first) and captures its output. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** GPTIMG_BIN points at another build (e.g. a private tsc --outDir while others rebuild dist/). */
export const GPTIMG_BIN = process.env["GPTIMG_BIN"] ?? fileURLToPath(new URL("../../dist/bin/gptimg.js", import.meta.url));

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function gptimg(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const result = spawnSync(process.execPath, [GPTIMG_BIN, ...args], { encoding: "utf8", cwd: options.cwd, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
