/** Integer helpers: every size and offset is a safe JS integer; u64 fields are written as hi/lo. */
import { fail, ErrorCode } from "./errors.js";

export function assertSafe(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    fail(ErrorCode.Layout, `${what} is not a non-negative integer below 2^53 (got ${value})`);
  }
  return value;
}

export function isPow2(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0 && Number.isInteger(Math.log2(value));
}

export function alignUp(value: number, alignment: number): number {
  const remainder = value % alignment;
  return remainder === 0 ? value : value + (alignment - remainder);
}

export function alignDown(value: number, alignment: number): number {
  return value - (value % alignment);
}

export function divCeil(numerator: number, denominator: number): number {
  return Math.ceil(numerator / denominator);
}

export function log2Exact(value: number): number {
  const bits = Math.log2(value);
  if (!Number.isInteger(bits)) throw new RangeError(`${value} is not a power of two`);
  return bits;
}
