/**
 * Inputs users can get wrong fail with one-line GptimgErrors naming the field or path, and a
 * failed build leaves no output file (not even the temporary one).
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptimgError } from "../../../lib/core/errors.js";
import { buildSquashfsFile, type SquashfsOptions } from "../../../lib/formats/squashfs/write.js";
import { treeFromDirectory } from "../../../lib/tree/from-dir.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { BytesSource } from "../../../lib/io/source.js";
import type { DirNode } from "../../../lib/tree/tree.js";

async function failure(promise: Promise<unknown>): Promise<GptimgError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(GptimgError);
  const message = (error as GptimgError).message;
  expect(message).not.toContain("\n");
  return error as GptimgError;
}

describe("squashfs bad input", () => {
  let scratch: string;
  const smallTree = (): DirNode => {
    const builder = new TreeBuilder();
    builder.addFile("hello", { mode: 0o644, uid: 0, gid: 0, mtime: 0, xattrs: [] }, new BytesSource(new Uint8Array(10)));
    return builder.build();
  };

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-bad-"));
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const expectNoOutput = (path: string): void => {
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(scratch).filter((name) => name.includes("gptimg-tmp"))).toEqual([]);
  };

  const badOptions: [string, Partial<SquashfsOptions> & Record<string, unknown>, RegExp][] = [
    ["a block size that is not a power of two", { blockSize: 100_000 }, /squashfs\.blockSize: 100000 is not a power of two from 4096 to 1048576/],
    ["a block size above 1 MiB", { blockSize: 2 * 1024 * 1024 }, /squashfs\.blockSize/],
    ["a block size below 4 KiB", { blockSize: 2048 }, /squashfs\.blockSize/],
    ["an unsupported compression", { compression: "lzo" }, /squashfs\.compression: "lzo" is not supported; use gzip, zstd or none/],
    ["a gzip level out of range", { compression: "gzip", compressionLevel: 12 }, /squashfs\.compressionLevel: compression level 12 is outside 1\.\.9 for gzip/],
    ["a zero concurrency", { concurrency: 0 }, /squashfs\.concurrency/],
  ];
  for (const [what, options, message] of badOptions) {
    it(`rejects ${what}`, async () => {
      const output = join(scratch, "bad-options.sqfs");
      const error = await failure(buildSquashfsFile(smallTree(), { concurrency: 1, ...options } as SquashfsOptions, output));
      expect(error.message).toMatch(message);
      expectNoOutput(output);
    });
  }

  for (const change of ["grows", "shrinks"] as const) {
    it(`rejects a file that ${change} after the tree was read, leaving no output`, async () => {
      const source = join(scratch, `source-${change}`);
      rmSync(source, { recursive: true, force: true });
      mkdirSync(source);
      const victim = join(source, "victim");
      writeFileSync(victim, new Uint8Array(300_000).fill(7));
      const tree = await treeFromDirectory(source, { xattrs: false });
      if (change === "grows") appendFileSync(victim, "more");
      else truncateSync(victim, 1000);
      const output = join(scratch, `changed-${change}.sqfs`);
      const error = await failure(buildSquashfsFile(tree, { concurrency: 2 }, output));
      expect(error.message).toMatch(/victim: changed size while gptimg read it/);
      expectNoOutput(output);
    });
  }

  it("rejects a name longer than 256 bytes", async () => {
    const builder = new TreeBuilder();
    builder.addFile("x".repeat(257), { mode: 0o644, uid: 0, gid: 0, mtime: 0, xattrs: [] }, new BytesSource(new Uint8Array(1)));
    const output = join(scratch, "long-name.sqfs");
    const error = await failure(buildSquashfsFile(builder.build(), { concurrency: 1 }, output));
    expect(error.message).toMatch(/name is 257 bytes, squashfs allows 1\.\.256/);
    expectNoOutput(output);
  });
});
