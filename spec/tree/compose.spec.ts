/**
 * buildPartitionTree and the tree transformations. The merge of several copyFiles sources is
 * checked against GNU tar extracting the same archives one after another into one directory
 * (the "later wins" oracle); the rest are rule tests with hand-made trees.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptimgError } from "../../lib/core/errors.js";
import { BytesSource } from "../../lib/io/source.js";
import { TreeBuilder } from "../../lib/tree/builder.js";
import { buildPartitionTree } from "../../lib/tree/compose.js";
import { treeFromDirectory } from "../../lib/tree/from-dir.js";
import { checkCaseCollisions, compileGlob } from "../../lib/tree/transform.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";
import { describeTree } from "./describe.js";

const META = { mode: 0o644, uid: 0, gid: 0, mtime: 0, xattrs: [] };
const haveTar = oraclesAvailable("root", "tar");

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(GptimgError);
  const message = (error as GptimgError).message;
  expect(message).not.toContain("\n");
  return message;
}

describe("composition", () => {
  let base = "";
  let scratch = "";
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), "gptimg-compose-"));
    scratch = join(base, ".scratch");
    mkdirSync(scratch);
    const sh = (script: string): void => void runOk("sh", ["-euc", script], { cwd: base });
    sh(`
      mkdir -p one/etc/conf.d one/usr/bin one/tmp/junk one/keep/sub two/etc two/usr/bin
      printf one > one/etc/hostname; printf a > one/etc/conf.d/a; printf ls > one/usr/bin/ls; chmod 755 one/usr/bin/ls
      printf junk > one/tmp/junk/x; printf k > one/keep/sub/file; printf top > one/keep/top
      ln one/usr/bin/ls one/usr/bin/dir
      printf two > two/etc/hostname; printf cat > two/usr/bin/cat; chmod 2750 two/etc
      touch -d @2000000000 two/usr/bin/cat
      printf host > hostfile
      tar --numeric-owner -C one -cf one.tar . && tar --numeric-owner -C two -cf two.tar .
    `);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it.skipIf(!haveTar)("copyFiles merges later-wins exactly like GNU tar extracting the archives in order", async () => {
    const extracted = join(base, "extracted");
    mkdirSync(extracted);
    runOk("sh", ["-euc", `tar --numeric-owner -C '${extracted}' -xpf one.tar && tar --numeric-owner -C '${extracted}' -xpf two.tar`], { cwd: base });
    const composed = await buildPartitionTree({ copyFiles: ["one.tar:/", "two.tar"] }, base, { scratchDirectory: scratch });
    const oracle = await treeFromDirectory(extracted, { xattrs: false });
    expect(await describeTree(composed, { contents: true })).toEqual(await describeTree(oracle, { contents: true }));
  });

  it("directories, DST placement, repart's always-excluded contents, excludes, makeDirectories, entries", async () => {
    const tree = await buildPartitionTree(
      {
        copyFiles: ["one", "two:/", `${base}/hostfile:/opt/`, "two/etc:/srv/etc2"],
        excludeFiles: ["etc/conf.d/", "keep/top"],
        excludeFilesTarget: ["srv/etc2/hostname"],
        makeDirectories: ["var/lib/machines", "etc"],
        entries: [
          { path: "etc/motd", type: "file", content: "hi\n", mode: 0o600 },
          { path: "etc/from-host", type: "file", contentFrom: "hostfile" },
          { path: "bin", type: "symlink", target: "usr/bin" },
          { path: "empty", type: "dir", mode: 0o700, uid: 7 },
        ],
        xattrs: false,
      },
      base,
      { scratchDirectory: scratch, sourceDateEpoch: 1_500_000_000 },
    );
    const lines = await describeTree(tree, { contents: true });
    const line = (path: string): string => lines.find((entry) => entry.startsWith(`${path} `)) ?? `(missing ${path})`;
    expect(line("etc")).toMatch(/^etc dir 2750 /);
    expect(line("etc/hostname")).toContain("size=3");
    expect(line("etc/conf.d")).toMatch(/^etc\/conf\.d dir /);
    expect(lines.some((entry) => entry.startsWith("etc/conf.d/"))).toBe(false);
    expect(line("tmp")).toMatch(/^tmp dir /);
    expect(lines.some((entry) => entry.startsWith("tmp/"))).toBe(false);
    expect(line("keep/top")).toBe("(missing keep/top)");
    expect(line("keep/sub/file")).toContain("size=1");
    expect(line("usr/bin/ls")).toBe("usr/bin/ls hardlink→usr/bin/dir");
    expect(line("usr/bin/cat")).toContain("t=1500000000");
    expect(line("opt/hostfile")).toContain("size=4");
    expect(line("srv/etc2")).toMatch(/^srv\/etc2 dir 2750 /);
    expect(line("srv/etc2/hostname")).toBe("(missing srv/etc2/hostname)");
    expect(line("var/lib/machines")).toBe("var/lib/machines dir 755 0:0 t=1500000000");
    expect(line("var")).toBe("var dir 755 0:0 t=1500000000");
    expect(line("etc/motd")).toMatch(/^etc\/motd file 600 0:0 t=1500000000 size=3 /);
    expect(line("etc/from-host")).toContain("size=4");
    expect(line("bin")).toBe("bin symlink 777 0:0 t=1500000000 →usr/bin");
    expect(line("empty")).toBe("empty dir 700 7:0 t=1500000000");
    for (const entry of lines) expect(Number(/t=(\d+)/.exec(entry)?.[1] ?? 0)).toBeLessThanOrEqual(1_500_000_000);
  });

  it("overrides by glob (later wins), allRootOwned, and consistent hardlinks", async () => {
    const tree = await buildPartitionTree(
      {
        copyFiles: ["one.tar"],
        allRootOwned: true,
        overrides: [
          { path: "usr/bin/*", mode: 0o4755 },
          { path: "/etc/**", uid: 100, gid: 101 },
          { path: "etc/hostname", mode: 0o600 },
        ],
      },
      base,
      { scratchDirectory: scratch },
    );
    const lines = await describeTree(tree, { mtimes: false });
    expect(lines).toContain("usr/bin/dir file 4755 0:0 size=2");
    expect(lines).toContain("usr/bin/ls hardlink→usr/bin/dir");
    expect(lines).toContain("usr/bin dir 755 0:0");
    expect(lines).toContain("etc/hostname file 600 100:101 size=3");
    expect(lines).toContain("etc/conf.d dir 755 100:101");
    const conflict = await refusal(buildPartitionTree({ copyFiles: ["one.tar"], overrides: [{ path: "usr/bin/ls", mode: 0o700 }] }, base, { scratchDirectory: scratch }));
    expect(conflict).toMatch(/hardlinked paths "usr\/bin\/dir" and "usr\/bin\/ls"/);
  });

  it("refuses sources that leave the spec directory, also through symlinks, and paths through tree symlinks", async () => {
    symlinkSync("/etc", join(base, "escape"));
    symlinkSync("../..", join(base, "one/up"));
    expect(await refusal(buildPartitionTree({ copyFiles: ["escape/passwd:/x"] }, base, { scratchDirectory: scratch }))).toMatch(/symlink .*escape → "\/etc" points outside/);
    expect(await refusal(buildPartitionTree({ copyFiles: ["../outside:/"] }, base, { scratchDirectory: scratch }))).toMatch(/"\.\.\/outside" leaves/);
    expect(await refusal(buildPartitionTree({ copyFiles: ["one/up/x:/"] }, base, { scratchDirectory: scratch }))).toMatch(/one\/up → "\.\.\/\.\." points outside/);
    expect(
      await refusal(buildPartitionTree({ entries: [{ path: "lib", type: "symlink", target: "/usr/lib" }, { path: "lib/modules/x", type: "file", content: "" }] }, base, { scratchDirectory: scratch })),
    ).toMatch(/entries\[1\] "lib\/modules\/x": "lib" is a symlink, not a directory/);
    expect(await refusal(buildPartitionTree({ entries: [{ path: "../x", type: "file", content: "" }] }, base, { scratchDirectory: scratch }))).toMatch(/leaves the tree/);
    expect(await refusal(buildPartitionTree({ copyFiles: ["one:/"], entries: [{ path: "etc", type: "file", content: "" }] }, base, { scratchDirectory: scratch }))).toMatch(
      /entries\[0\] "etc".*would replace a non-empty directory/,
    );
    rmSync(join(base, "one/up"));
  });

  it("inline files need exactly one content source", async () => {
    writeFileSync(join(base, "x"), "");
    expect(await refusal(buildPartitionTree({ entries: [{ path: "a", type: "file" }] }, base, { scratchDirectory: scratch }))).toMatch(/entries\[0\] "a": a file needs exactly one/);
  });
});

describe("globs and FAT case collisions", () => {
  it("globs: * stays in a component, ** spans them", () => {
    expect(compileGlob("usr/bin/*").test("usr/bin/ls")).toBe(true);
    expect(compileGlob("usr/bin/*").test("usr/bin/x/y")).toBe(false);
    expect(compileGlob("usr/bin/*").test("usr/bin")).toBe(false);
    expect(compileGlob("/usr/**").test("usr/a/b/c")).toBe(true);
    expect(compileGlob("a?c.[x]").test("abc.[x]")).toBe(true);
  });

  const treeWith = (paths: string[]) => {
    const builder = new TreeBuilder();
    for (const path of paths) builder.addFile(path, META, new BytesSource(new Uint8Array(0)));
    return builder.build();
  };

  it("names equal ignoring case in one directory are refused, naming both", () => {
    expect(() => checkCaseCollisions(treeWith(["EFI/Boot/BOOTX64.EFI", "EFI/Boot/bootx64.efi"]), "esp")).toThrow(/esp: "EFI\/Boot\/BOOTX64\.EFI" and "EFI\/Boot\/bootx64\.efi" differ only in case/);
    expect(() => checkCaseCollisions(treeWith(["Ä/é", "Ä/É"]))).toThrow(/"Ä\/É" and "Ä\/é"/);
  });

  it("the same name in different directories, and ß vs SS, are fine", () => {
    expect(() => checkCaseCollisions(treeWith(["x/README", "y/readme", "b/ß", "b/SS"]))).not.toThrow();
  });
});
