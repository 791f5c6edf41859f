/**
 * FAT names: validation of long names, 8.3 short names and their collisions, VFAT long-name
 * (LFN) checksums, and the volume label. Pure.
 *
 * Rules (fatgen103 "FAT Long Directory Entries", "Basis-Name Generation Algorithm",
 * "Numeric-Tail Generation Algorithm"; Linux fs/fat/namei_vfat.c for what Linux accepts):
 * - A name that already is a valid 8.3 name whose base and extension are each single-case is
 *   stored as a short entry only; lowercase parts set the Windows NT case bits in DIR_NTRes
 *   (0x08 base, 0x10 extension), which Linux (shortname=winnt/mixed display) and mtools honour.
 * - Every other name gets LFN entries plus a generated short name: the uppercased basis (invalid
 *   characters → "_", spaces and leading dots dropped, 8 + 3 characters) used as is when the
 *   long name fits 8.3 losslessly, else with a numeric tail "~N" (base shortened so base + tail
 *   ≤ 8 characters, N counting up to 999999) — unlike Windows' hashed names after ~4, this is
 *   deterministic and, with ≤ 65536 entries per directory, never runs out.
 */

/** Characters valid in a short name besides A–Z and 0–9 (fatgen103 "DIR_Name"). */
const SHORT_NAME_SPECIALS = "!#$%&'()-@^_`{}~";
/** fatgen103: characters not allowed in long names (besides 0x00–0x1F). */
const LONG_NAME_FORBIDDEN = '"*/:<>?\\|';
/** fatgen103: a long name holds at most 255 UTF-16 code units. */
export const LONG_NAME_MAX_UNITS = 255;
/** fatgen103 "LDIR_Name1/2/3": 5 + 6 + 2 UTF-16 code units per long-name entry. */
export const LFN_UNITS_PER_ENTRY = 13;

/** Why `name` cannot be a FAT long name, or undefined when it can. */
export function longNameProblem(name: string): string | undefined {
  if (name.length > LONG_NAME_MAX_UNITS) return `is ${name.length} UTF-16 code units long, FAT allows ${LONG_NAME_MAX_UNITS}`;
  for (const character of name) {
    const code = character.codePointAt(0)!;
    if (code < 0x20 || LONG_NAME_FORBIDDEN.includes(character)) return `contains ${JSON.stringify(character)}, which FAT names cannot hold`;
  }
  // Linux (vfat_striptail_len) and Windows drop trailing dots when looking a name up, so a
  // stored "name." could never be opened again.
  if (name.endsWith(".")) return "ends with a dot, which FAT drivers strip when looking names up";
  return undefined;
}

/**
 * The key under which two names in one directory collide: FAT lookups are case-insensitive.
 * Each UTF-16 unit is upcased on its own, as the on-disk upcase rules of FAT/VFAT drivers do
 * (so "ß" does not become "SS").
 */
export function collisionKey(name: string): string {
  let out = "";
  for (const unit of name) {
    const upper = unit.toUpperCase();
    out += upper.length === unit.length ? upper : unit;
  }
  return out;
}

/** Short names are ASCII only here (no OEM code page), so "ı" never becomes "I". */
function isShortNameCharacter(character: string): boolean {
  return /^[A-Z0-9]$/.test(character) || (character.length === 1 && SHORT_NAME_SPECIALS.includes(character));
}

function asciiUpper(character: string): string {
  return /^[a-z]$/.test(character) ? character.toUpperCase() : character;
}

export interface ShortName {
  /** The 11 bytes of DIR_Name: base padded to 8 with spaces, extension padded to 3. */
  readonly bytes: Uint8Array;
  /** DIR_NTRes case bits (0x08 lowercase base, 0x10 lowercase extension). */
  readonly caseBits: number;
  /** True when the name needs VFAT long-name entries in front of the short entry. */
  readonly needsLongName: boolean;
}

const LOWER_BASE = 0x08;
const LOWER_EXTENSION = 0x10;

/** "readme.txt" → case bits for a valid single-case 8.3 name, or undefined when it is not one. */
function literalShortName(name: string): { base: string; extension: string; caseBits: number } | undefined {
  const match = /^([^.]{1,8})(?:\.([^.]{1,3}))?$/.exec(name);
  if (!match) return undefined;
  const base = match[1]!;
  const extension = match[2] ?? "";
  let caseBits = 0;
  for (const [part, bit] of [[base, LOWER_BASE], [extension, LOWER_EXTENSION]] as const) {
    for (const character of part) if (!isShortNameCharacter(asciiUpper(character))) return undefined;
    const hasLower = /[a-z]/.test(part);
    const hasUpper = /[A-Z]/.test(part);
    if (hasLower && hasUpper) return undefined;
    if (hasLower) caseBits |= bit;
  }
  return { base: base.toUpperCase(), extension: extension.toUpperCase(), caseBits };
}

interface Basis {
  base: string;
  extension: string;
  /** The long name is exactly this 8.3 name up to case: no numeric tail needed. */
  lossless: boolean;
}

/** Uppercase, map to short-name characters; returns the mapped text and whether anything was lost. */
function mapToShort(text: string): { mapped: string; lossy: boolean } {
  let mapped = "";
  let lossy = false;
  for (const character of text) {
    if (character === " " || character === ".") {
      lossy = true;
      continue;
    }
    const upper = asciiUpper(character);
    if (isShortNameCharacter(upper)) mapped += upper;
    else {
      mapped += "_";
      lossy = true;
    }
  }
  return { mapped, lossy };
}

/** fatgen103 "Basis-Name Generation Algorithm" (with Win95/Linux's rule for leading dots). */
function basisName(name: string): Basis {
  const lastDot = name.lastIndexOf(".");
  // ".bashrc", "..x": only dots (and spaces) before the last dot → no extension, the whole
  // name is the base (Linux vfat_create_shortname does the same).
  const hasExtension = lastDot > 0 && /[^. ]/.test(name.slice(0, lastDot));
  const baseText = hasExtension ? name.slice(0, lastDot) : name;
  const extensionText = hasExtension ? name.slice(lastDot + 1) : "";
  const base = mapToShort(baseText);
  const extension = mapToShort(extensionText);
  const lossless = !base.lossy && !extension.lossy && base.mapped.length >= 1 && base.mapped.length <= 8 && extension.mapped.length <= 3;
  return { base: base.mapped.slice(0, 8) || "_", extension: extension.mapped.slice(0, 3), lossless };
}

function shortNameBytes(base: string, extension: string): Uint8Array {
  const text = base.padEnd(8, " ") + extension.padEnd(3, " ");
  const bytes = new Uint8Array(11);
  for (let index = 0; index < 11; index++) bytes[index] = text.charCodeAt(index);
  return bytes;
}

function shortKey(base: string, extension: string): string {
  return `${base}.${extension}`;
}

/**
 * Short names for all entries of one directory (names must already be valid and free of
 * case-insensitive collisions). Order of assignment, so that no long name can ever equal
 * another entry's short name: literal 8.3 names first, then lossless bases, then numeric tails.
 */
export function assignShortNames(names: readonly string[]): ShortName[] {
  const result: (ShortName | undefined)[] = new Array(names.length);
  const used = new Set<string>();
  const bases: (Basis | undefined)[] = new Array(names.length);
  names.forEach((name, index) => {
    const literal = literalShortName(name);
    if (literal) {
      used.add(shortKey(literal.base, literal.extension));
      result[index] = { bytes: shortNameBytes(literal.base, literal.extension), caseBits: literal.caseBits, needsLongName: false };
    } else {
      bases[index] = basisName(name);
    }
  });
  names.forEach((_name, index) => {
    const basis = bases[index];
    if (!basis || !basis.lossless) return;
    const key = shortKey(basis.base, basis.extension);
    if (used.has(key)) return;
    used.add(key);
    result[index] = { bytes: shortNameBytes(basis.base, basis.extension), caseBits: 0, needsLongName: true };
  });
  // Each entry takes the lowest free tail. Bases that agree in the characters a tail leaves
  // (e.g. "ENTRY-10" and "ENTRY-11" both give "ENTRY-~n") try the same candidates, and a
  // taken candidate stays taken, so the next tail to try is kept per such prefix and tail
  // width: a directory of many similar names stays linear.
  const nextTail = new Map<string, number>();
  names.forEach((_name, index) => {
    const basis = bases[index];
    if (!basis || result[index]) return;
    for (let digits = 1, tail = 1; ; digits++) {
      const prefix = basis.base.slice(0, 8 - 1 - digits);
      const prefixKey = shortKey(prefix, basis.extension);
      const limit = 10 ** digits;
      for (tail = Math.max(tail, nextTail.get(prefixKey) ?? 1); tail < limit; tail++) {
        const base = `${prefix}~${tail}`;
        const key = shortKey(base, basis.extension);
        if (used.has(key)) continue;
        used.add(key);
        nextTail.set(prefixKey, tail + 1);
        result[index] = { bytes: shortNameBytes(base, basis.extension), caseBits: 0, needsLongName: true };
        return;
      }
      nextTail.set(prefixKey, limit);
    }
  });
  return result as ShortName[];
}

/** fatgen103 "ChkSum": rotate right by one and add each of the 11 short-name bytes, mod 256. */
export function shortNameChecksum(shortName: Uint8Array): number {
  let sum = 0;
  for (let index = 0; index < 11; index++) sum = ((sum & 1 ? 0x80 : 0) + (sum >> 1) + shortName[index]!) & 0xff;
  return sum;
}

/** Number of 32-byte long-name entries a name needs. */
export function longNameEntryCount(name: string): number {
  return Math.ceil(name.length / LFN_UNITS_PER_ENTRY);
}

/**
 * The 11-byte volume label as repart makes it from a partition label (src/shared/mkfs-util.c
 * for vfat): uppercase ASCII, at most 11 characters, `*?.,;:/\|+=<>[]"`, control characters and
 * anything outside ASCII replaced by "_", padded with spaces; an empty label is "NO NAME"
 * (fatgen103 "BS_VolLab" default, as mkfs.fat writes it).
 */
export function volumeLabel(label: string): { bytes: Uint8Array; isEmpty: boolean } {
  let text = "";
  for (const character of label) {
    if (text.length === 11) break;
    const code = character.codePointAt(0)!;
    text += code < 0x20 || code > 0x7e || '*?.,;:/\\|+=<>[]"'.includes(character) ? "_" : character.toUpperCase();
  }
  const isEmpty = text.trim() === "";
  const padded = (isEmpty ? "NO NAME" : text).padEnd(11, " ");
  const bytes = new Uint8Array(11);
  for (let index = 0; index < 11; index++) bytes[index] = padded.charCodeAt(index);
  return { bytes, isEmpty };
}
