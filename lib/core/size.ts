/**
 * Size strings as systemd's parse_size(…, 1024) reads them (repart's SizeMinBytes= etc.):
 * a sum of components like "1G", "512M", "1.5K" or plain bytes; suffixes K M G T P E with
 * an optional trailing "B", base 1024; fractions allowed and truncated to whole bytes.
 */
import { ErrorCode, fail } from "./errors.js";

const FACTORS: Record<string, number> = {
  "": 1, B: 1,
  K: 1024, KB: 1024,
  M: 1024 ** 2, MB: 1024 ** 2,
  G: 1024 ** 3, GB: 1024 ** 3,
  T: 1024 ** 4, TB: 1024 ** 4,
  P: 1024 ** 5, PB: 1024 ** 5,
  E: 1024 ** 6, EB: 1024 ** 6,
};

const COMPONENT = /^\s*(\d+)(?:\.(\d+))?\s*([KMGTPE]?B?)/i;

/** Returns the byte count, or undefined if `text` is not a size. */
export function parseSizeOrUndefined(text: string): number | undefined {
  let rest = text.trim();
  if (rest === "") return undefined;
  let total = 0;
  while (rest.length > 0) {
    const match = COMPONENT.exec(rest);
    if (!match) return undefined;
    const factor = FACTORS[match[3]!.toUpperCase()];
    if (factor === undefined) return undefined;
    const whole = Number(match[1]);
    const fraction = match[2] ? Number(`0.${match[2]}`) : 0;
    total += whole * factor + Math.floor(fraction * factor);
    rest = rest.slice(match[0].length).trimStart();
    // A bare number can only be the last component ("1G 5" is not a size in systemd either).
    if (match[3] === "" && rest.length > 0) return undefined;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** Parses a size or fails naming `where` (a JSON path, file:line or flag). */
export function parseSize(text: string | number, where: string): number {
  if (typeof text === "number") {
    if (Number.isSafeInteger(text) && text >= 0) return text;
    fail(ErrorCode.Size, `${where}: ${text} is not a whole number of bytes`, 'use bytes or a size like "512M" or "2G" (base 1024)');
  }
  const value = parseSizeOrUndefined(text);
  if (value === undefined) {
    fail(ErrorCode.Size, `${where}: "${text}" is not a size`, 'use bytes or a size like "512M" or "2G" (base 1024)');
  }
  return value;
}

/** Human-readable size for messages: "100 MiB", "4.5 KiB", "513 B". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}
