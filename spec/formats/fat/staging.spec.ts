/**
 * StagedOutput: whatever mix of appends, zero runs and source reads goes in, the sink gets the
 * same bytes in order, in full chunks but the last, and never two writes at once (a second
 * write before the first resolved would land at the wrong offset of a SequentialSink).
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { StagedOutput } from "../../../lib/formats/fat/staging.js";
import { BytesSource, FileSliceSource, type ByteSource } from "../../../lib/io/source.js";
import type { SequentialSink } from "../../../lib/io/stream.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25) * 4;

/** Records each write, copying it (the writer reuses its buffers), and resolves it a tick later. */
class RecordingSink implements SequentialSink {
  position = 0;
  readonly writes: Uint8Array[] = [];
  private busy = false;
  async write(bytes: Uint8Array): Promise<void> {
    if (this.busy) throw new Error("overlapping writes");
    this.busy = true;
    this.writes.push(Uint8Array.from(bytes));
    await new Promise((resolve) => setImmediate(resolve));
    this.position += bytes.length;
    this.busy = false;
  }
}

/** A source with only read(), like sources that cannot fill a caller's buffer. */
function readOnly(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, description: "read-only", read: async (offset, length) => bytes.slice(offset, offset + length) };
}

const step = fc.oneof(
  fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 300 }) }),
  fc.record({ kind: fc.constant("zeros" as const), count: fc.integer({ min: 0, max: 300 }) }),
  fc.record({ kind: fc.constantFrom("source" as const, "read-only" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }), skip: fc.nat(50) }),
);

describe("StagedOutput", () => {
  it("passes every byte through in order, in whole chunks, one write at a time", async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 20 }), fc.integer({ min: 1, max: 64 }), async (steps, chunkBytes) => {
      const sink = new RecordingSink();
      const output = new StagedOutput(sink, chunkBytes);
      const expected: number[] = [];
      for (const item of steps) {
        if (item.kind === "bytes") {
          await output.append(item.bytes);
          expected.push(...item.bytes);
        } else if (item.kind === "zeros") {
          await output.appendZeros(item.count);
          expected.push(...new Uint8Array(item.count));
        } else {
          const offset = Math.min(item.skip, item.bytes.length - 1);
          const source = item.kind === "source" ? new BytesSource(item.bytes) : readOnly(item.bytes);
          await output.appendFrom(source, offset, item.bytes.length - offset);
          expected.push(...item.bytes.subarray(offset));
        }
      }
      await output.flush();
      expect(sink.position).toBe(expected.length);
      expect(Buffer.concat(sink.writes)).toEqual(Buffer.from(expected));
      for (const written of sink.writes.slice(0, -1)) expect(written.length).toBe(chunkBytes);
    }), { numRuns: RUNS });
  });

  it("reports a host file that became shorter after planning", async () => {
    const directory = mkdtempSync(join(tmpdir(), "gptimg-fat-staging-"));
    try {
      const path = join(directory, "victim.efi");
      writeFileSync(path, new Uint8Array(100_000).fill(7));
      const source = new FileSliceSource(path, 0, 100_000, "/EFI/victim.efi");
      truncateSync(path, 60_000);
      await expect(new StagedOutput(new RecordingSink(), 32 * 1024).appendFrom(source, 0, source.size)).rejects.toThrow(/victim\.efi: changed size while gptimg read it/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
