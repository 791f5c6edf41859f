/**
 * Linux swap signature (what mkswap writes; kernel include/linux/swap.h `union swap_header`):
 * the first page holds, from byte 1024, version 1, the index of the last usable page, the
 * bad-page count, a UUID and a 16-byte label, and ends with the magic "SWAPSPACE2".
 * repart formats Format=swap partitions with mkswap; this is the same header.
 */
import { ascii, utf8, view } from "../../core/bytes.js";
import { ErrorCode, fail } from "../../core/errors.js";
import { guidToBytes } from "../../core/guid.js";

export const SWAP_PAGE_BYTES = 4096;

/** Field offsets within the first page (swap_header.info). */
const INFO = { version: 1024, lastPage: 1028, badPages: 1032, uuid: 1036, label: 1052 } as const;
const LABEL_BYTES = 16;
const MAGIC = "SWAPSPACE2";

export function encodeSwapHeader(partitionSizeBytes: number, uuid: string, label: string): Uint8Array {
  const pages = Math.floor(partitionSizeBytes / SWAP_PAGE_BYTES);
  // mkswap refuses fewer than 10 pages: the kernel would have nothing to swap to.
  if (pages < 10) fail(ErrorCode.Format, `swap: ${partitionSizeBytes} bytes is below 10 pages of ${SWAP_PAGE_BYTES}`, "give the swap partition at least 40 KiB");
  const page = new Uint8Array(SWAP_PAGE_BYTES);
  const target = view(page);
  target.setUint32(INFO.version, 1, true);
  target.setUint32(INFO.lastPage, pages - 1, true);
  target.setUint32(INFO.badPages, 0, true);
  page.set(guidToBytes(uuid), INFO.uuid);
  page.set(utf8(label).subarray(0, LABEL_BYTES - 1), INFO.label);
  page.set(ascii(MAGIC), SWAP_PAGE_BYTES - MAGIC.length);
  return page;
}
