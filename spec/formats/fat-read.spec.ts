/**
 * readFatTree against an independent writer (mkfs.fat + mtools `mcopy -s`, FAT12/16/32), against
 * gptimg's own writer (FAT32 ESP-like trees, also accepted by `fsck.fat -n`, and re-written
 * byte for byte), and against damaged images, which must fail with a GptimgError, never hang.
 */
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isGptimgError } from "../../lib/core/errors.js";
import { readFatTree } from "../../lib/formats/fat/read.js";
import { planFat, type FatPlan } from "../../lib/formats/fat/plan.js";
import { longNameProblem } from "../../lib/formats/fat/names.js";
import { BytesSource, FileSliceSource } from "../../lib/io/source.js";
import { walkTree, type DirNode } from "../../lib/tree/tree.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";
import { contentOf, shape, specOf, type Shape } from "./fat/arbitraries.js";
import { buildTree, fsckFat, removeDir, scratchDir, writeImage } from "./fat/support.js";

const RUNS = Number(process.env.GPTIMG_FC_RUNS ?? 25);
const HOST_MTIME = 1_700_000_000;
const MTOOLS_ENV = { ...process.env, LC_ALL: "C.UTF-8", TZ: "UTC", MTOOLS_SKIP_CHECK: "1" };
const dir = scratchDir("read");
afterAll(() => removeDir(dir));
let counter = 0;

/** Every path → contents (null for directories), each file read in `chunkBytes` pieces that straddle clusters. */
async function treeContents(root: DirNode, chunkBytes: number): Promise<Map<string, Uint8Array | null>> {
  const out = new Map<string, Uint8Array | null>();
  for (const { path, node } of walkTree(root)) {
    if (path === "") continue;
    if (node.kind === "dir") {
      out.set(path, null);
      continue;
    }
    expect(node.kind).toBe("file");
    if (node.kind !== "file") continue;
    const bytes = new Uint8Array(node.size);
    for (let offset = 0; offset < node.size; offset += chunkBytes) bytes.set(await node.content.read(offset, Math.min(chunkBytes, node.size - offset)), offset);
    out.set(path, bytes);
  }
  return out;
}

function withParents(spec: ReadonlyMap<string, Uint8Array | null>): Map<string, Uint8Array | null> {
  const expected = new Map(spec);
  for (const path of spec.keys()) for (let cut = path.indexOf("/"); cut > 0; cut = path.indexOf("/", cut + 1)) if (!expected.has(path.slice(0, cut))) expected.set(path.slice(0, cut), null);
  return expected;
}

function expectSameContents(actual: Map<string, Uint8Array | null>, spec: ReadonlyMap<string, Uint8Array | null>): void {
  const expected = withParents(spec);
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [path, content] of expected) {
    if (content === null) expect(actual.get(path), path).toBeNull();
    else expect(Buffer.compare(Buffer.from(actual.get(path)!), Buffer.from(content)), `contents of ${path}`).toBe(0);
  }
}

/**
 * mtools 4.0.32 cannot store characters outside the BMP, strips leading and trailing spaces,
 * for some names with "~" ("aaaaaaa~a") writes a short name with NUL bytes and a long name whose
 * checksum does not match (fsck.fat: "Bad short file name"), and copies a host file named "-"
 * from stdin, so oracle trees avoid all four.
 */
function mtoolsSafe(root: Shape): Shape {
  const fix = (name: string) => {
    const mapped = name.replace(/[\u{10000}-\u{10FFFF}]/gu, "e").replaceAll("~", "_").trim();
    return ["", ".", "..", "-"].includes(mapped) || longNameProblem(mapped) !== undefined ? "n" : mapped;
  };
  return { files: root.files.map(([name, size, seed]) => [fix(name), size, seed]), dirs: root.dirs.map(([name, child]) => [fix(name), mtoolsSafe(child)]) };
}

/** mkfs.fat geometry for a volume of `sizeBytes` holding `contentBytes`: the cluster size keeps the count inside the type's range. */
function mkfsArguments(fatType: 12 | 16 | 32, contentBytes: number): { sizeKiB: number; sectorsPerCluster: number } {
  const needed = contentBytes * 1.3 + 2 * 1024 * 1024;
  if (fatType === 32) return { sizeKiB: Math.ceil(Math.max(needed, 40 * 1024 * 1024) / 1024), sectorsPerCluster: 1 };
  // FAT12 < 4085 clusters, FAT16 ≥ 4087 and < 65525: aim for ~3000 / ~30000.
  const target = fatType === 12 ? 3000 : 30000;
  let sectorsPerCluster = 1;
  while (sectorsPerCluster < 64 && needed / (512 * sectorsPerCluster) > target) sectorsPerCluster *= 2;
  const sizeBytes = Math.max(needed, (fatType === 16 ? 8000 : 200) * 512 * sectorsPerCluster);
  return { sizeKiB: Math.ceil(sizeBytes / 1024), sectorsPerCluster };
}

/** Writes `spec` to a host directory (fixed mtimes) and copies it into a fresh mkfs.fat volume with mtools. */
function mtoolsImage(spec: ReadonlyMap<string, Uint8Array | null>, fatType: 12 | 16 | 32, name: string): string {
  const hostRoot = join(dir, `${name}-src`);
  const image = join(dir, `${name}.img`);
  mkdirSync(hostRoot);
  let contentBytes = 0;
  for (const [path, content] of spec) {
    if (content === null) mkdirSync(join(hostRoot, path), { recursive: true });
    else {
      mkdirSync(join(hostRoot, path, ".."), { recursive: true });
      writeFileSync(join(hostRoot, path), content);
      utimesSync(join(hostRoot, path), HOST_MTIME, HOST_MTIME);
      contentBytes += content.length + 4096;
    }
  }
  const { sizeKiB, sectorsPerCluster } = mkfsArguments(fatType, contentBytes);
  runOk("mkfs.fat", ["-C", "-F", String(fatType), "-s", String(sectorsPerCluster), "-n", "ORACLE", image, String(sizeKiB)]);
  const topLevel = [...withParents(spec).keys()].filter((path) => !path.includes("/")).map((path) => join(hostRoot, path));
  if (topLevel.length > 0) runOk("mcopy", ["-s", "-m", "-i", image, ...topLevel, "::/"], { env: MTOOLS_ENV });
  removeDir(hostRoot);
  return image;
}

function imageSource(image: string): FileSliceSource {
  return new FileSliceSource(image, 0, readFileSync(image).length, image);
}

describe.skipIf(!oraclesAvailable("mkfs.fat", "mcopy"))("readFatTree on volumes made by mkfs.fat and mtools", () => {
  it("random trees (unicode, case variants, long names, 0 B to 3 MiB, nesting) read back exactly, FAT12/16/32", async () => {
    await fc.assert(fc.asyncProperty(shape, fc.constantFrom<12 | 16 | 32>(12, 16, 32), fc.integer({ min: 97, max: 70000 }), async (root, fatType, chunkBytes) => {
      const spec = specOf(mtoolsSafe(root));
      // FAT12/16 roots hold 512 entries (mkfs.fat default), long names take several.
      fc.pre(fatType === 32 || [...spec.keys()].filter((path) => !path.includes("/")).length < 100);
      const image = mtoolsImage(spec, fatType, `oracle-${counter++}`);
      const tree = await readFatTree(imageSource(image), image);
      expectSameContents(await treeContents(tree, chunkBytes), spec);
      for (const { path, node } of walkTree(tree)) {
        expect(node.meta.mode, path).toBe(node.kind === "dir" ? 0o755 : 0o644);
        if (node.kind === "file") expect(node.meta.mtime, `mtime of ${path} (mcopy -m, TZ=UTC)`).toBe(HOST_MTIME);
      }
      removeDir(image);
    }), { numRuns: RUNS * 2, seed: Number(process.env["GPTIMG_FC_SEED"] ?? 20_261_122) });
  });

  it("a fragmented file and deleted entries: mdel every other file, then a large file fills the holes", async () => {
    const spec = new Map<string, Uint8Array | null>();
    for (let index = 0; index < 12; index++) spec.set(`small-${index}.bin`, contentOf(3000 + index, index));
    const image = mtoolsImage(spec, 16, "fragmented");
    for (let index = 0; index < 12; index += 2) {
      runOk("mdel", ["-i", image, `::/small-${index}.bin`], { env: MTOOLS_ENV });
      spec.delete(`small-${index}.bin`);
    }
    const big = contentOf(200_000, 99);
    const bigPath = join(dir, "Big File.efi");
    writeFileSync(bigPath, big);
    runOk("mcopy", ["-i", image, bigPath, "::/Big File.efi"], { env: MTOOLS_ENV });
    spec.set("Big File.efi", big);
    const tree = await readFatTree(imageSource(image), image);
    expectSameContents(await treeContents(tree, 777), spec);
    // The chain really is fragmented: mtools filled the freed holes first.
    expect(runOk("mshowfat", ["-i", image, "::/Big File.efi"], { env: MTOOLS_ENV })).toMatch(/<\d+-\d+>\s*<\d+-\d+>/);
  });
});

/** ESP-like trees: the fixed boot files and UKIs of the given sizes next to a random tree. */
function espSpec(root: Shape, ukiSizes: readonly number[]): Map<string, Uint8Array | null> {
  const spec = specOf(root);
  spec.set("EFI/BOOT/BOOTX64.EFI", contentOf(150_000, 1));
  spec.set("EFI/systemd/systemd-bootx64.efi", contentOf(150_000, 1));
  spec.set("loader/loader.conf", new TextEncoder().encode("timeout 3\n"));
  ukiSizes.forEach((size, index) => spec.set(`EFI/Linux/debian-6.12.${index}+1-2.efi`, contentOf(size, index + 7)));
  return spec;
}

/** What a FAT timestamp keeps of an mtime: 1980 at the earliest, even seconds (time.ts). */
const FAT_EPOCH = Date.UTC(1980, 0, 1) / 1000;
const fatMtime = (mtime: number) => Math.max(FAT_EPOCH, mtime - (mtime % 2));

describe.skipIf(!oraclesAvailable("fsck.fat"))("readFatTree on gptimg's own FAT32 ESPs", () => {
  it("random ESP trees: fsck.fat -n is clean, the tree (names, contents, times) reads back, and re-writing it gives the same bytes", async () => {
    const ukiSizes = fc.array(fc.integer({ min: 0, max: 2_000_000 }), { minLength: 1, maxLength: 3 });
    await fc.assert(fc.asyncProperty(shape, ukiSizes, fc.constantFrom<512 | 4096>(512, 512, 4096), async (root, sizes, sectorSize) => {
      const spec = espSpec(root, sizes);
      const image = join(dir, `own-${counter++}.img`);
      const original = buildTree(spec);
      const plan = planFat({ tree: original, sectorSize, label: "ESP", volumeId: 0x1234abcd });
      await writeImage(plan, image);
      const fsck = fsckFat(image);
      expect(fsck.status, fsck.output).toBe(0);
      const tree = await readFatTree(imageSource(image), image);
      expectSameContents(await treeContents(tree, 65536 + 3), spec);
      const originalMeta = new Map([...walkTree(original)].map(({ path, node }) => [path, node.meta]));
      for (const { path, node } of walkTree(tree)) {
        const given = originalMeta.get(path)!;
        expect(node.meta, path).toEqual({ ...given, mode: node.kind === "dir" ? 0o755 : 0o644, mtime: fatMtime(given.mtime) });
      }
      const again = `${image}.again`;
      await writeImage(planFat({ tree, sectorSize, label: "ESP", volumeId: 0x1234abcd }), again);
      expect(Buffer.compare(readFileSync(again), readFileSync(image)), "re-written image is byte-identical").toBe(0);
      removeDir(image);
      removeDir(again);
    }), { numRuns: Math.max(1, Math.ceil(RUNS / 2)) });
  });
});

interface DamageFixture {
  readonly bytes: Uint8Array;
  readonly plan: FatPlan;
  clusterOf(path: string): number;
  /** Sets FAT entry `cluster` of the first FAT in `target` (a copy of `bytes`). */
  setFat(target: Uint8Array, cluster: number, value: number): void;
}

/** A small volume from gptimg's writer with a subdirectory and a 3-cluster file, for targeted damage. */
async function damageFixture(fatType: 12 | 16 | 32): Promise<DamageFixture> {
  const spec = new Map<string, Uint8Array | null>([["sub/inner.txt", contentOf(10, 3)]]);
  const clusterBytes = planFat({ tree: buildTree(spec), sectorSize: 512, fatType, label: "DAMAGE", volumeId: 1 }).geometry.clusterSizeBytes;
  spec.set("three.bin", contentOf(clusterBytes * 3, 5));
  const plan = planFat({ tree: buildTree(spec), sectorSize: 512, fatType, label: "DAMAGE", volumeId: 1 });
  const image = join(dir, `damage-${fatType}.img`);
  await writeImage(plan, image);
  const bytes = new Uint8Array(readFileSync(image));
  removeDir(image);
  const fatOffset = plan.geometry.reservedSectors * 512;
  return {
    bytes,
    plan,
    clusterOf: (path) => plan.runs.find((run) => (run.kind === "file" ? run.path : run.directory.path) === path)!.firstCluster,
    setFat(target, cluster, value) {
      const data = new DataView(target.buffer, target.byteOffset);
      if (fatType === 32) data.setUint32(fatOffset + cluster * 4, value, true);
      else if (fatType === 16) data.setUint16(fatOffset + cluster * 2, value, true);
      else {
        // Two 12-bit entries share three bytes, the even one in the low bits.
        const at = fatOffset + Math.floor((cluster * 3) / 2);
        const pair = data.getUint16(at, true);
        data.setUint16(at, cluster % 2 === 0 ? (pair & 0xf000) | value : (pair & 0x000f) | (value << 4), true);
      }
    },
  };
}

async function readAllFiles(bytes: Uint8Array): Promise<void> {
  await treeContents(await readFatTree(new BytesSource(bytes), "esp.img"), 1 << 20);
}

async function expectImageError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const error = await readAllFiles(bytes).then(() => undefined, (caught: unknown) => caught);
  expect(isGptimgError(error), String(error)).toBe(true);
  expect((error as Error).message).toMatch(/^esp\.img: /);
  expect((error as Error).message).not.toContain("\n");
  expect((error as Error).message).toMatch(pattern);
}

describe("readFatTree on damaged volumes", () => {
  for (const fatType of [12, 16, 32] as const) {
    it(`FAT${fatType}: loops, out-of-range clusters, short chains, a directory cycle, a bad BPB and truncation are image errors`, async () => {
      const end = fatType === 12 ? 0xfff : fatType === 16 ? 0xffff : 0x0fffffff;
      const fixture = await damageFixture(fatType);
      const { clusterOf, setFat, plan } = fixture;
      const three = clusterOf("three.bin");
      const cases: [string, (bytes: Uint8Array) => void, RegExp][] = [
        ["file loop", (bytes) => setFat(bytes, three + 1, three), /\/three\.bin: cluster \d+ is used twice/],
        ["directory loop", (bytes) => setFat(bytes, clusterOf("sub"), clusterOf("sub")), /\/sub: cluster \d+ is used twice/],
        ["out of range", (bytes) => setFat(bytes, three, plan.geometry.clusterCount + 2), /\/three\.bin: cluster \d+ is outside the data area/],
        ["free cluster in a chain", (bytes) => setFat(bytes, three, 0), /\/three\.bin: cluster 0 is outside the data area/],
        ["short chain", (bytes) => setFat(bytes, three, end), /\/three\.bin: the cluster chain ends after 1 of 3 clusters/],
        ["directory cycle", (bytes) => {
          // sub/inner.txt becomes a directory whose cluster is sub's own.
          const entry = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf("INNER   TXT", 0, "latin1");
          const data = new DataView(bytes.buffer, bytes.byteOffset);
          bytes[entry + 11] = 0x10;
          data.setUint16(entry + 20, clusterOf("sub") >>> 16, true);
          data.setUint16(entry + 26, clusterOf("sub") & 0xffff, true);
        }, /\/sub\/inner\.txt: cluster \d+ is used twice/],
        ["bad sector size", (bytes) => { bytes[11] = 1; bytes[12] = 2; }, /BPB_BytsPerSec is 513/],
        ["no signature", (bytes) => { bytes[510] = 0; }, /boot signature/],
      ];
      await readAllFiles(fixture.bytes);
      for (const [label, damage, pattern] of cases) {
        const bytes = fixture.bytes.slice();
        damage(bytes);
        await expectImageError(bytes, pattern).catch((error: Error) => { throw new Error(`${label}: ${error.message}`); });
      }
      await expectImageError(fixture.bytes.subarray(0, fixture.bytes.length - 512), /truncated/);
      await expectImageError(fixture.bytes.subarray(0, 100), /too small/);
    });
  }

  it("fuzzed and truncated volumes: success or a GptimgError, never another exception or a hang", async () => {
    const fixtures = await Promise.all(([12, 16, 32] as const).map(async (fatType) => {
      const { bytes, plan } = await damageFixture(fatType);
      return { bytes, metadataBytes: plan.geometry.firstDataSector * 512 + 8 * plan.geometry.clusterSizeBytes };
    }));
    const mutation = fc.record({
      fixture: fc.integer({ min: 0, max: fixtures.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }),
      keepFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 4 }),
    });
    let failures = 0;
    await fc.assert(fc.asyncProperty(mutation, async ({ fixture, edits, keepFraction }) => {
      const { bytes: original, metadataBytes } = fixtures[fixture]!;
      // Edited in place and restored: the FAT32 volume is 33 MiB, too large to copy per run.
      const saved = edits.map(([position]) => [position % metadataBytes, original[position % metadataBytes]!] as const);
      for (const [position, value] of edits) original[position % metadataBytes] = value;
      const damaged = keepFraction === null ? original : original.subarray(0, Math.floor(original.length * keepFraction));
      const error = await readAllFiles(damaged).then(() => undefined, (caught: unknown) => caught);
      for (const [position, value] of saved.reverse()) original[position] = value;
      if (error !== undefined) failures++;
      expect(error === undefined || isGptimgError(error), String((error as Error | undefined)?.stack)).toBe(true);
    }), { numRuns: RUNS * 40 });
    expect(failures, "some mutations are detected").toBeGreaterThan(0);
  });
});
