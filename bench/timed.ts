/** One command under /usr/bin/time: wall and CPU seconds and peak RSS, for side-by-side benches. */
import { spawnSync } from "node:child_process";

export interface Measured {
  seconds: number;
  /** User + system CPU seconds: steadier than wall time on a loaded host. */
  cpuSeconds: number;
  maxRssKiB: number;
}

export const NOT_MEASURED: Measured = { seconds: Infinity, cpuSeconds: Infinity, maxRssKiB: 0 };

export function timed(command: string, args: string[], env?: NodeJS.ProcessEnv): Measured {
  const result = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", command, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...(env ? { env } : {}) });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
  const [seconds, user, system, maxRssKiB] = result.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
  return { seconds: seconds!, cpuSeconds: Math.round((user! + system!) * 100) / 100, maxRssKiB: maxRssKiB! };
}
