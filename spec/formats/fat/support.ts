/** Test helpers for the FAT writer: trees from plain descriptions, images on disk, oracle runs. */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planFat, type FatOptions, type FatPlan } from "../../../lib/formats/fat/plan.js";
import { writeFat } from "../../../lib/formats/fat/write.js";
import { BytesSource, FileSliceSource } from "../../../lib/io/source.js";
import { FileSink } from "../../../lib/io/sink.js";
import { OffsetSink } from "../../../lib/io/stream.js";
import { TreeBuilder, DEFAULT_DIR_META } from "../../../lib/tree/builder.js";
import type { DirNode, Meta } from "../../../lib/tree/tree.js";
import { expect } from "vitest";
import { run } from "../../support/oracles.js";

export const FILE_META: Meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, xattrs: [] };

/** A tree description: path → file contents (Uint8Array) or null for a directory. */
export type TreeSpec = ReadonlyMap<string, Uint8Array | null>;

export function buildTree(spec: TreeSpec): DirNode {
  const builder = new TreeBuilder({ ...DEFAULT_DIR_META, mtime: 1_600_000_000 });
  for (const [path, content] of spec) {
    if (content === null) builder.addDirectory(path, { ...DEFAULT_DIR_META, mtime: 1_650_000_000 });
    else builder.addFile(path, FILE_META, new BytesSource(content, `inline:${path}`));
  }
  return builder.build();
}

/** Test-only: a tree from a host directory (files and directories only), streamed from disk. */
export function treeFromHostDir(root: string): DirNode {
  const builder = new TreeBuilder();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const stat = statSync(join(root, path));
      const meta: Meta = { mode: stat.mode & 0o7777, uid: 0, gid: 0, mtime: Math.floor(stat.mtimeMs / 1000), xattrs: [] };
      if (stat.isDirectory()) {
        builder.addDirectory(path, meta);
        walk(path);
      } else builder.addFile(path, meta, new FileSliceSource(join(root, path), 0, stat.size));
    }
  };
  walk("");
  return builder.build();
}

export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gptimg-fat-${prefix}-`));
}

export async function writeImage(plan: FatPlan, path: string): Promise<void> {
  const sink = await FileSink.create(path, plan.sizeBytes);
  try {
    await writeFat(plan, new OffsetSink(sink, 0, plan.sizeBytes, path));
  } finally {
    await sink.close();
  }
}

export async function buildImage(options: FatOptions, path: string): Promise<FatPlan> {
  const plan = planFat(options);
  await writeImage(plan, path);
  return plan;
}

/** fsck.fat -n (check only, never repair): exit status and everything it printed. */
export function fsckFat(image: string): { status: number | null; output: string } {
  const result = run("fsck.fat", ["-n", image]);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Extracts the whole volume with mtools (UTF-8 locale, so long names are decoded, not mangled; -m keeps mtimes, read as UTC). */
export function mcopyExtract(image: string, target: string): { status: number | null; output: string } {
  mkdirSync(target, { recursive: true });
  const result = run("mcopy", ["-s", "-n", "-m", "-i", image, "::*", `${target}/`], { env: { ...process.env, LC_ALL: "C.UTF-8", TZ: "UTC", MTOOLS_SKIP_CHECK: "1" } });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Every path under `root` → contents (null for directories), for comparing with a TreeSpec. */
export function readHostTree(root: string): Map<string, Uint8Array | null> {
  const out = new Map<string, Uint8Array | null>();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(root, relative))) {
      const path = relative === "" ? name : `${relative}/${name}`;
      if (statSync(join(root, path)).isDirectory()) {
        out.set(path, null);
        walk(path);
      } else out.set(path, new Uint8Array(readFileSync(join(root, path))));
    }
  };
  walk("");
  return out;
}

export function removeDir(path: string): void {
  rmSync(path, { recursive: true, force: true });
}


/** mtools 4.0.x writes each UTF-16 surrogate as "_". */
function mtoolsName(path: string): string {
  return path.replace(/[\u{10000}-\u{10FFFF}]/gu, "__");
}

function expectSameTree(actual: Map<string, Uint8Array | null>, given: TreeSpec, label: string): void {
  // Parent directories a spec leaves implicit exist in the image too.
  const expected = new Map(given);
  for (const path of given.keys()) for (let cut = path.indexOf("/"); cut > 0; cut = path.indexOf("/", cut + 1)) if (!expected.has(path.slice(0, cut))) expected.set(path.slice(0, cut), null);
  const sorted = (map: ReadonlyMap<string, Uint8Array | null>) => [...map.keys()].sort();
  expect(sorted(actual), `${label}: paths`).toEqual(sorted(expected));
  for (const [path, content] of expected) {
    const got = actual.get(path);
    if (content === null) expect(got, `${label}: ${path} is a directory`).toBeNull();
    else expect(Buffer.compare(Buffer.from(got ?? []), Buffer.from(content)), `${label}: contents of ${path}`).toBe(0);
  }
}

/** Runs all oracles on an image built from `spec`. */
export function checkWithOracles(image: string, spec: TreeSpec, workDir: string): void {
  const fsck = fsckFat(image);
  expect(fsck.status, fsck.output).toBe(0);
  const extra = fsck.output.split("\n").filter((line) => line.trim() !== "" && !/^fsck\.fat \d/.test(line) && !/^Checking we can access/.test(line) && !/: \d+ files, \d+\/\d+ clusters$/.test(line));
  expect(extra, "fsck.fat -n reports nothing to fix").toEqual([]);

  const sevenZipOut = join(workDir, "7z");
  const sevenZip = run("7zz", ["x", "-y", `-o${sevenZipOut}`, image]);
  expect(sevenZip.status, sevenZip.stdout + sevenZip.stderr).toBe(0);
  expectSameTree(readHostTree(sevenZipOut), spec, "7zz");

  const mtoolsSpec = new Map<string, Uint8Array | null>();
  for (const [path, content] of spec) mtoolsSpec.set(mtoolsName(path), content);

  const mcopyOut = join(workDir, "mcopy");
  const mcopy = mcopyExtract(image, mcopyOut);
  expect(mcopy.status, mcopy.output).toBe(0);
  // When the "_" mapping makes two names equal, mtools cannot tell them apart; 7-Zip checked them.
  if (mtoolsSpec.size === spec.size) expectSameTree(readHostTree(mcopyOut), mtoolsSpec, "mcopy");
}

