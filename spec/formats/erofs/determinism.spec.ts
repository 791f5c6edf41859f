/**
 * Same input ⇒ same bytes: independent of write chunking, of how many inline tails the writer
 * keeps in memory, of the order the tree was built in, of the number of compression workers,
 * and of repeated runs.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8 } from "../../../lib/core/bytes.js";
import { compressErofsFiles, type ErofsCompressedData } from "../../../lib/formats/erofs/compress.js";
import { planErofs } from "../../../lib/formats/erofs/plan.js";
import { writeErofs, type WriteErofsOptions } from "../../../lib/formats/erofs/write.js";
import { BytesSource, ZeroSource } from "../../../lib/io/source.js";
import type { SequentialSink } from "../../../lib/io/stream.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import type { DirNode } from "../../../lib/tree/tree.js";
import { buildRecipe, EPOCH, pattern, treeRecipeArbitrary } from "./support/arbitrary-tree.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);
const UUID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0";

/** Hashes everything written and records write sizes, so chunking differences are visible. */
class HashingSink implements SequentialSink {
  position = 0;
  readonly writeSizes = new Set<number>();
  private readonly hash = createHash("sha256");
  async write(bytes: Uint8Array): Promise<void> {
    this.hash.update(bytes);
    this.writeSizes.add(bytes.length);
    this.position += bytes.length;
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

async function imageDigest(tree: DirNode, options: WriteErofsOptions = {}, compressed?: ErofsCompressedData): Promise<{ digest: string; sink: HashingSink }> {
  const plan = planErofs(tree, { uuid: UUID, label: "determinism", sourceDateEpoch: EPOCH, ...(compressed ? { compressed } : {}) });
  const sink = new HashingSink();
  await writeErofs(plan, sink, options);
  expect(sink.position).toBe(plan.sizeBytes);
  return { digest: sink.digest(), sink };
}

describe("erofs determinism", () => {
  it("random trees: chunk size, tail stash size and build order do not change a byte", async () => {
    await fc.assert(
      fc.asyncProperty(treeRecipeArbitrary, fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 0, max: 20_000 }), async (recipe, chunkBytes, tailStashBytes) => {
        const reference = await imageDigest(buildRecipe(recipe));
        expect((await imageDigest(buildRecipe(recipe, true), { chunkBytes, tailStashBytes })).digest).toBe(reference.digest);
      }),
      { numRuns: RUNS },
    );
  });

  it("a 64 MiB file and a multi-block directory under very different chunkings", async () => {
    const builder = new TreeBuilder();
    builder.addFile("big/zeros", { mode: 0o644, uid: 0, gid: 0, mtime: EPOCH, xattrs: [] }, new ZeroSource(64 * 1024 * 1024 + 123));
    for (let index = 0; index < 1500; index++) {
      builder.addFile(`dir/file-${index}`, { mode: 0o600, uid: index, gid: 0, mtime: EPOCH - index, xattrs: [{ name: "user.i", value: utf8(String(index % 3)) }] }, new BytesSource(pattern(index * 7, index)));
    }
    const tree = builder.build();
    const digests = new Set<string>();
    for (const chunkBytes of [4096, 65_537, 1 << 20, 8 << 20]) {
      const { digest, sink } = await imageDigest(tree, { chunkBytes, tailStashBytes: chunkBytes * 2 });
      expect(Math.max(...sink.writeSizes)).toBeLessThanOrEqual(Math.max(chunkBytes, 4096));
      digests.add(digest);
    }
    expect(digests.size).toBe(1);
  });

  it("compressed (lz4, deflate, zstd): the same bytes for 1, 2 and 8 workers and any chunking", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "gptimg-erofs-determinism-"));
    try {
      await fc.assert(
        fc.asyncProperty(treeRecipeArbitrary, fc.constantFrom("lz4" as const, "deflate" as const, "zstd" as const), fc.constantFrom(8192, 65536), fc.integer({ min: 1, max: 70_000 }), async (recipe, algorithm, pclusterBytes, chunkBytes) => {
          const digests = new Set<string>();
          for (const [concurrency, reverse] of [[1, false], [2, true], [8, false]] as const) {
            const tree = buildRecipe(recipe, reverse);
            const compressed = await compressErofsFiles(tree, { algorithm, pclusterBytes }, { concurrency, spoolPath: join(scratch, `spool-${concurrency}`) });
            digests.add((await imageDigest(tree, concurrency === 2 ? { chunkBytes } : {}, compressed)).digest);
          }
          expect(digests.size).toBe(1);
        }),
        { numRuns: Math.max(1, Math.floor(RUNS / 5)) },
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
