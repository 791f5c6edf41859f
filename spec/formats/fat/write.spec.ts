/**
 * FAT writer: ESP-shaped trees (non-ASCII names, label and volume ID seen by mtools), automatic
 * sizing above repart's ESP minimum, bad input, and determinism.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isGptimgError } from "../../../lib/core/errors.js";
import { planFat, type FatOptions } from "../../../lib/formats/fat/plan.js";
import { writeFat } from "../../../lib/formats/fat/write.js";
import { BytesSource, ZeroSource } from "../../../lib/io/source.js";
import { MemorySink } from "../../../lib/io/stream.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import { TRIXIE_ROOT, oraclesAvailable, run, runInTrixie } from "../../support/oracles.js";
import { FILE_META, buildImage, buildTree, checkWithOracles, fsckFat, removeDir, scratchDir, treeFromHostDir, writeImage } from "./support.js";

const MiB = 1024 * 1024;
const ESP_MIN_512 = 100 * MiB;

function pseudoRandom(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed;
  for (let index = 0; index < size; index += 4) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[index] = state & 0xff;
    bytes[index + 1] = (state >>> 8) & 0xff;
    bytes[index + 2] = (state >>> 16) & 0xff;
    bytes[index + 3] = state >>> 24;
  }
  return bytes;
}

const ESP_SPEC = new Map<string, Uint8Array | null>([
  ["EFI", null],
  ["EFI/BOOT", null],
  ["EFI/BOOT/BOOTX64.EFI", pseudoRandom(180_000, 1)],
  ["EFI/systemd/systemd-bootx64.efi", pseudoRandom(120_000, 2)],
  ["EFI/Linux/debian-6.12.0-ñandú+ü.efi", pseudoRandom(2 * MiB + 17, 3)],
  ["EFI/Linux/Überprüfung 中文 😀.efi", pseudoRandom(4097, 4)],
  ["loader/loader.conf", new TextEncoder().encode("timeout 3\neditor no\n")],
  ["loader/entries/Ωmega.conf", new TextEncoder().encode("title Ωmega\n")],
  ["loader/random-seed", new Uint8Array(32)],
]);

function errorOf(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

describe.skipIf(!oraclesAvailable("fsck.fat", "mcopy", "minfo", "7zz"))("FAT writer: ESP trees", () => {
  const dir = scratchDir("esp");
  afterAll(() => removeDir(dir));

  it("an ESP with non-ASCII names round-trips at repart's 100 MiB minimum; mtools sees label and volume ID", async () => {
    const image = join(dir, "esp.img");
    const plan = await buildImage({ tree: buildTree(ESP_SPEC), sectorSize: 512, label: "esp", volumeId: 0x5739c63f, minSizeBytes: ESP_MIN_512 }, image);
    expect(plan.sizeBytes).toBe(ESP_MIN_512);
    checkWithOracles(image, ESP_SPEC, join(dir, "esp"));
    // Timestamps come from the tree (UTC): mcopy -m restores them.
    expect(statSync(join(dir, "esp", "mcopy", "loader/loader.conf")).mtimeMs / 1000).toBe(FILE_META.mtime);
    const info = run("minfo", ["-i", image, "::"]);
    expect(info.status, info.stderr).toBe(0);
    // formats.md §2.1: seed 01234567-89ab-… gives ESP volume id 5739-C63F, label "ESP".
    expect(info.stdout).toMatch(/serial number: 5739C63F/);
    expect(info.stdout).toMatch(/disk label="ESP {8}"/);
    expect(info.stdout).toMatch(/disk type="FAT32   "/);
    expect(info.stdout).toMatch(/free clusters=(\d+)/);
    expect(Number(/free clusters=(\d+)/.exec(info.stdout)![1])).toBe(plan.freeClusters);
    const listing = run("mdir", ["-i", image, "::"], { env: { ...process.env, LC_ALL: "C.UTF-8" } });
    expect(listing.stdout).toMatch(/Volume in drive : is ESP/);
    expect(listing.stdout).toMatch(/Volume Serial Number is 5739-C63F/);
  });

  it("4096-byte sectors at repart's 260 MiB minimum", async () => {
    const image = join(dir, "esp4k.img");
    const plan = await buildImage({ tree: buildTree(ESP_SPEC), sectorSize: 4096, label: "esp", volumeId: 7, minSizeBytes: 260 * MiB }, image);
    expect(plan.sizeBytes).toBe(260 * MiB);
    expect(plan.geometry.clusterSizeBytes).toBe(4096);
    checkWithOracles(image, ESP_SPEC, join(dir, "esp4k"));
  });

  it("a tree larger than the minimum ESP gets the smallest size that fits (mkfs.fat + mcopy at 100 MiB: disk full)", async () => {
    const spec = new Map<string, Uint8Array | null>();
    for (let index = 0; index < 12; index++) spec.set(`EFI/Linux/uki-${index}.efi`, pseudoRandom(10 * MiB + index * 4099, index + 10));
    for (let index = 0; index < 300; index++) spec.set(`loader/entries/entry with a long name ${index}.conf`, pseudoRandom(index * 13, index));
    const tree = buildTree(spec);
    const image = join(dir, "big.img");
    const plan = await buildImage({ tree, sectorSize: 512, label: "esp", volumeId: 1, minSizeBytes: ESP_MIN_512 }, image);
    expect(plan.sizeBytes).toBeGreaterThan(ESP_MIN_512);
    expect(plan.sizeBytes % 4096).toBe(0);
    expect(plan.freeClusters).toBeGreaterThanOrEqual(0);
    checkWithOracles(image, spec, join(dir, "big"));
    const fsck = fsckFat(image);
    const [, used, total] = /(\d+)\/(\d+) clusters/.exec(fsck.output)!;
    expect(Number(used)).toBeLessThanOrEqual(Number(total));
    // One grain less does not fit, and the message names the size we chose.
    const smaller = errorOf(() => planFat({ tree, sectorSize: 512, label: "esp", volumeId: 1, sizeBytes: plan.sizeBytes - 4096 }));
    expect(smaller.message).toContain(`needs at least ${plan.sizeBytes} bytes`);

    // What repart does without a hand-set size: mkfs.vfat -F 32 at the 100 MiB minimum, then mcopy.
    const hostTree = join(dir, "host-tree");
    for (const [path, content] of spec) {
      mkdirSync(dirname(join(hostTree, path)), { recursive: true });
      if (content) writeFileSync(join(hostTree, path), content);
    }
    const theirs = join(dir, "mkfs.img");
    writeFileSync(theirs, new Uint8Array(0));
    expect(run("truncate", ["-s", String(ESP_MIN_512), theirs]).status).toBe(0);
    expect(run("mkfs.fat", ["-F", "32", "-i", "1", "-n", "ESP", theirs]).status).toBe(0);
    const mcopy = run("mcopy", ["-s", "-p", "-Q", "-m", "-i", theirs, join(hostTree, "EFI"), join(hostTree, "loader"), "::"], { env: { ...process.env, LC_ALL: "C.UTF-8" } });
    expect(mcopy.status).not.toBe(0);
    expect(mcopy.stdout + mcopy.stderr).toMatch(/Disk full/i);
  });

  it("stores each name of a hardlinked file as its own copy (FAT has no links)", async () => {
    const builder = new TreeBuilder();
    const content = pseudoRandom(5000, 77);
    builder.addFile("EFI/Linux/a.efi", FILE_META, new BytesSource(content));
    builder.addHardlink("loader/b.efi", "EFI/Linux/a.efi");
    const image = join(dir, "links.img");
    const plan = planFat({ tree: builder.build(), sectorSize: 512, label: "esp", volumeId: 3 });
    await writeImage(plan, image);
    checkWithOracles(image, new Map([["EFI/Linux/a.efi", content], ["loader/b.efi", content]]), join(dir, "links"));
  });

  it("is deterministic: same bytes twice, and from host files as from memory", async () => {
    const hostTree = join(dir, "det-tree");
    for (const [path, content] of ESP_SPEC) {
      mkdirSync(dirname(join(hostTree, path)), { recursive: true });
      if (content) writeFileSync(join(hostTree, path), content);
    }
    const options = (tree: FatOptions["tree"]): FatOptions => ({ tree, sectorSize: 512, label: "esp", volumeId: 9, minSizeBytes: 40 * MiB });
    const hash = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
    await buildImage(options(treeFromHostDir(hostTree)), join(dir, "det-1.img"));
    await buildImage(options(treeFromHostDir(hostTree)), join(dir, "det-2.img"));
    expect(hash(join(dir, "det-1.img"))).toBe(hash(join(dir, "det-2.img")));
    // Same tree from in-memory sources (other chunking, other mtimes) differs only by timestamps:
    // with the host mtimes copied over, the bytes are identical too.
    const sink = new MemorySink();
    const plan = planFat(options(treeFromHostDir(hostTree)));
    await writeFat(plan, sink);
    expect(createHash("sha256").update(sink.bytes()).digest("hex")).toBe(hash(join(dir, "det-1.img")));
  });
});

describe.skipIf(!oraclesAvailable("trixie", "fsck.fat"))("FAT writer vs systemd-repart v257 (trixie chroot)", () => {
  it("a tree repart cannot fit in its automatic ESP size (mcopy: Disk full) is sized automatically by us", async () => {
    mkdirSync(join(TRIXIE_ROOT, "tmp"), { recursive: true });
    const work = mkdtempSync(join(TRIXIE_ROOT, "tmp", "gptimg-fat-repart-"));
    try {
      const spec = new Map<string, Uint8Array | null>();
      for (let index = 0; index < 12; index++) spec.set(`EFI/Linux/uki-${index}.efi`, pseudoRandom(10 * MiB, index + 100));
      for (const [path, content] of spec) {
        mkdirSync(dirname(join(work, "tree", path)), { recursive: true });
        writeFileSync(join(work, "tree", path), content!);
      }
      const inside = `/${relative(TRIXIE_ROOT, work)}`;
      mkdirSync(join(work, "defs"));
      writeFileSync(join(work, "defs", "00-esp.conf"), `[Partition]\nType=esp\nFormat=vfat\nCopyFiles=${inside}/tree:/\n`);
      const repart = runInTrixie("systemd-repart", ["--empty=create", "--size=auto", "--dry-run=no", "--offline=yes", "--seed=01234567-89ab-cdef-0123-456789abcdef", `--definitions=${inside}/defs`, `${inside}/disk.img`]);
      expect(repart.status).not.toBe(0);
      expect(repart.stdout + repart.stderr).toMatch(/Disk full/);

      const image = join(work, "ours.img");
      const plan = await buildImage({ tree: buildTree(spec), sectorSize: 512, label: "esp", volumeId: 0x5739c63f, minSizeBytes: ESP_MIN_512 }, image);
      expect(plan.sizeBytes).toBeGreaterThan(ESP_MIN_512);
      checkWithOracles(image, spec, join(work, "check"));
    } finally {
      removeDir(work);
    }
  });
});

describe("FAT writer: bad input is a one-line GptimgError", () => {
  const base = { sectorSize: 512 as const, label: "esp", volumeId: 1 };
  const oneLine = (error: Error) => {
    expect(isGptimgError(error)).toBe(true);
    expect(error.message).not.toContain("\n");
  };

  it("names both paths of a case-insensitive collision", () => {
    const tree = buildTree(new Map([["EFI/Linux/Arch.efi", new Uint8Array(1)], ["EFI/Linux/ARCH.EFI", new Uint8Array(2)]]));
    const error = errorOf(() => planFat({ ...base, tree }));
    oneLine(error);
    expect(error.message).toContain("/EFI/Linux/ARCH.EFI");
    expect(error.message).toContain("/EFI/Linux/Arch.efi");
    expect(error.message).toContain("case");
  });

  it("says how many bytes a fixed-size volume would need", () => {
    const tree = buildTree(new Map([["big.bin", new Uint8Array(120 * MiB)]]));
    const error = errorOf(() => planFat({ ...base, tree, sizeBytes: ESP_MIN_512 }));
    oneLine(error);
    expect(error.message).toMatch(/too small.*needs at least \d+ bytes \(\d+(\.\d)? MiB\)/);
    const needed = Number(/needs at least (\d+) bytes/.exec(error.message)![1]);
    expect(planFat({ ...base, tree, sizeBytes: needed }).sizeBytes).toBe(needed);
  });

  it("rejects a FAT32 volume below 65525 clusters, symlinks, files of 4 GiB, bad names and huge directories", () => {
    const small = errorOf(() => planFat({ ...base, tree: buildTree(new Map()), sizeBytes: 16 * MiB }));
    oneLine(small);
    expect(small.message).toMatch(/65525 clusters/);

    const withLink = new TreeBuilder();
    withLink.addSymlink("EFI/link", FILE_META, "target");
    const link = errorOf(() => planFat({ ...base, tree: withLink.build() }));
    oneLine(link);
    expect(link.message).toContain("/EFI/link is a symlink");
    expect(planFat({ ...base, tree: withLink.build(), unsupported: "skip" }).root.entries[0]!.directory!.entries).toHaveLength(0);

    const huge = new TreeBuilder();
    huge.addFile("huge.img", FILE_META, new ZeroSource(4 * 1024 * MiB));
    const tooBig = errorOf(() => planFat({ ...base, tree: huge.build() }));
    oneLine(tooBig);
    expect(tooBig.message).toContain("/huge.img is 4294967296 bytes");

    for (const name of ["a:b", "what?", "dot.", "x".repeat(256)]) {
      const bad = errorOf(() => planFat({ ...base, tree: buildTree(new Map([[`dir/${name}`, new Uint8Array(1)]])) }));
      oneLine(bad);
      expect(bad.message).toContain(`/dir/${name.slice(0, 20)}`);
    }

    const wide = new Map<string, Uint8Array | null>();
    for (let index = 0; index < 13200; index++) wide.set(`wide/a name of exactly forty characters ${String(index).padStart(5, "0")}`, new Uint8Array(0));
    const tooWide = errorOf(() => planFat({ ...base, tree: buildTree(wide) }));
    oneLine(tooWide);
    expect(tooWide.message).toMatch(/directory \/wide needs \d+ directory entries; FAT allows 65536/);
  });
});
