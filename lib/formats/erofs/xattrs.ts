/**
 * Extended attributes: name → (prefix index, suffix), entry encoding, and the per-inode xattr
 * body (erofs_xattr_ibody_header + shared ids + inline entries). Pure functions.
 */
import { toHex, utf8, view } from "../../core/bytes.js";
import { alignUp } from "../../core/int.js";
import { ErrorCode, fail } from "../../core/errors.js";
import type { Xattr } from "../../tree/tree.js";
import {
  XATTR_ALIGN_BYTES,
  XATTR_ENTRY_FIELDS,
  XATTR_ENTRY_HEADER_BYTES,
  XATTR_IBODY_HEADER_BYTES,
  XATTR_IBODY_HEADER_FIELDS,
  XATTR_INDEX_POSIX_ACL_ACCESS,
  XATTR_INDEX_POSIX_ACL_DEFAULT,
  XATTR_INDEX_SECURITY,
  XATTR_INDEX_TRUSTED,
  XATTR_INDEX_USER,
} from "./layout.js";

export interface EncodedXattr {
  readonly nameIndex: number;
  readonly suffix: Uint8Array;
  readonly value: Uint8Array;
  /** Identity of (name, value) for sharing: identical keys are stored once in the shared area. */
  readonly key: string;
  /** Entry bytes including padding: EROFS_XATTR_ALIGN(4 + name_len + value_size). */
  readonly entryBytes: number;
}

/** Short prefixes the kernel maps to name indexes (fs/erofs/xattr.c erofs_xattr_handlers). */
const PREFIXES: readonly (readonly [prefix: string, index: number])[] = [
  ["user.", XATTR_INDEX_USER],
  ["trusted.", XATTR_INDEX_TRUSTED],
  ["security.", XATTR_INDEX_SECURITY],
];

/** e_value_size is __le16. */
const MAX_VALUE_BYTES = 0xffff;
/** e_name_len is __u8. */
const MAX_SUFFIX_BYTES = 0xff;
/** h_shared_count is __u8. */
export const MAX_SHARED_PER_INODE = 0xff;
/** i_xattr_icount is __le16: the body is at most 12 + 4 * (65535 - 1) bytes. */
const MAX_BODY_BYTES = XATTR_IBODY_HEADER_BYTES + 4 * (0xffff - 1);

/** Maps a full xattr name to erofs's prefix index and suffix; fails for names erofs cannot store. */
export function encodeXattr(xattr: Xattr, where: string): EncodedXattr {
  let nameIndex: number | undefined;
  let suffix = "";
  if (xattr.name === "system.posix_acl_access") nameIndex = XATTR_INDEX_POSIX_ACL_ACCESS;
  else if (xattr.name === "system.posix_acl_default") nameIndex = XATTR_INDEX_POSIX_ACL_DEFAULT;
  else {
    for (const [prefix, index] of PREFIXES) {
      if (xattr.name.startsWith(prefix) && xattr.name.length > prefix.length) {
        nameIndex = index;
        suffix = xattr.name.slice(prefix.length);
        break;
      }
    }
  }
  if (nameIndex === undefined) {
    fail(ErrorCode.Format, `${where}: xattr "${xattr.name}" has no erofs name prefix`, "erofs stores user.*, trusted.*, security.* and system.posix_acl_{access,default} only; drop the attribute");
  }
  const suffixBytes = utf8(suffix);
  if (suffixBytes.length > MAX_SUFFIX_BYTES) {
    fail(ErrorCode.Format, `${where}: xattr "${xattr.name}" name is ${suffixBytes.length} bytes after its prefix (erofs allows ${MAX_SUFFIX_BYTES})`, "shorten the attribute name");
  }
  if (xattr.value.length > MAX_VALUE_BYTES) {
    fail(ErrorCode.Format, `${where}: xattr "${xattr.name}" value is ${xattr.value.length} bytes (erofs allows ${MAX_VALUE_BYTES})`, "shorten the attribute value");
  }
  return {
    nameIndex,
    suffix: suffixBytes,
    value: xattr.value,
    key: `${nameIndex}:${toHex(suffixBytes)}:${toHex(xattr.value)}`,
    entryBytes: alignUp(XATTR_ENTRY_HEADER_BYTES + suffixBytes.length + xattr.value.length, XATTR_ALIGN_BYTES),
  };
}

/** Writes one erofs_xattr_entry (with its padding left zero) at `offset`. */
export function encodeXattrEntryInto(target: Uint8Array, offset: number, xattr: EncodedXattr): void {
  const fields = view(target);
  fields.setUint8(offset + XATTR_ENTRY_FIELDS.e_name_len[0], xattr.suffix.length);
  fields.setUint8(offset + XATTR_ENTRY_FIELDS.e_name_index[0], xattr.nameIndex);
  fields.setUint16(offset + XATTR_ENTRY_FIELDS.e_value_size[0], xattr.value.length, true);
  target.set(xattr.suffix, offset + XATTR_ENTRY_HEADER_BYTES);
  target.set(xattr.value, offset + XATTR_ENTRY_HEADER_BYTES + xattr.suffix.length);
}

/** Bytes of an inode's xattr body; 0 when it has none (then i_xattr_icount = 0). */
export function xattrBodyBytes(sharedCount: number, inline: readonly EncodedXattr[], where: string): number {
  if (sharedCount === 0 && inline.length === 0) return 0;
  let bytes = XATTR_IBODY_HEADER_BYTES + 4 * sharedCount;
  for (const xattr of inline) bytes += xattr.entryBytes;
  if (bytes > MAX_BODY_BYTES) {
    fail(ErrorCode.Format, `${where}: extended attributes need ${bytes} bytes (erofs allows ${MAX_BODY_BYTES} per inode)`, "store fewer or smaller attributes");
  }
  return bytes;
}

/** i_xattr_icount for a body of `bodyBytes` (inverse of erofs_xattr_ibody_size()). */
export function xattrInodeCount(bodyBytes: number): number {
  return bodyBytes === 0 ? 0 : 1 + (bodyBytes - XATTR_IBODY_HEADER_BYTES) / 4;
}

/**
 * The xattr body that follows an inode core. h_name_filter stays 0: the bloom filter is only
 * consulted with EROFS_FEATURE_COMPAT_XATTR_FILTER, which we do not set.
 */
export function encodeXattrBodyInto(target: Uint8Array, offset: number, sharedIds: readonly number[], inline: readonly EncodedXattr[]): void {
  const fields = view(target);
  fields.setUint8(offset + XATTR_IBODY_HEADER_FIELDS.h_shared_count[0], sharedIds.length);
  let cursor = offset + XATTR_IBODY_HEADER_BYTES;
  for (const id of sharedIds) {
    fields.setUint32(cursor, id, true);
    cursor += 4;
  }
  for (const xattr of inline) {
    encodeXattrEntryInto(target, cursor, xattr);
    cursor += xattr.entryBytes;
  }
}
