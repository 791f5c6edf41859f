/** Test helpers for the FAT writer: trees from plain descriptions, images on disk, oracle runs. */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planFat, type FatOptions, type FatPlan } from "../../../lib/formats/fat/plan.js";
import { writeFat } from "../../../lib/formats/fat/write.js";
import { BytesSource, FileSliceSource } from "../../../lib/io/source.js";
import { FileSink } from "../../../lib/io/sink.js";
import { OffsetSink } from "../../../lib/io/stream.js";
import { TreeBuilder, DEFAULT_DIR_META } from "../../../lib/tree/builder.js";
import type { DirNode, Meta } from "../../../lib/tree/tree.js";
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

/** fsck.fat -n -v: returns exit status and output; a clean volume exits 0 with nothing to fix. */
export function fsckFat(image: string): { status: number | null; output: string } {
  const result = run("fsck.fat", ["-n", "-v", image]);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Lines of fsck output that report a problem (anything after the summary header that is not the usual chatter). */
export function fsckProblems(output: string): string[] {
  const benign = [/^fsck\.fat \d/, /^Checking we can access/, /^Boot sector contents:/, /^System ID/, /^Media byte/, /^\s*\d+ bytes per logical sector/, /^\s*\d+ bytes per cluster/, /^\s*\d+ reserved sectors?/, /^First FAT starts at/, /^\s*\d+ FATs?, \d+ bit entries/, /^\s*\d+ bytes per FAT/, /^Root directory st/, /^\s*\d+ root directory entries/, /^Data area starts at/, /^\s*\d+ data clusters/, /^\s*\d+ sectors total/, /^\s*\d+ sectors\/track, \d+ heads/, /^\s*\d+ hidden sectors/, /^Volume ID is/, /^Volume label is/, /^Checking file/, /^Checking for bad clusters/, /^Checking for unused clusters/, /^Checking free cluster summary/, /^Reclaiming unconnected clusters/, /^Starting check\/repair pass/, /^Checking for (unused|bad)/, /^Starting verification pass/, /^[^ ]+: \d+ files, \d+\/\d+ clusters$/, /^\s*$/, /^Root directory starts at cluster/, /^Backup boot sector/];
  return output.split("\n").filter((line) => !benign.some((pattern) => pattern.test(line)));
}

/** Extracts the whole volume with mtools (UTF-8 locale, so long names are decoded, not mangled). */
export function mcopyExtract(image: string, target: string): { status: number | null; output: string } {
  mkdirSync(target, { recursive: true });
  const result = run("mcopy", ["-s", "-n", "-m", "-i", image, "::*", `${target}/`], { env: { ...process.env, LC_ALL: "C.UTF-8", MTOOLS_SKIP_CHECK: "1" } });
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

export { writeFileSync };
