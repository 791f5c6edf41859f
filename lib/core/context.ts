/**
 * Build settings that are not inputs: worker count and SOURCE_DATE_EPOCH clamping. Encoders
 * never read the clock, the environment or randomness themselves; callers pass these in.
 */
import { availableParallelism } from "node:os";

export function defaultConcurrency(): number {
  return Math.max(1, availableParallelism());
}

export function clampMtime(mtime: number, sourceDateEpoch: number | undefined): number {
  return sourceDateEpoch !== undefined && mtime > sourceDateEpoch ? sourceDateEpoch : mtime;
}
