/**
 * The xattr table: key/value records of every distinct xattr set, written once per set into
 * their own metadata stream, plus a lookup table of squashfs_xattr_id entries (reference,
 * count, size) that inodes point to by index. Only the user., trusted. and security.
 * namespaces exist in squashfs (SQUASHFS_XATTR_USER/TRUSTED/SECURITY); others (such as
 * system.posix_acl_*) cannot be stored and are dropped, as mksquashfs does. Values are stored
 * inline; out-of-line values are an optional space optimisation.
 */
import { setU64LE, toHex, utf8, view } from "../../core/bytes.js";
import type { Codec } from "../../compress/codec.js";
import type { Xattr } from "../../tree/tree.js";
import { XATTR_ENTRY, XATTR_ID, XATTR_ID_BYTES, XATTR_PREFIX, XATTR_VALUE } from "./layout.js";
import { MetadataWriter, packRef } from "./metadata.js";

interface XattrIdEntry {
  readonly ref: number;
  readonly count: number;
  readonly sizeBytes: number;
}

/** Splits a full name into its squashfs prefix type and the stored remainder, or undefined. */
export function splitXattrName(name: string): { type: number; rest: Uint8Array } | undefined {
  for (const [prefix, type] of XATTR_PREFIX) {
    if (name.startsWith(prefix) && name.length > prefix.length) return { type, rest: utf8(name.slice(prefix.length)) };
  }
  return undefined;
}

export class XattrTableWriter {
  readonly values: MetadataWriter;
  private readonly ids: XattrIdEntry[] = [];
  private readonly bySet = new Map<string, number>();

  constructor(codec: Codec, level: number) {
    this.values = new MetadataWriter(codec, level);
  }

  /** The xattr index for a set, writing the set the first time it is seen; undefined = none. */
  indexFor(xattrs: readonly Xattr[]): number | undefined {
    const stored = xattrs.flatMap((xattr) => {
      const split = splitXattrName(xattr.name);
      return split ? [{ ...split, value: xattr.value }] : [];
    });
    if (stored.length === 0) return undefined;
    const key = stored.map((entry) => `${entry.type}:${toHex(entry.rest)}=${toHex(entry.value)}`).join(",");
    const known = this.bySet.get(key);
    if (known !== undefined) return known;
    const ref = packRef(this.values.position());
    let sizeBytes = 0;
    for (const entry of stored) {
      const record = new Uint8Array(4 + entry.rest.length + 4 + entry.value.length);
      const data = view(record);
      data.setUint16(XATTR_ENTRY["type"]![0], entry.type, true);
      data.setUint16(XATTR_ENTRY["size"]![0], entry.rest.length, true);
      record.set(entry.rest, 4);
      data.setUint32(4 + entry.rest.length + XATTR_VALUE["vsize"]![0], entry.value.length, true);
      record.set(entry.value, 8 + entry.rest.length);
      this.values.write(record);
      sizeBytes += record.length;
    }
    const index = this.ids.length;
    this.ids.push({ ref, count: stored.length, sizeBytes });
    this.bySet.set(key, index);
    return index;
  }

  get count(): number {
    return this.ids.length;
  }

  /** The squashfs_xattr_id entries, in index order, for the lookup table. */
  encodeIds(): Uint8Array {
    const bytes = new Uint8Array(this.ids.length * XATTR_ID_BYTES);
    const data = view(bytes);
    this.ids.forEach((entry, index) => {
      const base = index * XATTR_ID_BYTES;
      setU64LE(data, base + XATTR_ID["xattr"]![0], entry.ref);
      data.setUint32(base + XATTR_ID["count"]![0], entry.count, true);
      data.setUint32(base + XATTR_ID["size"]![0], entry.sizeBytes, true);
    });
    return bytes;
  }
}
