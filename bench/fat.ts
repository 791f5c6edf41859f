/**
 * FAT compose of a 200 MiB ESP-like tree (a few large UKIs, many small loader files) from a host
 * directory: planFat + writeFat into a sparse file, against what repart runs — `mkfs.fat -F 32`
 * on a file of the same size plus `mcopy -s -p -Q -m` of the tree. Best of a few rounds each.
 * Target: our time ≤ 0.5 × theirs.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planFat } from "../lib/formats/fat/plan.js";
import { writeFat } from "../lib/formats/fat/write.js";
import { FileSink } from "../lib/io/sink.js";
import { FileSliceSource } from "../lib/io/source.js";
import { OffsetSink } from "../lib/io/stream.js";
import { TreeBuilder } from "../lib/tree/builder.js";
import type { DirNode } from "../lib/tree/tree.js";

const MiB = 1024 * 1024;
const ROUNDS = 3;

function writeSampleTree(root: string): void {
  let state = 12345;
  const bytes = (size: number) => {
    const out = Buffer.allocUnsafe(size);
    for (let index = 0; index < size; index += 4) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out.writeUInt32LE(state, index);
    }
    return out;
  };
  mkdirSync(join(root, "EFI/Linux"), { recursive: true });
  mkdirSync(join(root, "EFI/BOOT"), { recursive: true });
  mkdirSync(join(root, "loader/entries"), { recursive: true });
  for (let index = 0; index < 16; index++) writeFileSync(join(root, `EFI/Linux/linux-6.12.${index}-generic.efi`), bytes(12 * MiB));
  writeFileSync(join(root, "EFI/BOOT/BOOTX64.EFI"), bytes(160 * 1024));
  for (let index = 0; index < 400; index++) writeFileSync(join(root, `loader/entries/entry-${index}.conf`), bytes(4 * (index % 200) + 64));
}

function hostTree(root: string): DirNode {
  const builder = new TreeBuilder();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(root, relative)).sort()) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const stat = statSync(join(root, path));
      const meta = { mode: stat.mode & 0o7777, uid: 0, gid: 0, mtime: Math.floor(stat.mtimeMs / 1000), xattrs: [] };
      if (stat.isDirectory()) {
        builder.addDirectory(path, meta);
        walk(path);
      } else builder.addFile(path, meta, new FileSliceSource(join(root, path), 0, stat.size));
    }
  };
  walk("");
  return builder.build();
}

export async function benchFat(): Promise<{ name: string; oursSeconds: number; theirsSeconds: number; ratio: number }> {
  const directory = mkdtempSync(join(tmpdir(), "gptimg-bench-fat-"));
  try {
    const treeRoot = join(directory, "tree");
    writeSampleTree(treeRoot);
    let oursSeconds = Infinity;
    let theirsSeconds = Infinity;
    let sizeBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const started = process.hrtime.bigint();
      const plan = planFat({ tree: hostTree(treeRoot), sectorSize: 512, label: "esp", volumeId: 0x5739c63f, minSizeBytes: 100 * MiB });
      const image = join(directory, `ours-${round}.img`);
      const sink = await FileSink.create(image, plan.sizeBytes);
      await writeFat(plan, new OffsetSink(sink, 0, plan.sizeBytes, image));
      await sink.close();
      oursSeconds = Math.min(oursSeconds, Number(process.hrtime.bigint() - started) / 1e9);
      sizeBytes = plan.sizeBytes;
      rmSync(image);

      // mtools gives lowercase names long-name entries, so it gets a little more room.
      const theirs = join(directory, `theirs-${round}.img`);
      const script = `TIMEFORMAT="%R"; time { truncate -s ${sizeBytes + 8 * MiB} "$1" && mkfs.fat -F 32 -i 5739c63f -n ESP "$1" >/dev/null && LC_ALL=C.UTF-8 mcopy -s -p -Q -m -i "$1" "$2"/EFI "$2"/loader ::; }`;
      const result = spawnSync("bash", ["-c", script, "bench", theirs, treeRoot], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`mkfs.fat + mcopy failed: ${result.stderr}`);
      theirsSeconds = Math.min(theirsSeconds, Number(result.stderr.trim().split("\n").at(-1)));
      rmSync(theirs);
    }
    return { name: `fat: 200 MiB ESP tree (${sizeBytes} byte volume) vs mkfs.fat + mcopy`, oursSeconds: round3(oursSeconds), theirsSeconds: round3(theirsSeconds), ratio: round3(oursSeconds / theirsSeconds) };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
