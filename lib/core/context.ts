/**
 * BuildContext: everything a build may depend on besides its inputs, passed explicitly.
 * Encoders never read the clock, the environment or randomness themselves.
 */
import { availableParallelism } from "node:os";

export interface BuildContext {
  /** 16 bytes; the key of every derived UUID (repart's --seed). */
  readonly seed: Uint8Array;
  /** SOURCE_DATE_EPOCH in seconds when set: clamps mtimes and fixes filesystem build times. */
  readonly sourceDateEpoch: number | undefined;
  /** Worker threads for hashing and compression; output never depends on it. */
  readonly concurrency: number;
  /** Scratch directory on the output's file system, for spools. */
  readonly scratchDirectory: string;
  /** Called with (bytesDone, bytesTotal) as a build progresses; used for the TTY progress bar. */
  readonly progress?: (done: number, total: number) => void;
}

export function defaultConcurrency(): number {
  return Math.max(1, availableParallelism());
}

/** Reads SOURCE_DATE_EPOCH the way reproducible-builds.org specifies: decimal seconds, else unset. */
export function sourceDateEpochFromEnvironment(environment: NodeJS.ProcessEnv): number | undefined {
  const text = environment["SOURCE_DATE_EPOCH"];
  if (text === undefined || text.trim() === "") return undefined;
  if (!/^\d+$/.test(text.trim())) return undefined;
  return Number(text.trim());
}

export function clampMtime(mtime: number, sourceDateEpoch: number | undefined): number {
  return sourceDateEpoch !== undefined && mtime > sourceDateEpoch ? sourceDateEpoch : mtime;
}
