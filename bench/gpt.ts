/**
 * Partition-table throughput: `gptimg repart` of a 10-partition definition set into a new
 * 64 GiB sparse image, side by side with systemd-repart v257 (trixie chroot) on the same
 * definitions, seed and size, in one run, best of a few rounds each. Each side runs in its own
 * process under /usr/bin/time, so wall time and peak RSS are its own. Both tables are dumped
 * with `sfdisk -d` and compared, so the timing is of the same work. No target in issue 2: the
 * ratio is reported (most of ours is Node's start-up).
 */
import { spawnSync } from "node:child_process";
import { NOT_MEASURED, timed, type Measured } from "./timed.js";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TRIXIE_ROOT = process.env["GPTIMG_TRIXIE_ROOT"] ?? "/var/cache/gptimg/trixie";
const GPTIMG_BIN = process.env["GPTIMG_BIN"] ?? fileURLToPath(new URL("../bin/gptimg.js", import.meta.url));
const SEED = "3f1c2b7a-9d4e-4c5b-8a6f-0e1d2c3b4a59";
const IMAGE_SIZE = "64G";
const ROUNDS = 5;

/** Ten partitions of an A/B-style disk; `var` and `home` share the rest of the 64 GiB by weight. */
const DEFINITIONS: ReadonlyArray<[string, string]> = [
  ["00-esp", "Type=esp\nLabel=ESP\nSizeMinBytes=512M\nSizeMaxBytes=512M\n"],
  ["01-xbootldr", "Type=xbootldr\nSizeMinBytes=1G\nSizeMaxBytes=1G\n"],
  ["02-usr-a", "Type=usr\nLabel=usr-a\nSizeMinBytes=4G\nSizeMaxBytes=4G\n"],
  ["03-usr-b", "Type=usr\nLabel=usr-b\nSizeMinBytes=4G\nSizeMaxBytes=4G\nFlags=0x1000000000000000\n"],
  ["04-root", "Type=root\nSizeMinBytes=2G\nSizeMaxBytes=8G\nWeight=200\n"],
  ["05-generic", "Type=linux-generic\nLabel=scratch\nSizeMinBytes=2G\nSizeMaxBytes=2G\n"],
  ["06-srv", "Type=srv\nSizeMinBytes=1G\nPaddingMinBytes=1M\nNoAuto=yes\n"],
  ["07-tmp", "Type=tmp\nSizeMinBytes=256M\nSizeMaxBytes=256M\n"],
  ["08-var", "Type=var\nSizeMinBytes=1G\nWeight=2000\n"],
  ["09-home", "Type=home\nSizeMinBytes=1G\nWeight=1000\nPaddingWeight=10\n"],
];

function sfdiskDump(image: string, inside: string): string {
  const result = spawnSync("chroot", [TRIXIE_ROOT, "sfdisk", "-d", inside], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`sfdisk -d ${image} failed: ${result.stderr}`);
  return result.stdout.replaceAll(inside, "IMAGE");
}

/** The same minimal PATH and locale for both sides (sbin for the chroot, no inherited settings). */
const CHROOT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };

export async function benchGpt(): Promise<object> {
  const scratch = mkdtempSync(join(TRIXIE_ROOT, "tmp", "gptimg-bench-gpt-"));
  const inside = (path: string): string => path.slice(TRIXIE_ROOT.length);
  try {
    const definitions = join(scratch, "definitions");
    mkdirSync(definitions);
    for (const [name, body] of DEFINITIONS) writeFileSync(join(definitions, `${name}.conf`), `[Partition]\n${body}`);
    const common = ["--empty=create", `--size=${IMAGE_SIZE}`, `--seed=${SEED}`, "--dry-run=no"];
    let ours: Measured = { ...NOT_MEASURED };
    let theirs: Measured = { ...NOT_MEASURED };
    let identicalTable = true;
    let imageBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const theirsImage = join(scratch, `repart-${round}.raw`);
      const repart = timed("chroot", [TRIXIE_ROOT, "systemd-repart", `--definitions=${inside(definitions)}`, ...common, inside(theirsImage)], CHROOT_ENV);
      if (repart.seconds < theirs.seconds) theirs = repart;

      const oursImage = join(scratch, `gptimg-${round}.raw`);
      const run = timed(process.execPath, [GPTIMG_BIN, "repart", `--definitions=${definitions}`, ...common, oursImage], CHROOT_ENV);
      if (run.seconds < ours.seconds) ours = run;

      identicalTable &&= sfdiskDump(theirsImage, inside(theirsImage)) === sfdiskDump(oursImage, inside(oursImage));
      imageBytes = statSync(oursImage).size;
      rmSync(theirsImage);
      rmSync(oursImage);
    }
    return {
      partitions: DEFINITIONS.length,
      imageBytes,
      rounds: ROUNDS,
      oursSeconds: ours.seconds,
      systemdRepartSeconds: theirs.seconds,
      timeRatio: Math.round((ours.seconds / theirs.seconds) * 1000) / 1000,
      oursPeakRssMiB: Math.round(ours.maxRssKiB / 1024),
      systemdRepartPeakRssMiB: Math.round(theirs.maxRssKiB / 1024),
      identicalTable,
      hostLoadAverage: loadavg()[0],
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await benchGpt(), null, 2));
}
