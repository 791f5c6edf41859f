/**
 * Property: for random small trees, bsdcpio extracts our archive to a directory whose tree
 * (read back with treeFromDirectory) equals the source tree, and GNU cpio lists the same
 * paths in the same order.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeCpio } from "../../../lib/formats/cpio/write.js";
import { MemorySink } from "../../../lib/io/stream.js";
import { treeFromDirectory } from "../../../lib/tree/from-dir.js";
import { walkTree } from "../../../lib/tree/tree.js";
import { oraclesAvailable, runOk } from "../../support/oracles.js";
import { describeTree } from "../../tree/describe.js";
import { randomTree } from "../../tree/random-tree.js";

const runs = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);
const haveTools = oraclesAvailable("root", "cpio", "bsdcpio");

describe.skipIf(!haveTools)("random trees through cpio", () => {
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-cpio-prop-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("bsdcpio -idm extracts exactly the source tree; GNU cpio -t lists it", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(randomTree, async (tree) => {
        run++;
        const sink = new MemorySink();
        await writeCpio(tree, sink);
        const archivePath = join(scratch, `run-${run}.cpio`);
        writeFileSync(archivePath, sink.bytes());
        const listed = runOk("cpio", ["-t", "--quiet", "-F", archivePath]).split("\n").slice(0, -1);
        expect(listed).toEqual([...walkTree(tree)].map(({ path }) => (path === "" ? "." : path)));
        const target = join(scratch, `out-${run}`);
        mkdirSync(target);
        runOk("sh", ["-c", `cd '${target}' && bsdcpio -idm --quiet < '${archivePath}'`]);
        const extracted = await describeTree(await treeFromDirectory(target, { xattrs: false }), { contents: true });
        const expected = await describeTree(tree, { contents: true });
        expect(extracted.slice(1)).toEqual(expected.slice(1));
        rmSync(target, { recursive: true, force: true });
        rmSync(archivePath);
      }),
      { numRuns: runs },
    );
  });
});
