/**
 * A non-default compression level is recorded in a compressor options block after the
 * superblock, as mksquashfs -Xcompression-level does; unsquashfs -s reports it and still
 * extracts the contents. Default levels write no options block.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildSquashfsFile } from "../../../lib/formats/squashfs/write.js";
import { BytesSource } from "../../../lib/io/source.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { oraclesAvailable, runOk } from "../../support/oracles.js";
import { seededBytes } from "./support/synthetic-tree.js";

const available = oraclesAvailable("unsquashfs");
const content = seededBytes(300_000, 9);

describe.skipIf(!available)("squashfs compressor options", () => {
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-compopt-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const tree = () => {
    const builder = new TreeBuilder();
    builder.addFile("data", { mode: 0o644, uid: 0, gid: 0, mtime: 0, xattrs: [] }, new BytesSource(content));
    return builder.build();
  };

  const cases: { compression: "gzip" | "zstd"; level: number | undefined; shows: RegExp }[] = [
    { compression: "gzip", level: 6, shows: /Compression gzip\n\tcompression-level 6\n\twindow-size 15\n/ },
    { compression: "zstd", level: 3, shows: /Compression zstd\n\tcompression-level 3\n/ },
    { compression: "gzip", level: undefined, shows: /Compression gzip\nBlock size 131072\n/ },
  ];
  for (const { compression, level, shows } of cases) {
    it(`${compression} level ${level ?? "default"}: unsquashfs -s shows it and extraction works`, async () => {
      const image = join(scratch, `${compression}-${level ?? "default"}.sqfs`);
      await buildSquashfsFile(tree(), { compression, compressionLevel: level, concurrency: 1 }, image);
      expect(runOk("unsquashfs", ["-s", image])).toMatch(shows);
      const target = join(scratch, `out-${compression}-${level ?? "default"}`);
      runOk("unsquashfs", ["-no-progress", "-d", target, image]);
      expect(new Uint8Array(readFileSync(join(target, "data")))).toEqual(content);
    });
  }
});
