/**
 * Regression: decompressing tar.zst input and compressing with zstd share one WebAssembly
 * instance per thread (lib/compress/zstd.ts). With the earlier zstd package, a second
 * instantiation left malloc on one instance and the heap views on another, and every later
 * zstd call failed; any mix of the two directions in one process must keep working.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadZstdCodec } from "../../lib/compress/zstd.js";
import { treeFromTar } from "../../lib/tree/from-tar.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";
import { describeTree } from "./describe.js";

const haveTools = oraclesAvailable("tar", "zstd");

describe.skipIf(!haveTools)("zstd input and zstd output in one process", () => {
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-zstd-init-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("tar.zst input, then zstd compression, then tar.zst input again all work", async () => {
    runOk("sh", ["-euc", `mkdir -p src && head -c 3000000 /dev/urandom > src/random && printf hi > src/small && tar -C src -cf a.tar . && zstd -q a.tar -o a.tar.zst`], { cwd: scratch });
    const first = await describeTree(await treeFromTar(join(scratch, "a.tar.zst"), { scratchDirectory: scratch }), { contents: true });
    const codec = await loadZstdCodec();
    writeFileSync(join(scratch, "block.zst"), codec.compress(new Uint8Array(100_000).fill(7), 3));
    expect(runOk("sh", ["-c", `zstd -dc '${join(scratch, "block.zst")}' | wc -c`]).trim()).toBe("100000");
    const again = await describeTree(await treeFromTar(join(scratch, "a.tar.zst"), { scratchDirectory: scratch }), { contents: true });
    expect(again).toEqual(first);
  });
});
