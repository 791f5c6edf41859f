/**
 * A build that fails while streaming leaves no output file: the input changed under us.
 */
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isGptimgError } from "../../../lib/core/errors.js";
import { planErofs } from "../../../lib/formats/erofs/plan.js";
import { writeErofs } from "../../../lib/formats/erofs/write.js";
import { FileSliceSource } from "../../../lib/io/source.js";
import { writeAtomically } from "../../../lib/io/sink.js";
import { OffsetSink } from "../../../lib/io/stream.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";

/** Plans `sizeBytes` of file data, shrinks the file to `shrunkBytes`, then writes: must fail cleanly. */
async function writeShrunkInput(sizeBytes: number, shrunkBytes: number): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), "gptimg-erofs-write-"));
  try {
    const input = join(directory, "input.bin");
    writeFileSync(input, new Uint8Array(sizeBytes).fill(7));
    const builder = new TreeBuilder();
    builder.addFile("data/input.bin", { mode: 0o644, uid: 0, gid: 0, mtime: 0, xattrs: [] }, new FileSliceSource(input, 0, sizeBytes));
    const plan = planErofs(builder.build(), { uuid: "11111111-2222-4333-8444-555555555555" });
    truncateSync(input, shrunkBytes);
    const output = join(directory, "out.erofs");
    let caught: unknown;
    try {
      await writeAtomically(output, plan.sizeBytes, (sink) => writeErofs(plan, new OffsetSink(sink, 0, plan.sizeBytes, "erofs")));
    } catch (error) {
      caught = error;
    }
    expect(isGptimgError(caught), String(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/input\.bin: changed size while gptimg read it/);
    expect((caught as Error).message).not.toContain("\n");
    expect(existsSync(output)).toBe(false);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

describe("writeErofs failure handling", () => {
  it("an input file that shrinks after planning fails with a one-line GptimgError and no output", async () => {
    await writeShrunkInput(3 * 4096 + 10, 4096);
  });

  it("the same for a large file read over several output chunks", async () => {
    await writeShrunkInput(5 * 1024 * 1024 + 10, 2 * 1024 * 1024);
  });
});
