/**
 * squashfs writer: the Debian trixie tree (/var/cache/gptimg/trixie-tree) scanned and written
 * by gptimg, side by side with mksquashfs on the same tree in one run, for gzip and zstd,
 * same block size (128 KiB), each at its mksquashfs default level, 2 processors each. Each
 * side runs in its own process under /usr/bin/time, so wall time, CPU time and peak RSS are
 * its own; runs alternate so host load hits both alike.
 * Targets: time ratio ≤ 1.0, size ratio ≤ 1.01, our peak RSS < 256 MiB.
 */
import { timed, type Measured } from "./timed.js";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TREE = process.env["GPTIMG_TRIXIE_TREE"] ?? "/var/cache/gptimg/trixie-tree";
const BLOCK_BYTES = 131072;
const PROCESSORS = 2;
const ROUNDS = Number(process.env["GPTIMG_BENCH_ROUNDS"] ?? 1);

/** The child that builds our image: scan the tree and write it through an atomic file sink. */
function oursScript(compression: string, output: string): string {
  const lib = (path: string): string => JSON.stringify(new URL(`../lib/${path}`, import.meta.url).href);
  return `
    const { treeFromDirectory } = await import(${lib("tree/from-dir.js")});
    const { buildSquashfsFile } = await import(${lib("formats/squashfs/write.js")});
    const tree = await treeFromDirectory(${JSON.stringify(TREE)});
    await buildSquashfsFile(tree, { compression: ${JSON.stringify(compression)}, blockSize: ${BLOCK_BYTES}, concurrency: ${PROCESSORS} }, ${JSON.stringify(output)});
  `;
}

function best(runs: Measured[]): Measured {
  return runs.reduce((left, right) => (right.seconds < left.seconds ? right : left));
}

export async function benchSquashfs(): Promise<object> {
  const scratch = mkdtempSync(join(tmpdir(), "gptimg-bench-squashfs-"));
  try {
    const results: object[] = [];
    for (const compression of ["gzip", "zstd"] as const) {
      const ours: Measured[] = [];
      const theirs: Measured[] = [];
      let oursBytes = 0;
      let theirsBytes = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const theirsImage = join(scratch, `mksquashfs-${compression}.sqfs`);
        theirs.push(timed("mksquashfs", [TREE, theirsImage, "-noappend", "-processors", String(PROCESSORS), "-b", String(BLOCK_BYTES), "-comp", compression, "-quiet", "-no-progress"]));
        theirsBytes = statSync(theirsImage).size;
        rmSync(theirsImage);

        const oursImage = join(scratch, `gptimg-${compression}.sqfs`);
        // A script file, not --eval: worker threads inherit execArgv and cannot start under --input-type.
        const script = join(scratch, "ours.mjs");
        writeFileSync(script, oursScript(compression, oursImage));
        ours.push(timed(process.execPath, [script]));
        oursBytes = statSync(oursImage).size;
        rmSync(oursImage);
      }
      const oursBest = best(ours);
      const theirsBest = best(theirs);
      results.push({
        compression,
        oursSeconds: oursBest.seconds,
        mksquashfsSeconds: theirsBest.seconds,
        timeRatio: Math.round((oursBest.seconds / theirsBest.seconds) * 1000) / 1000,
        timeRatioTarget: 1.0,
        oursCpuSeconds: oursBest.cpuSeconds,
        mksquashfsCpuSeconds: theirsBest.cpuSeconds,
        oursImageBytes: oursBytes,
        mksquashfsImageBytes: theirsBytes,
        sizeRatio: Math.round((oursBytes / theirsBytes) * 10000) / 10000,
        sizeRatioTarget: 1.01,
        oursPeakRssMiB: Math.round(oursBest.maxRssKiB / 1024),
        mksquashfsPeakRssMiB: Math.round(theirsBest.maxRssKiB / 1024),
        peakRssTargetMiB: 256,
        hostLoadAverage: loadavg()[0],
      });
    }
    return { tree: TREE, blockBytes: BLOCK_BYTES, processors: PROCESSORS, rounds: ROUNDS, results };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchSquashfs(), null, 2));
}
