/**
 * SOURCE_DATE_EPOCH: mtimes after it are clamped to it, earlier ones kept, and it becomes the
 * superblock's mkfs time; without it the mkfs time is 0 (reproducible). Read back by
 * unsquashfs (-mkfs-time, -lln -UTC).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildSquashfsFile } from "../../../lib/formats/squashfs/write.js";
import { BytesSource } from "../../../lib/io/source.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { oraclesAvailable, runOk } from "../../support/oracles.js";

const available = oraclesAvailable("unsquashfs");

describe.skipIf(!available)("squashfs times", () => {
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-sqfs-time-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const tree = () => {
    const builder = new TreeBuilder({ mode: 0o755, uid: 0, gid: 0, mtime: 86_400, xattrs: [] });
    builder.addFile("old", { mode: 0o644, uid: 0, gid: 0, mtime: 60, xattrs: [] }, new BytesSource(new Uint8Array(1)));
    builder.addFile("new", { mode: 0o644, uid: 0, gid: 0, mtime: 2_000_000_000, xattrs: [] }, new BytesSource(new Uint8Array(1)));
    return builder.build();
  };

  it("clamps to SOURCE_DATE_EPOCH and records it as the mkfs time", async () => {
    const image = join(scratch, "clamped.sqfs");
    await buildSquashfsFile(tree(), { concurrency: 1, sourceDateEpoch: 1_000_000_000 }, image);
    expect(runOk("unsquashfs", ["-mkfs-time", image]).trim()).toBe("1000000000");
    const listing = runOk("unsquashfs", ["-lln", "-UTC", image]);
    expect(listing).toMatch(/ 1970-01-01 00:01 squashfs-root\/old\n/);
    expect(listing).toMatch(/ 2001-09-09 01:46 squashfs-root\/new\n/);
    expect(listing).toMatch(/ 1970-01-02 00:00 squashfs-root\n/);
  });

  it("uses mkfs time 0 and keeps mtimes without SOURCE_DATE_EPOCH", async () => {
    const image = join(scratch, "plain.sqfs");
    await buildSquashfsFile(tree(), { concurrency: 1 }, image);
    expect(runOk("unsquashfs", ["-mkfs-time", image]).trim()).toBe("0");
    expect(runOk("unsquashfs", ["-lln", "-UTC", image])).toMatch(/ 2033-05-18 03:33 squashfs-root\/new\n/);
  });
});
