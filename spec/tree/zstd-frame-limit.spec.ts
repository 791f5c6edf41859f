/**
 * A zstd frame is decoded in one piece inside the codec's wasm32 heap, together with its
 * compressed bytes. A frame whose block headers allow more than gptimg decodes at once is
 * refused with a one-line error before anything is allocated for it; a small frame passes the
 * check and reaches the codec.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptimgError } from "../../lib/core/errors.js";
import { decompressToSpool } from "../../lib/io/decompress.js";

/** RFC 8878 §3.1.1: magic, a descriptor without content size, a window byte, then blocks. */
function frameOfCompressedBlocks(blockCount: number): Uint8Array {
  const header = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00];
  const frame = new Uint8Array(header.length + blockCount * 4);
  frame.set(header);
  for (let index = 0; index < blockCount; index++) {
    // Block_Header: Last_Block, Block_Type 2 (Compressed), Block_Size 1; then that one byte.
    const value = (1 << 3) | (2 << 1) | (index === blockCount - 1 ? 1 : 0);
    frame.set([value & 0xff, (value >> 8) & 0xff, value >> 16, 0], header.length + index * 4);
  }
  return frame;
}

describe("zstd frames and the codec heap", () => {
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-zstd-limit-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("refuses a frame that may decompress past the heap limit, in one line, before decoding", async () => {
    // Each Compressed block may yield 128 KiB: 12,288 of them allow exactly 1.5 GiB, which
    // with the frame's own 49,158 bytes no longer fits.
    const archive = join(scratch, "huge.tar.zst");
    writeFileSync(archive, frameOfCompressedBlocks(12_288));
    const error = await decompressToSpool(archive, "zstd", scratch, "huge.spool").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GptimgError);
    const message = (error as GptimgError).message;
    expect(message).toContain(`${archive}: zstd frame at offset 0 (49158 bytes) may decompress to 1610612736 bytes, more than gptimg decodes at once`);
    expect(message).not.toContain("\n");
    // The spool (scratch, removed with its directory by the caller) got no bytes.
    expect(statSync(join(scratch, "huge.spool")).size).toBe(0);
  });

  it("passes a small frame to the codec, which rejects its fake blocks as corrupt", async () => {
    const archive = join(scratch, "fake.tar.zst");
    writeFileSync(archive, frameOfCompressedBlocks(3));
    const error = await decompressToSpool(archive, "zstd", scratch, "fake.spool").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GptimgError);
    expect((error as GptimgError).message).toContain(`${archive}: zstd frame at offset 0 does not decompress`);
  });
});
