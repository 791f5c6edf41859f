/**
 * dm-verity hashing throughput on 1 GiB, side by side with `veritysetup format` on the same
 * file, in one run, best of a few rounds each, for both of our paths:
 * - file: hashVerityFile, the tree of data already in a file, as veritysetup builds it (and
 *   as `gptimg verify` re-hashes a partition): every thread reads its own share;
 * - stream: a VerityHasher fed 4 MiB reads, as a partition writer tees its output into it
 *   while it builds a filesystem (the main thread hands the workers their share).
 * Target (issue #6): our time ≤ 0.5 × veritysetup's.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { defaultConcurrency } from "../lib/core/context.js";
import { toHex } from "../lib/core/bytes.js";
import { hashVerityFile, VerityHasher, type VerityHasherParameters, type VerityResult } from "../lib/formats/verity/build.js";
import { MemorySink } from "../lib/io/stream.js";

const DATA_BYTES = 1024 ** 3;
const ROUNDS = 3;
const UUID = "0f3c2a55-61d2-4e7b-9a10-5c2d7e8f9a01";
const MODES = ["file", "stream"] as const;
type Mode = (typeof MODES)[number];

interface Best {
  seconds: number;
  cpuSeconds: number;
  identical: boolean;
}

export async function benchVerity(): Promise<object> {
  const directory = mkdtempSync(join(tmpdir(), "gptimg-bench-verity-"));
  try {
    const dataPath = join(directory, "data.img");
    await writeSampleFile(dataPath);
    const salt = new Uint8Array(randomBytes(32));
    const parameters: VerityHasherParameters = { dataBlockSize: 4096, hashBlockSize: 4096, algorithm: "sha256", salt, uuid: UUID, hashType: 1 };
    const concurrency = defaultConcurrency();
    const theirs = { seconds: Infinity, cpuSeconds: Infinity };
    const ours: Record<Mode, Best> = { file: { seconds: Infinity, cpuSeconds: Infinity, identical: true }, stream: { seconds: Infinity, cpuSeconds: Infinity, identical: true } };
    for (let round = 0; round < ROUNDS; round++) {
      const theirsPath = join(directory, `theirs-${round}.img`);
      // bash's `time` reports veritysetup's own wall and CPU seconds (user + system).
      const result = spawnSync("bash", ["-c", `TIMEFORMAT="%R %U %S"; time veritysetup format "$1" "$2" --salt=${toHex(salt)} --uuid=${UUID} >/dev/null`, "bench", dataPath, theirsPath], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`veritysetup format failed: ${result.stderr}`);
      const [wall, user, system] = result.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
      theirs.seconds = Math.min(theirs.seconds, wall!);
      theirs.cpuSeconds = Math.min(theirs.cpuSeconds, user! + system!);
      const theirsImage = readFileSync(theirsPath);

      for (const mode of MODES) {
        const started = process.hrtime.bigint();
        const cpuStarted = process.cpuUsage();
        const tree = mode === "file"
          ? await hashVerityFile({ path: dataPath, start: 0, size: DATA_BYTES, description: dataPath }, parameters, { concurrency })
          : await hashStream(dataPath, parameters, concurrency);
        const sink = new MemorySink();
        await tree.hashImage.write(sink);
        writeFileSync(join(directory, `ours-${mode}-${round}.img`), sink.bytes());
        const best = ours[mode];
        best.seconds = Math.min(best.seconds, Number(process.hrtime.bigint() - started) / 1e9);
        // process.cpuUsage() covers every thread of the process, workers included.
        const cpu = process.cpuUsage(cpuStarted);
        best.cpuSeconds = Math.min(best.cpuSeconds, (cpu.user + cpu.system) / 1e6);
        best.identical &&= Buffer.compare(sink.bytes(), theirsImage) === 0;
      }
    }
    return {
      dataBytes: DATA_BYTES,
      concurrency,
      veritysetupSeconds: round3(theirs.seconds),
      veritysetupCpuSeconds: round3(theirs.cpuSeconds),
      veritysetupGBps: round3(DATA_BYTES / theirs.seconds / 1e9),
      loadAverage1m: round3(loadavg()[0]!),
      modes: MODES.map((mode) => ({
        mode,
        oursSeconds: round3(ours[mode].seconds),
        ratio: round3(ours[mode].seconds / theirs.seconds),
        oursCpuSeconds: round3(ours[mode].cpuSeconds),
        oursGBps: round3(DATA_BYTES / ours[mode].seconds / 1e9),
        identicalHashImage: ours[mode].identical,
      })),
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** 1 GiB of incompressible data: a 16 MiB random pattern, each copy with its index stamped in. */
async function writeSampleFile(path: string): Promise<void> {
  const pattern = new Uint8Array(randomBytes(16 * 1024 * 1024));
  const handle = await open(path, "w");
  try {
    for (let offset = 0, index = 0; offset < DATA_BYTES; offset += pattern.length, index++) {
      pattern[0] = index;
      await handle.write(pattern, 0, pattern.length, offset);
    }
  } finally {
    await handle.close();
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Feeds the file in 4 MiB reads into one reused buffer, as a partition writer hands over
 * bytes it produced: what is measured is hashing, not allocating a fresh buffer per read.
 */
async function hashStream(path: string, parameters: VerityHasherParameters, concurrency: number): Promise<VerityResult> {
  const hasher = new VerityHasher(parameters, { concurrency });
  const buffer = new Uint8Array(4 * 1024 * 1024);
  const handle = await open(path, "r");
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      await hasher.write(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hasher.finish();
}
