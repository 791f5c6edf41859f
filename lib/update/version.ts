/**
 * systemd-sysupdate's view of versions: the order in which it ranks them and the MatchPattern=
 * wildcards (sysupdate.d(5)) through which it reads versions, UUIDs and boot counters out of
 * file names and partition labels. gptimg names what it writes with formatPattern() so that
 * sysupdate on the booted image reads the same values back with its own pattern_match().
 *
 * Sources (systemd v257, as shipped by Debian trixie): src/fundamental/string-util-fundamental.c
 * strverscmp_improved(); src/sysupdate/sysupdate-pattern.c; the field parsers it calls in
 * src/basic/parse-util.c, string-util.c (version_is_valid) and sd-id128.c.
 */
import { fail, ErrorCode } from "../core/errors.js";
import { normalizeGuid } from "../core/guid.js";

const utf8 = new TextEncoder();

/**
 * systemd's strverscmp_improved(): negative when `left` is older, 0 when equal, positive when
 * newer. A string splits into digit runs and letter runs, each optionally prefixed by one of
 * (oldest first) '~' (pre-release, older even than the end of the string), '-' (release),
 * '^' (patch), '.' (point release), or no prefix (newest). Any other character only ends a run.
 * Digit runs compare by value (leading zeros dropped) and beat letter runs; letter runs compare
 * byte-wise, a longer run winning a tie.
 */
export function compareVersions(left: string, right: string): number {
  const a = cString(left);
  const b = cString(right);
  let i = 0;
  let j = 0;
  /** One prefix character: the side without it is newer; when both have it, step over it. */
  const prefix = (char: number): number => {
    if (byteAt(a, i) !== char && byteAt(b, j) !== char) return 0;
    const order = compare(Number(byteAt(a, i) !== char), Number(byteAt(b, j) !== char));
    if (order === 0) { i += 1; j += 1; }
    return order;
  };
  for (;;) {
    while (i < a.length && !isVersionChar(a[i]!)) i += 1;
    while (j < b.length && !isVersionChar(b[j]!)) j += 1;
    let order = prefix(TILDE);
    if (order !== 0) return order;
    // The end-of-string test comes after '~' so that "1~rc" < "1" but "1" < "1.0". C compares
    // the NUL terminator with a plain (signed on x86) char here; byteAt() reproduces that.
    if (i >= a.length || j >= b.length) return compare(byteAt(a, i), byteAt(b, j));
    for (const char of [MINUS, CARET, DOT]) {
      order = prefix(char);
      if (order !== 0) return order;
    }
    let endA = i;
    let endB = j;
    if (isDigit(byteAt(a, i)) || isDigit(byteAt(b, j))) {
      while (isDigit(byteAt(a, endA))) endA += 1;
      while (isDigit(byteAt(b, endB))) endB += 1;
      // A number is newer than no number; then more significant digits are newer.
      order = compare(Number(endA !== i), Number(endB !== j));
      if (order !== 0) return order;
      while (byteAt(a, i) === ZERO) i += 1;
      while (byteAt(b, j) === ZERO) j += 1;
      order = compare(endA - i, endB - j) || compareBytes(a, i, b, j, endA - i);
    } else {
      while (isLetter(byteAt(a, endA))) endA += 1;
      while (isLetter(byteAt(b, endB))) endB += 1;
      order = compareBytes(a, i, b, j, Math.min(endA - i, endB - j)) || compare(endA - i, endB - j);
    }
    if (order !== 0) return order;
    i = endA;
    j = endB;
  }
}

const TILDE = 0x7e;
const MINUS = 0x2d;
const CARET = 0x5e;
const DOT = 0x2e;
const ZERO = 0x30;

/** The UTF-8 bytes up to the first NUL, as C's `char` on x86 (signed) sees them. */
function cString(text: string): Int8Array {
  const bytes = utf8.encode(text);
  const nul = bytes.indexOf(0);
  return new Int8Array(bytes.buffer, 0, nul < 0 ? bytes.length : nul);
}

function byteAt(bytes: Int8Array, index: number): number {
  return index < bytes.length ? bytes[index]! : 0;
}

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function isLetter(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

function isVersionChar(byte: number): boolean {
  return isDigit(byte) || isLetter(byte) || byte === TILDE || byte === MINUS || byte === CARET || byte === DOT;
}

function compare(left: number, right: number): number {
  return Math.sign(left - right);
}

/** strncmp() over runs of ASCII digits or letters, where signedness does not matter. */
function compareBytes(a: Int8Array, i: number, b: Int8Array, j: number, length: number): number {
  for (let k = 0; k < length; k += 1) {
    const order = compare(a[i + k]!, b[j + k]!);
    if (order !== 0) return order;
  }
  return 0;
}

/** What a MatchPattern= wildcard captured; `version` (@v) is the one mandatory field. */
export interface PatternMatch {
  /** @v: non-empty, at most 255 of [A-Za-z0-9.,_+-] (version_is_valid()). */
  version: string;
  /** @u: GPT partition UUID, dashed lowercase; matched dashed or as 32 hex digits, formatted as the latter. */
  uuid?: string;
  /** @f: GPT partition attribute bits, hexadecimal in the name. */
  flags?: bigint;
  /** @a: GPT NoAuto flag, "0"/"1" (matched as any parse_boolean() word). */
  noAuto?: boolean;
  /** @g: GPT GrowFileSystem flag. */
  growFileSystem?: boolean;
  /** @r: read-only flag. */
  readOnly?: boolean;
  /** @t: modification time, µs since the epoch, decimal. */
  mtimeMicroseconds?: number;
  /** @m: access mode, octal, at most 0775. */
  mode?: number;
  /** @s: size after decompression, decimal. */
  sizeBytes?: number;
  /** @d: boot counting, tries done (Automatic Boot Assessment). */
  triesDone?: number;
  /** @l: boot counting, tries left. */
  triesLeft?: number;
  /** @h: SHA-256 of the compressed file, 64 hex digits, lowercase here. */
  sha256?: string;
}

type Element = { kind: "literal"; text: string } | { kind: "field"; marker: Marker };
type Marker = "v" | "u" | "f" | "a" | "g" | "r" | "t" | "m" | "s" | "d" | "l" | "h";

const FIELD_NAMES: Record<Marker, keyof PatternMatch> = {
  v: "version", u: "uuid", f: "flags", a: "noAuto", g: "growFileSystem", r: "readOnly",
  t: "mtimeMicroseconds", m: "mode", s: "sizeBytes", d: "triesDone", l: "triesLeft", h: "sha256",
};

/**
 * Matches `text` (a file name, a path below the source directory, or a partition label)
 * against a MatchPattern=. Each wildcard captures up to the first occurrence of the literal
 * after it (or the end), so "@v+@l" captures "1" from "1+2+3" and then fails on "2+3" as
 * tries left. Returns undefined when the text does not match.
 *
 * Follows current systemd rather than v257 in two places where v257 misbehaves: v257 accepts
 * trailing text after the pattern ("@v.raw" matched "1.raw.xz") and aborts on a wildcard
 * followed by '/', the "foo_@v/bar.efi" example of sysupdate.d(5). A text that stops where
 * the pattern expects '/' is a "retry" (a directory to descend into) for sysupdate: undefined here.
 */
export function matchPattern(pattern: string, text: string): PatternMatch | undefined {
  const elements = parsePattern(pattern);
  const found: Partial<Record<keyof PatternMatch, unknown>> = {};
  let position = 0;
  for (const [index, element] of elements.entries()) {
    if (element.kind === "literal") {
      if (!text.startsWith(element.text, position)) return undefined;
      position += element.text.length;
      continue;
    }
    const next = elements[index + 1];
    const end = next?.kind === "literal" ? text.indexOf(next.text, position) : text.length;
    if (end < 0) return undefined;
    const value = parseField(element.marker, text.slice(position, end));
    if (value === undefined) return undefined;
    found[FIELD_NAMES[element.marker]] = value;
    position = end;
  }
  return position === text.length ? (found as PatternMatch) : undefined;
}

/**
 * The name sysupdate would give an instance with these values (pattern_format()). Throws when
 * the pattern is invalid or uses a wildcard whose value is missing or out of range. Unlike
 * systemd, also refuses an invalid version, since no pattern could match the result.
 */
export function formatPattern(pattern: string, values: PatternMatch): string {
  let name = "";
  for (const element of parsePattern(pattern)) {
    name += element.kind === "literal" ? element.text : formatField(pattern, element.marker, values);
  }
  return name;
}

/**
 * pattern_split(): "@x" is a wildcard, "@@" a literal '@'; literal characters must be printable (control characters and DEL refused; bytes ≥ 0x80 pass on x86,
 * where `char` is signed) and not one of $*?[]!\| (reserved for future pattern syntax). Each
 * wildcard at most once, @v mandatory, and two wildcards must be split by a literal.
 *
 * systemd keeps '/' as an element of its own and ends a wildcard before it at the next '/'.
 * Here '/' is literal text: no wildcard value may contain '/', so ending at the first
 * occurrence of the whole following literal accepts and captures exactly the same.
 */
function parsePattern(pattern: string): Element[] {
  const invalid = (what: string): never =>
    fail(ErrorCode.Definitions, `MatchPattern "${pattern}": ${what}`, "see the wildcards in sysupdate.d(5)");
  const elements: Element[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < pattern.length; index += 1) {
    let char = pattern[index]!;
    if (char === "@") {
      index += 1;
      if (index === pattern.length) invalid("trailing '@' (write '@@' for a literal '@')");
      char = pattern[index]!;
      if (char !== "@") {
        if (!Object.hasOwn(FIELD_NAMES, char)) invalid(`unknown wildcard '@${char}'`);
        if (seen.has(char)) invalid(`wildcard '@${char}' appears twice`);
        if (elements.at(-1)?.kind === "field") invalid(`wildcard '@${char}' directly follows another wildcard`);
        seen.add(char);
        elements.push({ kind: "field", marker: char as Marker });
        continue;
      }
    } else if (char < " " || char === "\x7f" || "$*?[]!\\|".includes(char)) {
      invalid(`character ${JSON.stringify(char)} is not allowed`);
    }
    const last = elements.at(-1);
    if (last?.kind === "literal") last.text += char;
    else elements.push({ kind: "literal", text: char });
  }
  if (!seen.has("v")) invalid("the version wildcard '@v' is missing");
  return elements;
}

const UINT64_MAX = 2n ** 64n - 1n;

function parseField(marker: Marker, text: string): PatternMatch[keyof PatternMatch] | undefined {
  switch (marker) {
    case "v": return isValidVersion(text) ? text : undefined;
    case "u": return normalizeGuid(text);
    case "f": return parseUnsigned(text, 16);
    case "a": case "g": case "r": return parseBoolean(text);
    case "m": {
      // parse_mode(): octal, sign refused, ≤ 07777; sysupdate then refuses bits outside 0775
      // (no world-writable or setuid files).
      const mode = parseUnsigned(text, 8, true);
      return mode !== undefined && (mode & ~0o775n) === 0n ? Number(mode) : undefined;
    }
    case "h": return /^[0-9a-fA-F]{64}$/.test(text) ? text.toLowerCase() : undefined;
    case "t": case "s": case "d": case "l": {
      // safe_atou64(); UINT64_MAX is systemd's "unset". Beyond 2^53 - 1 a JS number would
      // round, so those (never real counters, sizes or times) do not match here.
      const value = parseUnsigned(text, 0);
      return value !== undefined && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
    }
  }
}

function formatField(pattern: string, marker: Marker, values: PatternMatch): string {
  const name = FIELD_NAMES[marker];
  const value = values[name];
  const invalid = (): never =>
    fail(ErrorCode.Definitions, `MatchPattern "${pattern}": @${marker} needs a valid ${name}, got ${String(value)}`,
      `pass ${name} or drop @${marker} from the pattern`);
  switch (marker) {
    case "v": return isValidVersion(values.version) ? values.version : invalid();
    case "u": return normalizeGuid(values.uuid ?? "")?.replaceAll("-", "") ?? invalid();
    case "f": {
      const flags = values.flags;
      return flags !== undefined && flags >= 0n && flags <= UINT64_MAX ? flags.toString(16) : invalid();
    }
    case "a": case "g": case "r": return typeof value === "boolean" ? (value ? "1" : "0") : invalid();
    case "m": {
      // "%03o"; the mode must pass sysupdate's own 0775 check when read back.
      const valid = typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0o775 && (value & ~0o775) === 0;
      return valid ? value.toString(8).padStart(3, "0") : invalid();
    }
    case "h": return typeof value === "string" && /^[0-9a-fA-F]{64}$/.test(value) ? value.toLowerCase() : invalid();
    case "t": case "s": case "d": case "l": return Number.isSafeInteger(value) && (value as number) >= 0 ? String(value) : invalid();
  }
}

/** version_is_valid(): what sysupdate accepts from @v (a superset of semver's characters). */
function isValidVersion(text: string): boolean {
  return /^[A-Za-z0-9.,_+-]{1,255}$/.test(text);
}

/** parse_boolean(), case-insensitive. */
function parseBoolean(text: string): boolean | undefined {
  const word = text.toLowerCase();
  if (["1", "yes", "y", "true", "t", "on"].includes(word)) return true;
  if (["0", "no", "n", "false", "f", "off"].includes(word)) return false;
  return undefined;
}

/**
 * safe_atollu_full() (parse-util.c) over glibc's C23 strtoull(), which is what sysupdate v257
 * runs on Debian. Base 0 takes "0b"/"0o" (systemd) and "0x"/leading "0" (C) prefixes, so "010"
 * is 8 tries. Whitespace " \t\n\r" is skipped, then strtoull skips \v and \f too and takes a
 * sign; "-0" is 0, other negatives are refused unless whitespace hid the '-' from systemd's
 * check, in which case they wrap as in C.
 */
function parseUnsigned(text: string, base: 0 | 8 | 16, refuseSign = false): bigint | undefined {
  let rest = text.replace(/^[ \t\n\r]+/, "");
  if (refuseSign && /^[+-]/.test(rest)) return undefined;
  let radix: number = base;
  if (base === 0 && /^0[bBoO]/.test(rest)) {
    radix = /^0[bB]/.test(rest) ? 2 : 8;
    rest = rest.slice(2);
  }
  const [, space = "", sign = "", body = ""] = /^([ \t\n\v\f\r]*)([+-]?)(.*)$/s.exec(rest) ?? [];
  let digits = body;
  if ((radix === 0 || radix === 16) && /^0[xX][0-9a-fA-F]/.test(body)) { radix = 16; digits = body.slice(2); }
  else if ((radix === 0 || radix === 2) && /^0[bB][01]/.test(body)) { radix = 2; digits = body.slice(2); }
  else if (radix === 0) radix = body.startsWith("0") ? 8 : 10;
  const alphabet = "0123456789abcdef".slice(0, radix);
  if (digits === "" || ![...digits.toLowerCase()].every((digit) => alphabet.includes(digit))) return undefined;
  const magnitude = [...digits.toLowerCase()].reduce((sum, digit) => sum * BigInt(radix) + BigInt(alphabet.indexOf(digit)), 0n);
  if (magnitude > UINT64_MAX) return undefined;
  if (sign !== "-" || magnitude === 0n) return magnitude;
  return space === "" ? undefined : 2n ** 64n - magnitude;
}
