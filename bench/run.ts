/**
 * `node dist/bench/run.js [case…]`: runs the bench cases (all by default), each in its own
 * child process so the peak RSS of in-process cases is theirs alone, and prints one table of
 * gptimg against the C tools plus the raw JSON. Targets come from the issues; a MISS is
 * reported, never an exit status (benchmarks are reports, not tests). A case that crashes
 * (tool missing, output wrong) makes the exit status 1.
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { benchErofs } from "./erofs.js";
import { benchFat } from "./fat.js";
import { benchGpt } from "./gpt.js";
import { benchSquashfs } from "./squashfs.js";
import { benchVerity } from "./verity.js";

type Json = Record<string, unknown>;

interface Row {
  readonly name: string;
  readonly oursSeconds?: number;
  readonly theirsSeconds?: number;
  readonly timeRatio?: number;
  readonly timeTarget?: number;
  /** Our CPU seconds over theirs (user + system): steadier than wall time on a loaded host. */
  readonly cpuRatio?: number;
  readonly sizeRatio?: number;
  readonly sizeTarget?: number;
  readonly oursGBps?: number;
  readonly peakRssMiB?: number;
  readonly rssTargetMiB?: number;
  readonly note?: string;
}

interface BenchCase {
  readonly run: () => Promise<object>;
  /** Turns the case's own result (and the child's peak RSS, for cases measured in-process) into rows. */
  readonly rows: (result: Json, childPeakRssMiB: number) => Row[];
}

const TREE = process.env["GPTIMG_TRIXIE_TREE"] ?? "/var/cache/gptimg/trixie-tree";
/** Bytes of file data bench/fat.ts writes: 16 × 12 MiB UKIs, a 160 KiB loader, 400 entries of 4·(i mod 200)+64 bytes. */
const FAT_TREE_BYTES = 16 * 12 * 1024 * 1024 + 160 * 1024 + 184_800;

const CASES: Readonly<Record<string, BenchCase>> = {
  fat: {
    run: benchFat,
    rows: (result, rss) => [{
      name: "fat (200 MiB ESP tree vs mkfs.fat + mcopy)",
      oursSeconds: num(result["oursSeconds"]), theirsSeconds: num(result["theirsSeconds"]), timeRatio: num(result["ratio"]), timeTarget: 0.5,
      oursGBps: gbps(FAT_TREE_BYTES, num(result["oursSeconds"])), peakRssMiB: rss, note: "RSS: whole bench process (in-process writer)",
    }],
  },
  squashfs: {
    run: benchSquashfs,
    rows: (result) => {
      const treeBytes = directoryBytes(TREE);
      return (result["results"] as Json[]).map((entry) => ({
        name: `squashfs ${String(entry["compression"])} (trixie tree vs mksquashfs -processors 2)`,
        oursSeconds: num(entry["oursSeconds"]), theirsSeconds: num(entry["mksquashfsSeconds"]), timeRatio: num(entry["timeRatio"]), timeTarget: 1.0,
        cpuRatio: ratio(entry["oursCpuSeconds"], entry["mksquashfsCpuSeconds"]),
        sizeRatio: num(entry["sizeRatio"]), sizeTarget: 1.01,
        oursGBps: gbps(treeBytes, num(entry["oursSeconds"])), peakRssMiB: num(entry["oursPeakRssMiB"]), rssTargetMiB: 256,
      }));
    },
  },
  erofs: {
    run: benchErofs,
    rows: (result) => [{
      name: "erofs (trixie tree vs mkfs.erofs 1.8, uncompressed)",
      oursSeconds: num(result["oursSeconds"]), theirsSeconds: num(result["mkfsErofsSeconds"]), timeRatio: num(result["timeRatio"]), timeTarget: 1.5,
      cpuRatio: ratio(result["oursCpuSeconds"], result["mkfsErofsCpuSeconds"]),
      sizeRatio: num(result["sizeRatio"]),
      oursGBps: gbps(directoryBytes(TREE), num(result["oursSeconds"])), peakRssMiB: num(result["oursPeakRssMiB"]), rssTargetMiB: 256,
    }],
  },
  verity: {
    run: benchVerity,
    rows: (result, rss) => (result["modes"] as Json[]).map((entry) => ({
      name: `verity ${String(entry["mode"])} (1 GiB vs veritysetup format)`,
      oursSeconds: num(entry["oursSeconds"]), theirsSeconds: num(result["veritysetupSeconds"]), timeRatio: num(entry["ratio"]), timeTarget: 0.5,
      cpuRatio: ratio(entry["oursCpuSeconds"], result["veritysetupCpuSeconds"]),
      oursGBps: num(entry["oursGBps"]), peakRssMiB: rss,
      note: `${entry["identicalHashImage"] ? "hash image identical" : "HASH IMAGE DIFFERS"}; RSS: whole bench process`,
    })),
  },
  gpt: {
    run: benchGpt,
    rows: (result) => [{
      name: "gpt (repart 10 partitions, 64 GiB sparse vs systemd-repart)",
      oursSeconds: num(result["oursSeconds"]), theirsSeconds: num(result["systemdRepartSeconds"]), timeRatio: num(result["timeRatio"]),
      peakRssMiB: num(result["oursPeakRssMiB"]),
      note: result["identicalTable"] ? "sfdisk -d identical" : "TABLES DIFFER",
    }],
  },
};

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function ratio(ours: unknown, theirs: unknown): number | undefined {
  const top = num(ours);
  const bottom = num(theirs);
  return top === undefined || bottom === undefined || bottom <= 0 ? undefined : Math.round((top / bottom) * 1000) / 1000;
}

function gbps(bytes: number, seconds: number | undefined): number | undefined {
  return seconds === undefined || seconds <= 0 ? undefined : Math.round((bytes / seconds / 1e9) * 1000) / 1000;
}

/** Apparent size of the regular files under a directory (what a filesystem writer must read). */
function directoryBytes(path: string): number {
  const result = spawnSync("du", ["-sb", "--apparent-size", path], { encoding: "utf8" });
  return Number(result.stdout.split("\t")[0]);
}

function verdict(row: Row): string {
  const checks: boolean[] = [];
  if (row.timeTarget !== undefined) checks.push(row.timeRatio !== undefined && row.timeRatio <= row.timeTarget);
  if (row.sizeTarget !== undefined) checks.push(row.sizeRatio !== undefined && row.sizeRatio <= row.sizeTarget);
  if (row.rssTargetMiB !== undefined) checks.push(row.peakRssMiB !== undefined && row.peakRssMiB < row.rssTargetMiB);
  if (checks.length === 0) return "-";
  return checks.every(Boolean) ? "PASS" : "MISS";
}

function target(row: Row): string {
  const parts: string[] = [];
  if (row.timeTarget !== undefined) parts.push(`time≤${row.timeTarget}×`);
  if (row.sizeTarget !== undefined) parts.push(`size≤${row.sizeTarget}×`);
  if (row.rssTargetMiB !== undefined) parts.push(`RSS<${row.rssTargetMiB}M`);
  return parts.length === 0 ? "-" : parts.join(" ");
}

function renderTable(rows: readonly Row[]): string {
  const show = (value: number | undefined, suffix = ""): string => (value === undefined ? "-" : `${value}${suffix}`);
  const header = ["case", "ours s", "C tool s", "time ×", "cpu ×", "size ×", "GB/s", "RSS MiB", "target", "verdict", "note"];
  const lines = rows.map((row) => [
    row.name, show(row.oursSeconds), show(row.theirsSeconds), show(row.timeRatio), show(row.cpuRatio), show(row.sizeRatio), show(row.oursGBps), show(row.peakRssMiB), target(row), verdict(row), row.note ?? "",
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  return [header, ...lines].map((line) => line.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

/** Child mode: run one case and print its result with this process's peak RSS as the last line. */
async function runChild(name: string): Promise<void> {
  const result = await CASES[name]!.run();
  process.stdout.write(`\n${JSON.stringify({ result, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === "--child") {
    await runChild(argv[1]!);
    return 0;
  }
  const names = argv.length === 0 ? Object.keys(CASES) : [...argv];
  const unknown = names.filter((name) => !(name in CASES));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown case ${unknown.join(", ")}; cases: ${Object.keys(CASES).join(", ")}\n`);
    return 2;
  }
  const loadBefore = loadavg();
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  let crashed = false;
  for (const name of names) {
    process.stderr.write(`bench: ${name}…\n`);
    const started = process.hrtime.bigint();
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", name], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
    const last = child.stdout.trim().split("\n").at(-1) ?? "";
    if (child.status !== 0 || !last.startsWith("{")) {
      crashed = true;
      raw[name] = { error: `exit ${child.status}`, stdout: child.stdout };
      rows.push({ name, note: `ERROR: case exited ${child.status}` });
      continue;
    }
    const { result, maxRssKiB } = JSON.parse(last) as { result: Json; maxRssKiB: number };
    raw[name] = { ...result, benchProcessPeakRssMiB: Math.round(maxRssKiB / 1024), caseWallSeconds: Number(process.hrtime.bigint() - started) / 1e9 };
    rows.push(...CASES[name]!.rows(result, Math.round(maxRssKiB / 1024)));
  }
  const loadAfter = loadavg();
  const summary = rows.map((row) => ({ ...row, target: target(row), verdict: verdict(row) }));
  process.stdout.write(`${renderTable(rows)}\n\nload average (1/5/15 min) before: ${loadBefore.map((value) => value.toFixed(2)).join(" ")}, after: ${loadAfter.map((value) => value.toFixed(2)).join(" ")}\n\n`);
  process.stdout.write(`${JSON.stringify({ loadAverageBefore: loadBefore, loadAverageAfter: loadAfter, rows: summary, raw }, null, 2)}\n`);
  return crashed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
