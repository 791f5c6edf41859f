/**
 * erofs writer throughput: the Debian trixie tree (/var/cache/gptimg/trixie-tree) scanned and
 * written as an uncompressed erofs image by gptimg, side by side with mkfs.erofs 1.8 (trixie
 * chroot, uncompressed) on the same tree, in one run, best of a few rounds each. Each side runs
 * in its own process under /usr/bin/time so wall time and peak RSS are its own.
 * Targets: our time ≤ 1.5 × mkfs.erofs's (it uses copy_file_range; we stream through user
 * space), our peak RSS < 256 MiB.
 */
import { spawnSync } from "node:child_process";
import { NOT_MEASURED, timed, type Measured } from "./timed.js";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TRIXIE_ROOT = process.env["GPTIMG_TRIXIE_ROOT"] ?? "/var/cache/gptimg/trixie";
const TREE = process.env["GPTIMG_TRIXIE_TREE"] ?? "/var/cache/gptimg/trixie-tree";
const UUID = "7c0a3e1d-5b2f-4c6a-9e8d-1f2a3b4c5d6e";
const SOURCE_DATE_EPOCH = 1_750_000_000;
const ROUNDS = 3;

/** The child that builds our image: scan the tree, plan, write through an atomic file sink. */
function oursScript(output: string): string {
  const lib = (path: string): string => JSON.stringify(new URL(`../lib/${path}`, import.meta.url).href);
  return `
    const { treeFromDirectory } = await import(${lib("tree/from-dir.js")});
    const { planErofs } = await import(${lib("formats/erofs/plan.js")});
    const { writeErofs } = await import(${lib("formats/erofs/write.js")});
    const { writeAtomically } = await import(${lib("io/sink.js")});
    const { OffsetSink } = await import(${lib("io/stream.js")});
    const tree = await treeFromDirectory(${JSON.stringify(TREE)});
    const plan = planErofs(tree, { uuid: ${JSON.stringify(UUID)}, sourceDateEpoch: ${SOURCE_DATE_EPOCH} });
    await writeAtomically(${JSON.stringify(output)}, plan.sizeBytes, (sink) => writeErofs(plan, new OffsetSink(sink, 0, plan.sizeBytes, "erofs")));
  `;
}

/**
 * Our child's environment: this one without NODE_EXTRA_CA_CERTS. With it set (as on the CI
 * and development machines, for their proxies) Node parses every certificate of the bundle
 * at start-up, before any of our code runs: 500 M instead of 90 M instructions, 60–90 ms that
 * measure the machine's configuration, not the erofs writer. mkfs.erofs pays nothing similar.
 */
function oursEnvironment(): NodeJS.ProcessEnv {
  const environment = { ...process.env };
  delete environment["NODE_EXTRA_CA_CERTS"];
  return environment;
}

export async function benchErofs(): Promise<object> {
  const scratch = mkdtempSync(join(TRIXIE_ROOT, "tmp", "gptimg-bench-erofs-"));
  const bound = join(scratch, "tree");
  mkdirSync(bound);
  const mounted = spawnSync("mount", ["--bind", "-o", "ro", TREE, bound]);
  if (mounted.status !== 0) throw new Error(`bind mount of ${TREE} failed: ${mounted.stderr}`);
  try {
    let ours: Measured = { ...NOT_MEASURED };
    let theirs: Measured = { ...NOT_MEASURED };
    let oursBytes = 0;
    let theirsBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const theirsImage = join(scratch, `mkfs-${round}.erofs`);
      const inside = (path: string): string => path.slice(TRIXIE_ROOT.length);
      const mkfs = timed("chroot", [TRIXIE_ROOT, "mkfs.erofs", "--quiet", `-U${UUID}`, `-T${SOURCE_DATE_EPOCH}`, "--mkfs-time", inside(theirsImage), inside(bound)]);
      theirsBytes = statSync(theirsImage).size;
      rmSync(theirsImage);
      if (mkfs.seconds < theirs.seconds) theirs = mkfs;

      const oursImage = join(scratch, `ours-${round}.erofs`);
      const run = timed(process.execPath, ["--input-type=module", "-e", oursScript(oursImage)], oursEnvironment());
      oursBytes = statSync(oursImage).size;
      rmSync(oursImage);
      if (run.seconds < ours.seconds) ours = run;
    }
    return {
      tree: TREE,
      rounds: ROUNDS,
      oursSeconds: ours.seconds,
      mkfsErofsSeconds: theirs.seconds,
      timeRatio: Math.round((ours.seconds / theirs.seconds) * 1000) / 1000,
      timeRatioTarget: 1.5,
      oursCpuSeconds: ours.cpuSeconds,
      mkfsErofsCpuSeconds: theirs.cpuSeconds,
      hostLoadAverage: loadavg()[0],
      oursWithoutNodeExtraCaCerts: process.env["NODE_EXTRA_CA_CERTS"] !== undefined,
      oursPeakRssMiB: Math.round(ours.maxRssKiB / 1024),
      mkfsErofsPeakRssMiB: Math.round(theirs.maxRssKiB / 1024),
      peakRssTargetMiB: 256,
      oursImageBytes: oursBytes,
      mkfsErofsImageBytes: theirsBytes,
      sizeRatio: Math.round((oursBytes / theirsBytes) * 10000) / 10000,
    };
  } finally {
    spawnSync("umount", [bound]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchErofs(), null, 2));
}
