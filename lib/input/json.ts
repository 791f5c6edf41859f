/**
 * The JSON shape checks every spec reader shares: the value type, object test, and the
 * unknown-key check with its "did you mean".
 */
import { ErrorCode, fail } from "../core/errors.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function checkKeys(json: { [key: string]: Json }, known: readonly string[], at: (key: string) => string): void {
  for (const key of Object.keys(json)) {
    if (!known.includes(key)) fail(ErrorCode.Spec, `${at(key)}: unknown key${suggest(key, known)}`, `allowed keys: ${known.filter((name) => !name.startsWith("$")).join(", ")}`);
  }
}

/** ' (did you mean "sizeMinBytes"?)' when a known name is within a small edit distance. */
export function suggest(input: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(input.length / 3)) ? ` (did you mean "${best}"?)` : "";
}

function editDistance(left: string, right: string): number {
  const row = Array.from({ length: right.length + 1 }, (_, index) => index);
  for (let i = 1; i <= left.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= right.length; j++) {
      const saved = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (left[i - 1] === right[j - 1] ? 0 : 1));
      diagonal = saved;
    }
  }
  return row[right.length]!;
}
