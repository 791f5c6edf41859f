/**
 * Tar input against the directory it was made from: GNU tar, PAX, bsdtar and the gzip/xz/zstd
 * commands are the oracles (they write the archives); treeFromDirectory reads the source
 * directory with lstat. Both must describe the same tree, contents included.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { treeFromDirectory } from "../../lib/tree/from-dir.js";
import { treeFromTar } from "../../lib/tree/from-tar.js";
import { oraclesAvailable, runOk, TRIXIE_TREE_DIR, TRIXIE_TREE_TAR } from "../support/oracles.js";
import { describeTree } from "./describe.js";
import { makeEdgeTree } from "./edge-tree.js";

const haveTrixie = oraclesAvailable("trixie-tree", "zstd", "gzip", "xz");
const haveEdgeTools = oraclesAvailable("root", "tar", "bsdtar", "setfattr", "setcap", "getfattr", "mknod", "gzip", "xz", "zstd");

describe.skipIf(!haveTrixie)("real Debian tree: GNU tar --xattrs --numeric-owner vs the extracted directory", () => {
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-tar-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("yields the identical tree (owners, modes, links, xattrs, mtimes, contents)", async () => {
    const fromDirectory = await describeTree(await treeFromDirectory(TRIXIE_TREE_DIR), { contents: true });
    const fromTar = await describeTree(await treeFromTar(TRIXIE_TREE_TAR), { contents: true });
    expect(fromDirectory.length).toBeGreaterThan(5000);
    expect(fromDirectory.some((line) => line.includes("system.posix_acl_access="))).toBe(true);
    expect(fromTar).toEqual(fromDirectory);
  });

  it("a zstd-compressed copy (zstd command) gives the same tree", async () => {
    const compressed = join(scratch, "tree.tar.zst");
    runOk("zstd", ["-q", "-1", "-T2", TRIXIE_TREE_TAR, "-o", compressed]);
    const plain = await describeTree(await treeFromTar(TRIXIE_TREE_TAR), { contents: true });
    const unzstd = await describeTree(await treeFromTar(compressed, { scratchDirectory: scratch }), { contents: true });
    expect(unzstd).toEqual(plain);
  });
});

describe.skipIf(!haveEdgeTools)("edge-case tree through GNU tar, PAX, bsdtar, gzip, xz, zstd", () => {
  let scratch = "";
  let source = "";
  let expected: string[] = [];
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-edge-"));
    source = join(scratch, "src");
    makeEdgeTree(source);
    expected = await describeTree(await treeFromDirectory(source), { contents: true });
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("the directory reader sees the edge cases", () => {
    const find = (prefix: string): string => expected.find((line) => line.startsWith(prefix)) ?? "";
    expect(find("suid ")).toContain(" 4755 ");
    expect(find("sticky ")).toMatch(/ 1777 .*user\.binary=00ff7f80/);
    expect(find("sgid ")).toContain("security.capability=");
    expect(find("null ")).toContain("chardev 666 0:0 t=");
    expect(find("bigdev ")).toContain("dev=260,70000");
    expect(find("hard-b ")).toContain("file 644 0:0");
    expect(find("setgid-dir/a ")).toBe("setgid-dir/a hardlink→hard-b");
    expect(find("bigowner ")).toContain(" 3000000:3000001 ");
    expect(find("owned ")).toContain("t=1000");
    expect(find("suid ")).toMatch(/ user\.empty-value=$/);
  });

  const gnuTar = (archive: string, ...flags: string[]): void => {
    runOk("tar", [...flags, "--numeric-owner", "-C", source, "-cf", archive, "."]);
  };

  it("GNU tar --xattrs (PAX headers) → identical tree", async () => {
    const archive = join(scratch, "gnu-xattrs.tar");
    gnuTar(archive, "--xattrs", "--xattrs-include=*");
    expect(await describeTree(await treeFromTar(archive), { contents: true })).toEqual(expected);
  });

  it("GNU tar --format=gnu (L/K long names, base-256 ids, no xattrs) → identical tree without xattrs", async () => {
    const archive = join(scratch, "gnu.tar");
    gnuTar(archive, "--format=gnu");
    const withoutXattrs = await describeTree(await treeFromDirectory(source), { contents: true, xattrs: false });
    expect(await describeTree(await treeFromTar(archive), { contents: true, xattrs: false })).toEqual(withoutXattrs);
  });

  it("GNU tar --format=pax → identical tree", async () => {
    const archive = join(scratch, "pax.tar");
    gnuTar(archive, "--format=pax", "--xattrs", "--xattrs-include=*");
    expect(await describeTree(await treeFromTar(archive), { contents: true })).toEqual(expected);
  });

  it("bsdtar (LIBARCHIVE.xattr base64 + SCHILY.xattr) → identical tree", async () => {
    const archive = join(scratch, "bsd.tar");
    runOk("bsdtar", ["--xattrs", "--numeric-owner", "-C", source, "-cf", archive, "."]);
    expect(await describeTree(await treeFromTar(archive), { contents: true })).toEqual(expected);
  });

  it.each([
    ["gzip", ["gzip", "-c"]],
    ["xz", ["xz", "-c", "-T1"]],
    ["zstd", ["zstd", "-c", "-q"]],
  ])("%s-compressed archive (named .bin: the magic decides) → identical tree", async (name, command) => {
    const archive = join(scratch, `for-${name}.tar`);
    gnuTar(archive, "--xattrs", "--xattrs-include=*");
    const compressed = join(scratch, `${name}-archive.bin`);
    runOk("sh", ["-c", `${command.join(" ")} < '${archive}' > '${compressed}'`]);
    expect(await describeTree(await treeFromTar(compressed, { scratchDirectory: scratch }), { contents: true })).toEqual(expected);
  });

  it("a multi-member gzip (two gzip streams concatenated, as pigz/cat produce) → identical tree", async () => {
    const archive = join(scratch, "for-multi.tar");
    gnuTar(archive, "--xattrs", "--xattrs-include=*");
    const compressed = join(scratch, "multi.tar.gz");
    runOk("sh", ["-c", `head -c 1000000 '${archive}' | gzip -c > '${compressed}' && tail -c +1000001 '${archive}' | gzip -c >> '${compressed}'`]);
    expect(await describeTree(await treeFromTar(compressed, { scratchDirectory: scratch }), { contents: true })).toEqual(expected);
  });

  it("GNU tar --acls (SCHILY.acl.* text, numeric ids) → the same system.posix_acl_* xattrs as the directory", async () => {
    const aclSource = join(scratch, "acl-src");
    // Binary ACLs (posix_acl_xattr.h) set directly: user::rw- user:4242:rw- group::r-- group:4343:r-- mask::rw- other::r--
    // on a file, and a default ACL user::rwx user:4242:rwx group::r-x mask::rwx other::r-x on a directory.
    runOk("sh", ["-euc", `
      mkdir -p '${aclSource}/dir' && touch '${aclSource}/file' '${aclSource}/plain'
      setfattr -n system.posix_acl_access -v 0x0200000001000600ffffffff020006009210000004000400ffffffff08000400f710000010000600ffffffff20000400ffffffff '${aclSource}/file'
      setfattr -n system.posix_acl_default -v 0x0200000001000700ffffffff020007009210000004000500ffffffff10000700ffffffff20000500ffffffff '${aclSource}/dir'
    `]);
    const archive = join(scratch, "acls.tar");
    runOk("tar", ["--acls", "--numeric-owner", "-C", aclSource, "-cf", archive, "."]);
    const fromDirectory = await describeTree(await treeFromDirectory(aclSource));
    expect(fromDirectory.find((line) => line.startsWith("file "))).toContain("system.posix_acl_access=0200");
    expect(await describeTree(await treeFromTar(archive))).toEqual(fromDirectory);
  });

  it("SOURCE_DATE_EPOCH clamps mtimes from a tar", async () => {
    const archive = join(scratch, "clamp.tar");
    gnuTar(archive);
    const tree = await describeTree(await treeFromTar(archive, { sourceDateEpoch: 500 }), { xattrs: false });
    for (const line of tree) {
      const mtime = /t=(-?\d+)/.exec(line)?.[1];
      if (mtime !== undefined) expect(Number(mtime)).toBeLessThanOrEqual(500);
    }
    expect(tree.find((line) => line.startsWith("empty "))).toContain("t=0");
  });
});
