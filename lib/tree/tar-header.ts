/**
 * Pure parsing of tar headers: POSIX ustar (POSIX.1-1988 / IEEE 1003.1 §10.1.1), GNU
 * (long-name 'L'/'K' members, base-256 numbers; GNU tar manual "Basic Tar Format") and PAX
 * extended headers (POSIX.1-2001 pax §4.100.5, `"%d %s=%s\n"` records).
 */
import { fromUtf8 } from "../core/bytes.js";

export const TAR_BLOCK_BYTES = 512;

/** ustar header field table: [offset, length] (POSIX ustar Interchange Format, Table 10-1). */
export const TAR_HEADER = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  checksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

type Field = keyof typeof TAR_HEADER;

export interface RawTarHeader {
  /** Raw name bytes (ustar prefix + "/" + name already joined). */
  readonly name: Uint8Array;
  readonly linkname: Uint8Array;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly typeflag: string;
  readonly devmajor: number;
  readonly devminor: number;
}

function field(block: Uint8Array, name: Field): Uint8Array {
  const [offset, length] = TAR_HEADER[name];
  return block.subarray(offset, offset + length);
}

/** Bytes up to the first NUL (a full-length field has none). */
function cString(bytes: Uint8Array): Uint8Array {
  const end = bytes.indexOf(0);
  return end < 0 ? bytes : bytes.subarray(0, end);
}

/**
 * A numeric field: octal digits (leading spaces, ended by NUL or space), or GNU base-256 when
 * the high bit of the first byte is set (0x80 positive, 0xff negative two's complement).
 * Returns undefined when the field is malformed.
 */
export function parseNumeric(bytes: Uint8Array): number | undefined {
  if (bytes.length > 0 && (bytes[0]! & 0x80) !== 0) {
    let value = 0n;
    for (let index = 0; index < bytes.length; index++) {
      value = (value << 8n) | BigInt(index === 0 && bytes[0] !== 0xff ? bytes[0]! & 0x7f : bytes[index]!);
    }
    // 0xff first byte: the whole field is a negative two's-complement number.
    if (bytes[0] === 0xff) value -= 1n << BigInt(8 * bytes.length);
    const result = Number(value);
    return Number.isSafeInteger(result) ? result : undefined;
  }
  let index = 0;
  while (index < bytes.length && bytes[index] === 0x20) index++;
  let value = 0;
  let digits = 0;
  for (; index < bytes.length; index++) {
    const byte = bytes[index]!;
    if (byte === 0 || byte === 0x20) break;
    if (byte < 0x30 || byte > 0x37) return undefined;
    value = value * 8 + (byte - 0x30);
    digits++;
  }
  return digits === 0 ? 0 : value;
}

/**
 * Header checksum (ustar: sum of all 512 bytes as unsigned, with the checksum field taken as
 * eight spaces). Some historic writers summed signed chars; both are accepted, as GNU tar does.
 */
export function checksumMatches(block: Uint8Array): boolean {
  const stored = parseNumeric(field(block, "checksum"));
  let unsigned = 0;
  let signed = 0;
  const [checksumOffset, checksumLength] = TAR_HEADER.checksum;
  for (let index = 0; index < TAR_BLOCK_BYTES; index++) {
    const byte = index >= checksumOffset && index < checksumOffset + checksumLength ? 0x20 : block[index]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let index = 0; index < block.length; index++) if (block[index] !== 0) return false;
  return true;
}

/** Parses one 512-byte header block; returns a description of the bad field on failure. */
export function parseTarHeader(block: Uint8Array): RawTarHeader | string {
  const numbers: Partial<Record<Field, number>> = {};
  for (const name of ["mode", "uid", "gid", "size", "mtime", "devmajor", "devminor"] as const) {
    const value = parseNumeric(field(block, name));
    if (value === undefined) return `malformed ${name} field`;
    numbers[name] = value;
  }
  const magic = field(block, "magic");
  const version = field(block, "version");
  // POSIX ustar: "ustar\0" + "00"; GNU: "ustar " + " \0", whose prefix area holds atime/ctime
  // and sparse data instead of a name prefix.
  const posixUstar = magic[5] === 0 && String.fromCharCode(...magic.subarray(0, 5)) === "ustar" && version[0] === 0x30 && version[1] === 0x30;
  let name = cString(field(block, "name"));
  if (posixUstar) {
    const prefix = cString(field(block, "prefix"));
    if (prefix.length > 0) {
      const joined = new Uint8Array(prefix.length + 1 + name.length);
      joined.set(prefix, 0);
      joined[prefix.length] = 0x2f;
      joined.set(name, prefix.length + 1);
      name = joined;
    }
  }
  const typeByte = block[TAR_HEADER.typeflag[0]]!;
  return {
    name,
    linkname: cString(field(block, "linkname")),
    mode: numbers.mode!,
    uid: numbers.uid!,
    gid: numbers.gid!,
    size: numbers.size!,
    mtime: numbers.mtime!,
    typeflag: typeByte === 0 ? "0" : String.fromCharCode(typeByte),
    devmajor: numbers.devmajor!,
    devminor: numbers.devminor!,
  };
}

/** One PAX record; the value stays raw bytes because SCHILY.xattr values are binary. */
export interface PaxRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

/** Parses an extended header body; returns an error description when a record is malformed. */
export function parsePaxRecords(body: Uint8Array): PaxRecord[] | string {
  const records: PaxRecord[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (body[offset] === 0) break;
    const space = body.indexOf(0x20, offset);
    if (space < 0) return `record at byte ${offset} has no length`;
    const lengthText = String.fromCharCode(...body.subarray(offset, space));
    if (!/^\d+$/.test(lengthText)) return `record at byte ${offset} has a bad length "${lengthText}"`;
    const recordLength = Number(lengthText);
    const end = offset + recordLength;
    if (end > body.length || body[end - 1] !== 0x0a) return `record at byte ${offset} overruns the header`;
    const equals = body.indexOf(0x3d, space + 1);
    if (equals < 0 || equals >= end) return `record at byte ${offset} has no "="`;
    let key: string;
    try {
      key = fromUtf8(body.subarray(space + 1, equals));
    } catch {
      return `record at byte ${offset} has a key that is not UTF-8`;
    }
    records.push({ key, value: body.slice(equals + 1, end - 1) });
    offset = end;
  }
  return records;
}

/** PAX time "seconds[.fraction]" (may be negative) → whole seconds, rounded down like stat's tv_sec. */
export function parsePaxTime(text: string): number | undefined {
  const match = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (!match) return undefined;
  const seconds = Number(match[2]);
  const hasFraction = (match[3] ?? "").replace(/0/g, "") !== "";
  return match[1] === "-" ? -seconds - (hasFraction ? 1 : 0) : seconds;
}
