/**
 * Lookup tables (fragment, export, id, xattr id): fixed-size entries in metadata blocks,
 * followed by an uncompressed array of u64 absolute offsets, one per metadata block; the
 * superblock points at that array. The offsets come from where the blocks were written.
 */
import { setU64LE, view } from "../../core/bytes.js";
import type { Codec } from "../../compress/codec.js";
import type { FragmentEntry } from "./data.js";
import { FRAGMENT_ENTRY, FRAGMENT_ENTRY_BYTES } from "./layout.js";
import { MetadataWriter } from "./metadata.js";

export interface EncodedTable {
  /** Metadata blocks, then the u64 index. */
  readonly parts: readonly Uint8Array[];
  readonly sizeBytes: number;
  /** Offset of the index (what the superblock stores), relative to where the parts start. */
  readonly indexOffset: number;
}

/** Encodes entries as metadata blocks starting at image offset `startBytes`, plus their index. */
export function encodeLookupTable(entries: Uint8Array, startBytes: number, codec: Codec, level: number): EncodedTable {
  const writer = new MetadataWriter(codec, level);
  writer.write(entries);
  const blocks = writer.finish();
  let blockBytes = 0;
  for (const block of blocks) blockBytes += block.length;
  const index = new Uint8Array(8 * writer.blockStarts.length);
  writer.blockStarts.forEach((relative, position) => setU64LE(view(index), 8 * position, startBytes + relative));
  return { parts: [...blocks, index], sizeBytes: blockBytes + index.length, indexOffset: blockBytes };
}

export function encodeFragmentEntries(fragments: readonly FragmentEntry[]): Uint8Array {
  const bytes = new Uint8Array(fragments.length * FRAGMENT_ENTRY_BYTES);
  const data = view(bytes);
  fragments.forEach((fragment, index) => {
    const base = index * FRAGMENT_ENTRY_BYTES;
    setU64LE(data, base + FRAGMENT_ENTRY["start_block"]![0], fragment.startBlock);
    data.setUint32(base + FRAGMENT_ENTRY["size"]![0], fragment.sizeWord, true);
  });
  return bytes;
}

export function encodeU64s(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(8 * values.length);
  const data = view(bytes);
  values.forEach((value, index) => setU64LE(data, 8 * index, value));
  return bytes;
}

export function encodeU32s(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  const data = view(bytes);
  values.forEach((value, index) => data.setUint32(4 * index, value, true));
  return bytes;
}
