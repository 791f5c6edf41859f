/** PEM (RFC 7468) text → labelled DER blocks. */
import { ErrorCode, fail } from "../core/errors.js";

export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** All PEM blocks in order; explanatory text around them (openssl's "Bag Attributes") is ignored. */
export function parsePem(text: string, where: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const body = match[2]!.replace(/\s+/g, "");
    // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") mean an encrypted traditional key.
    if (body.includes(":")) fail(ErrorCode.Signing, `${where}: PEM block "${match[1]}" is encrypted`, "decrypt it first (openssl pkey -in KEY -out PLAIN.pem)");
    const der = fromBase64(body);
    if (der === undefined) fail(ErrorCode.Signing, `${where}: PEM block "${match[1]}" is not valid base64`, "check the file");
    blocks.push({ label: match[1]!, der });
  }
  if (blocks.length === 0) fail(ErrorCode.Signing, `${where}: no PEM block (-----BEGIN …-----) found`, "give a PEM file");
  return blocks;
}

/** Standard base64 (RFC 4648 §4) → bytes; undefined when it is not valid base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) out[index] = binary.charCodeAt(index);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  return btoa(binary);
}
