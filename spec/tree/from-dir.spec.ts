/**
 * treeFromDirectory options and refusals. (Its agreement with GNU tar on a real Debian tree
 * and on the edge-case tree is in from-tar.spec.ts.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptimgError } from "../../lib/core/errors.js";
import { treeFromDirectory } from "../../lib/tree/from-dir.js";
import { oraclesAvailable, run, runOk } from "../support/oracles.js";
import { describeTree } from "./describe.js";

const haveTools = oraclesAvailable("root", "python3", "mount", "setfattr");

describe.skipIf(!haveTools)("treeFromDirectory", () => {
  let root = "";
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "gptimg-fromdir-"));
    runOk("sh", ["-euc", `
      mkdir -p src/proc/1 src/tmp/t src/var/tmp/v src/run/r src/etc src/mnt/other
      printf x > src/proc/1/status; printf y > src/tmp/t/f; printf z > src/var/tmp/v/f; printf w > src/etc/os-release
      chown 1000:1000 src/etc/os-release && touch -d @1700000000 src/etc/os-release
      setfattr -n user.note -v kept src/etc/os-release
      mount -t tmpfs -o size=1m gptimg-test src/mnt/other && printf hidden > src/mnt/other/secret
    `], { cwd: root });
  });
  afterAll(() => {
    run("umount", [join(root, "src/mnt/other")]);
    rmSync(root, { recursive: true, force: true });
  });

  it("does not descend into another file system, keeping the mount point", async () => {
    const lines = await describeTree(await treeFromDirectory(join(root, "src")));
    expect(lines.some((line) => line.startsWith("mnt/other dir "))).toBe(true);
    expect(lines.some((line) => line.startsWith("mnt/other/"))).toBe(false);
  });

  it("repartExclusions keeps proc/sys/dev/run/tmp/var/tmp but not their contents", async () => {
    const lines = (await describeTree(await treeFromDirectory(join(root, "src"), { repartExclusions: true }))).map((line) => line.split(" ")[0]);
    expect(lines).toEqual(expect.arrayContaining(["proc", "tmp", "var/tmp", "run", "etc/os-release"]));
    expect(lines.filter((path) => /^(proc|tmp|var\/tmp|run)\//.test(path!))).toEqual([]);
    const all = (await describeTree(await treeFromDirectory(join(root, "src")))).map((line) => line.split(" ")[0]);
    expect(all).toContain("proc/1/status");
  });

  it("allRootOwned, sourceDateEpoch and xattrs", async () => {
    const owned = await describeTree(await treeFromDirectory(join(root, "src"), { allRootOwned: true, sourceDateEpoch: 1_600_000_000 }));
    const release = owned.find((line) => line.startsWith("etc/os-release "))!;
    expect(release).toMatch(/ 0:0 t=1600000000 size=1 user\.note=6b657074$/);
    const plain = await describeTree(await treeFromDirectory(join(root, "src"), { xattrs: false }));
    expect(plain.find((line) => line.startsWith("etc/os-release "))).toMatch(/ 1000:1000 t=1700000000 size=1$/);
  });

  it("the root may be given through a symlink; its xattrs and contents are the directory's", async () => {
    runOk("ln", ["-sfn", join(root, "src/etc"), join(root, "etc-link")]);
    const lines = await describeTree(await treeFromDirectory(join(root, "etc-link")));
    expect(lines.find((line) => line.startsWith("os-release "))).toContain("user.note=");
  });

  it("refuses a name that is not UTF-8, naming it", async () => {
    const bad = join(root, "bad");
    mkdirSync(bad);
    runOk("python3", ["-c", "import os,sys; open(os.path.join(sys.argv[1].encode(), b'caf\\xe9'), 'w').close()", bad]);
    const error = await treeFromDirectory(bad).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(GptimgError);
    expect((error as Error).message).toMatch(/bad\/caf.: name is not valid UTF-8/);
  });

  it("keeps a name with a real U+FFFD (which Node's UTF-8 decoding also gives for invalid bytes)", async () => {
    const directory = join(root, "replacement");
    mkdirSync(directory);
    writeFileSync(join(directory, "a\uFFFDb"), "x");
    writeFileSync(join(directory, "plain"), "y");
    const tree = await treeFromDirectory(directory, { xattrs: false });
    expect(tree.entries.map((entry) => [...entry.nameBytes])).toEqual([[0x61, 0xef, 0xbf, 0xbd, 0x62], [...Buffer.from("plain")]]);
  });

  it("says what to install when getfattr is missing", async () => {
    const directory = join(root, "plain");
    mkdirSync(directory);
    writeFileSync(join(directory, "f"), "");
    const savedPath = process.env["PATH"];
    process.env["PATH"] = "/nonexistent";
    try {
      await expect(treeFromDirectory(directory)).rejects.toThrow(/needs getfattr.*install the "attr" package or set xattrs: false/);
    } finally {
      process.env["PATH"] = savedPath;
    }
  });
});
