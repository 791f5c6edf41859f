/**
 * dm-verity hashing throughput: 1 GiB of data through VerityHasher (file read in 4 MiB chunks,
 * level 0 hashed by the main thread and the workers) side by side with `veritysetup format` on
 * the same file, in one run, best of a few rounds each. Target: our time ≤ 0.5 × veritysetup's.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { defaultConcurrency } from "../lib/core/context.js";
import { toHex } from "../lib/core/bytes.js";
import { VerityHasher } from "../lib/formats/verity/build.js";
import { MemorySink } from "../lib/io/stream.js";

const DATA_BYTES = 1024 ** 3;
const ROUNDS = 3;
const UUID = "0f3c2a55-61d2-4e7b-9a10-5c2d7e8f9a01";

export async function benchVerity(): Promise<object> {
  const directory = mkdtempSync(join(tmpdir(), "gptimg-bench-verity-"));
  try {
    const dataPath = join(directory, "data.img");
    await writeSampleFile(dataPath);
    const salt = new Uint8Array(randomBytes(32));
    const concurrency = defaultConcurrency();
    let oursSeconds = Infinity;
    let theirsSeconds = Infinity;
    let oursCpuSeconds = Infinity;
    let theirsCpuSeconds = Infinity;
    let same = true;
    for (let round = 0; round < ROUNDS; round++) {
      const theirsPath = join(directory, `theirs-${round}.img`);
      // bash's `time` reports veritysetup's own wall and CPU seconds (user + system).
      const result = spawnSync("bash", ["-c", `TIMEFORMAT="%R %U %S"; time veritysetup format "$1" "$2" --salt=${toHex(salt)} --uuid=${UUID} >/dev/null`, "bench", dataPath, theirsPath], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`veritysetup format failed: ${result.stderr}`);
      const [wall, user, system] = result.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
      theirsSeconds = Math.min(theirsSeconds, wall!);
      theirsCpuSeconds = Math.min(theirsCpuSeconds, user! + system!);

      const oursStarted = process.hrtime.bigint();
      const cpuStarted = process.cpuUsage();
      const hasher = new VerityHasher({ dataBlockSize: 4096, hashBlockSize: 4096, algorithm: "sha256", salt, uuid: UUID, hashType: 1 }, { concurrency });
      await feedFile(dataPath, hasher);
      await hasher.finish();
      const sink = new MemorySink();
      await hasher.writeHashImage(sink);
      writeFileSync(join(directory, `ours-${round}.img`), sink.bytes());
      oursSeconds = Math.min(oursSeconds, Number(process.hrtime.bigint() - oursStarted) / 1e9);
      // process.cpuUsage() covers every thread of the process, workers included.
      const cpu = process.cpuUsage(cpuStarted);
      oursCpuSeconds = Math.min(oursCpuSeconds, (cpu.user + cpu.system) / 1e6);
      same &&= Buffer.compare(sink.bytes(), readFileSync(theirsPath)) === 0;
    }
    return {
      dataBytes: DATA_BYTES,
      concurrency,
      oursSeconds: round3(oursSeconds),
      veritysetupSeconds: round3(theirsSeconds),
      ratio: round3(oursSeconds / theirsSeconds),
      oursCpuSeconds: round3(oursCpuSeconds),
      veritysetupCpuSeconds: round3(theirsCpuSeconds),
      loadAverage1m: round3(loadavg()[0]!),
      oursGBps: round3(DATA_BYTES / oursSeconds / 1e9),
      veritysetupGBps: round3(DATA_BYTES / theirsSeconds / 1e9),
      identicalHashImage: same,
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
 * Reads the file into one reused 4 MiB buffer, as a partition writer hands over bytes it
 * produced: what is measured is hashing, not allocating a fresh buffer per read.
 */
async function feedFile(path: string, hasher: VerityHasher): Promise<void> {
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
}
