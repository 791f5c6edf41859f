/**
 * Minimal ASN.1 DER (ITU-T X.690) writer and reader: just what X.509 certificate lookup and
 * PKCS#7/CMS SignedData (RFC 2315, RFC 5652) need. Encoders return complete TLVs; the reader
 * also accepts BER indefinite lengths, since external signers may stream their output.
 */
import { ErrorCode, fail } from "../core/errors.js";
import { compareBytes, concatBytes, utf8 } from "../core/bytes.js";

export const DerTag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  ObjectIdentifier: 0x06,
  Utf8String: 0x0c,
  Sequence: 0x30,
  Set: 0x31,
  /** [0] constructed, e.g. EXPLICIT [0] or IMPLICIT SET OF [0]. */
  ContextConstructed0: 0xa0,
} as const;

/** X.690 §8.1.3: short form below 128, else 0x80|n followed by n big-endian length bytes. */
export function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return new Uint8Array([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes([new Uint8Array([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(DerTag.Sequence, concatBytes(items));
}

/** SET OF: DER (X.690 §11.6) orders the encoded elements as octet strings. */
export function setOf(items: readonly Uint8Array[], tag: number = DerTag.Set): Uint8Array {
  return tlv(tag, concatBytes([...items].sort(compareBytes)));
}

/** [n] EXPLICIT: a constructed context tag wrapping one complete TLV. */
export function explicit(tagNumber: number, inner: Uint8Array): Uint8Array {
  return tlv(0xa0 | tagNumber, inner);
}

export function derNull(): Uint8Array {
  return new Uint8Array([DerTag.Null, 0]);
}

export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(DerTag.OctetString, bytes);
}

export function utf8String(text: string): Uint8Array {
  return tlv(DerTag.Utf8String, utf8(text));
}

/** Non-negative INTEGER from a small number (X.690 §8.3: two's complement, minimal). */
export function integer(value: number): Uint8Array {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  if (bytes.length === 0 || bytes[0]! >= 0x80) bytes.unshift(0);
  return tlv(DerTag.Integer, new Uint8Array(bytes));
}

/** OBJECT IDENTIFIER from dotted text (X.690 §8.19: first two arcs as 40·a+b, base-128 arcs). */
export function objectIdentifier(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((arc) => !Number.isSafeInteger(arc) || arc < 0)) throw new Error(`internal: bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const group: number[] = [arc % 128];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) group.unshift(0x80 | (rest % 128));
    out.push(...group);
  }
  return tlv(DerTag.ObjectIdentifier, new Uint8Array(out));
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }. */
export function algorithmIdentifier(oid: string, withNullParameters: boolean): Uint8Array {
  return withNullParameters ? sequence(objectIdentifier(oid), derNull()) : sequence(objectIdentifier(oid));
}

/** One decoded TLV. `raw` is the whole encoding (header + content), `content` the value octets. */
export interface DerNode {
  readonly tag: number;
  readonly constructed: boolean;
  readonly raw: Uint8Array;
  readonly content: Uint8Array;
}

/** Reads the TLV at `offset`; `where` names the file or field for error messages. */
export function readTlv(bytes: Uint8Array, offset: number, where: string): DerNode {
  const bad = (what: string): never => fail(ErrorCode.Signing, `${where}: malformed ASN.1 at byte ${offset} (${what})`, "check that the file is a DER/PEM certificate, key or PKCS#7 signature");
  if (offset + 2 > bytes.length) bad("truncated header");
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) bad("multi-byte tags are not used by X.509/CMS");
  const constructed = (tag & 0x20) !== 0;
  let cursor = offset + 1;
  const first = bytes[cursor++]!;
  if (first === 0x80) {
    // BER indefinite length (X.690 §8.1.3.6): children until an end-of-contents 00 00.
    if (!constructed) bad("indefinite length on a primitive value");
    const contentStart = cursor;
    for (;;) {
      if (cursor + 2 > bytes.length) bad("missing end-of-contents");
      if (bytes[cursor] === 0 && bytes[cursor + 1] === 0) break;
      cursor += readTlv(bytes, cursor, where).raw.length;
    }
    return { tag, constructed, raw: bytes.subarray(offset, cursor + 2), content: bytes.subarray(contentStart, cursor) };
  }
  let length = first;
  if (first > 0x80) {
    const lengthBytes = first & 0x7f;
    if (lengthBytes > 6) bad("length too large");
    length = 0;
    for (let index = 0; index < lengthBytes; index++) {
      if (cursor >= bytes.length) bad("truncated length");
      length = length * 256 + bytes[cursor++]!;
    }
  }
  if (cursor + length > bytes.length) bad(`value of ${length} bytes runs past the end`);
  return { tag, constructed, raw: bytes.subarray(offset, cursor + length), content: bytes.subarray(cursor, cursor + length) };
}

/** The TLVs inside a constructed node, in order. */
export function childrenOf(node: DerNode, where: string): DerNode[] {
  const out: DerNode[] = [];
  for (let offset = 0; offset < node.content.length; ) {
    const child = readTlv(node.content, offset, where);
    out.push(child);
    offset += child.raw.length;
  }
  return out;
}

/** Reads one complete TLV that must fill `bytes` and carry `tag`. */
export function readWhole(bytes: Uint8Array, tag: number, where: string): DerNode {
  const node = readTlv(bytes, 0, where);
  if (node.tag !== tag) fail(ErrorCode.Signing, `${where}: expected ASN.1 tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`, "check the file type");
  if (node.raw.length !== bytes.length) fail(ErrorCode.Signing, `${where}: ${bytes.length - node.raw.length} stray bytes after the ASN.1 value`, "check the file type");
  return node;
}

/** Expects `node` to have `tag`, else fails naming `what`. */
export function expectTag(node: DerNode | undefined, tag: number, what: string, where: string): DerNode {
  if (node === undefined || node.tag !== tag) {
    fail(ErrorCode.Signing, `${where}: ${what} missing or not tag 0x${tag.toString(16)}`, "check that the file is a valid certificate or PKCS#7 signature");
  }
  return node;
}

export function decodeObjectIdentifier(node: DerNode): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of node.content) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}
