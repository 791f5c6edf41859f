/**
 * Issue 8 acceptance: the REAL systemd-sysupdate (257, built from Debian trixie's systemd source
 * by spec/update/oracles/build-sysupdate.sh; Debian ships none) installs gptimg's v2 artifacts
 * into a gptimg v1 image, driven by the transfers gptimg generated into v1's /usr.
 *
 * The v1 image is attached with `losetup -P`; its transfers, read back with trixie's
 * fsck.erofs --extract, are used as generated except `Path=auto` in [Target], which means "the
 * disk backing the running root" and is replaced by the loop device. sysupdate runs in its build
 * chroot with an os-release saying IMAGE_VERSION=1 (what ProtectVersion=%A reads), bind-mounted
 * in a private mount namespace. Judges afterwards: sfdisk --json (labels, root-hash UUIDs),
 * veritysetup verify (slot B against the v2 root hash), and the image `gptimg update` makes from
 * the same artifacts, which must agree with sysupdate's.
 *
 * Two sources: "regular-file" (a directory on the device; zstd and gzip artifacts, of which the
 * transfers match only the .gz, because systemd-import 257 has no zstd and copied .raw.zst into
 * the slot verbatim, which this test caught) and "url-file" with a file:// URL (systemd-pull
 * fetches SHA256SUMS, the manifest sysupdate parses, and checks every download against it).
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeKeyPairs } from "../crypto/keys.js";
import { gptimg } from "../support/cli.js";
import { extractRange, sfdiskJson, type SfdiskPartition, type SfdiskTable } from "../support/image.js";
import { oraclesAvailable, run, runInTrixie, runOk, SYSUPDATE_ROOT, TRIXIE_ROOT } from "../support/oracles.js";

const ready = oraclesAvailable("root", "losetup", "unshare", "sfdisk", "veritysetup", "openssl", "trixie", "sysupdate");
/** Artifacts, definitions and images live in the sysupdate chroot (its paths are what the transfers name). */
const work = mkdtempSync(join(ready ? `${SYSUPDATE_ROOT}/tmp` : tmpdir(), "gptimg-sysupdate-"));
/** The usr partitions are unpacked by trixie's fsck.erofs, which sees only its own chroot. */
const extractWork = mkdtempSync(join(ready ? `${TRIXIE_ROOT}/tmp` : tmpdir(), "gptimg-sysupdate-"));
const loops = new Set<string>();
afterAll(() => {
  for (const loop of loops) run("losetup", ["--detach", loop]);
  rmSync(work, { recursive: true, force: true });
  rmSync(extractWork, { recursive: true, force: true });
});
const inSysupdate = (path: string): string => path.slice(SYSUPDATE_ROOT.length);

const SLOT_BYTES = 32 * 1024 * 1024;
const IMAGE_ID = "sutest";

type Source = { type: "regular-file"; path: string } | { type: "url-file"; path: string };

function writeSpec(directory: string, source: Source, compression: string[]): string {
  const spec = {
    seed: "5e2a7c9b-3d1f-4a6e-8b0c-7f9d1e3a5c7b",
    architecture: "x86-64",
    imageId: IMAGE_ID,
    imageVersion: "1",
    sourceDateEpoch: 1_704_067_200,
    signing: { privateKey: join(work, "keys/rsa.key.pem"), certificate: join(work, "keys/rsa.crt.pem") },
    update: { source, artifactCompression: compression },
    partitions: [
      { type: "esp", format: "vfat", copyFiles: ["esp:/"] },
      { type: "usr", format: "erofs", copyFiles: ["usr:/"], verity: "data", verityMatchKey: "usr", slots: 2, slotSize: String(SLOT_BYTES), emptySlots: "image" },
      { type: "usr-verity", verity: "hash", verityMatchKey: "usr" },
      { type: "usr-verity-sig", verity: "signature", verityMatchKey: "usr" },
    ],
  };
  const path = join(directory, "spec.json");
  writeFileSync(path, JSON.stringify(spec, null, 2));
  return path;
}

function setTrees(directory: string, version: string): void {
  rmSync(join(directory, "usr"), { recursive: true, force: true });
  mkdirSync(join(directory, "usr/lib"), { recursive: true });
  mkdirSync(join(directory, "usr/bin"), { recursive: true });
  mkdirSync(join(directory, "esp/EFI"), { recursive: true });
  writeFileSync(join(directory, "esp/EFI/readme.txt"), "esp\n");
  writeFileSync(join(directory, "usr/lib/os-release"), `ID=${IMAGE_ID}\nIMAGE_ID=${IMAGE_ID}\nIMAGE_VERSION=${version}\n`);
  writeFileSync(join(directory, "usr/bin/payload"), `payload of version ${version}\n`.repeat(1000 * Number(version)));
}

interface Scenario {
  readonly directory: string;
  readonly spec: string;
  /** v1 as composed; sysupdate updates it in place. */
  readonly image: string;
  /** v1 updated by `gptimg update` from the same artifacts. */
  readonly byGptimg: string;
  readonly artifacts: string;
  readonly rootHash: string;
  readonly definitions: string;
  readonly transfers: ReadonlyMap<string, string>;
}

/** compose v1 and v2's artifacts, `gptimg update` a copy, and read v1's generated transfers. */
function prepare(name: string, source: (artifacts: string) => Source, compression: string[]): Scenario {
  const directory = join(work, name);
  mkdirSync(directory, { recursive: true });
  const artifacts = join(directory, "v2");
  const spec = writeSpec(directory, source(inSysupdate(artifacts)), compression);
  setTrees(directory, "1");
  const image = join(directory, "disk.raw");
  const composed = gptimg(["compose", spec, "-o", image]);
  expect(composed.status, composed.stderr).toBe(0);
  setTrees(directory, "2");
  const v2 = gptimg(["compose", spec, "--image-version", "2", "--artifacts", artifacts, "--json"]);
  expect(v2.status, v2.stderr).toBe(0);
  const rootHash = (JSON.parse(v2.stdout) as { verity: Array<{ rootHash: string }> }).verity[0]!.rootHash;
  const byGptimg = join(directory, "by-gptimg.raw");
  copyFileSync(image, byGptimg);
  const updated = gptimg(["update", byGptimg, "--from", artifacts]);
  expect(updated.status, updated.stderr).toBe(0);

  const usr = sfdiskJson(image).partitions![1]!;
  const usrImage = join(extractWork, `${name}-usr.erofs`);
  const usrFiles = join(extractWork, `${name}-usr`);
  extractRange(image, usr.start * 512, usr.size * 512, usrImage);
  const extracted = runInTrixie("fsck.erofs", [`--extract=${usrFiles.slice(TRIXIE_ROOT.length)}`, usrImage.slice(TRIXIE_ROOT.length)]);
  expect(extracted.status, extracted.stderr).toBe(0);
  const transfers = new Map(readdirSync(join(usrFiles, "lib/sysupdate.d")).sort().map((file) => [file, readFileSync(join(usrFiles, "lib/sysupdate.d", file), "utf8")] as const));
  return { directory, spec, image, byGptimg, artifacts, rootHash, definitions: join(directory, "sysupdate.d"), transfers };
}

/** The transfers as generated, except [Target] Path=auto → the loop device (a chroot has no booted disk). */
function installDefinitions(scenario: Scenario, loop: string): void {
  rmSync(scenario.definitions, { recursive: true, force: true });
  mkdirSync(scenario.definitions);
  for (const [file, text] of scenario.transfers) {
    let section = "";
    const lines = text.split("\n").map((line) => {
      const header = /^\[(.+)\]$/.exec(line);
      if (header) section = header[1]!;
      return section === "Target" && line === "Path=auto" ? `Path=${loop}` : line;
    });
    expect(lines, file).toContain(`Path=${loop}`);
    writeFileSync(join(scenario.definitions, file), lines.join("\n"));
  }
}

function ensureSysupdateMounts(): void {
  const mounts = readFileSync("/proc/mounts", "utf8");
  if (!mounts.includes(` ${SYSUPDATE_ROOT}/proc `)) runOk("mount", ["-t", "proc", "proc", `${SYSUPDATE_ROOT}/proc`]);
  if (!mounts.includes(` ${SYSUPDATE_ROOT}/dev `)) runOk("mount", ["--bind", "/dev", `${SYSUPDATE_ROOT}/dev`]);
  if (!mounts.includes(` ${SYSUPDATE_ROOT}/sys `)) runOk("mount", ["--bind", "/sys", `${SYSUPDATE_ROOT}/sys`]);
}

/** systemd-sysupdate in its chroot, with /etc/os-release naming the booted version, in a private mount namespace. */
function sysupdate(scenario: Scenario, args: string[], bootedVersion = "1"): { status: number; stdout: string; stderr: string } {
  ensureSysupdateMounts();
  const osRelease = join(scenario.directory, "os-release");
  writeFileSync(osRelease, `ID=${IMAGE_ID}\nIMAGE_ID=${IMAGE_ID}\nIMAGE_VERSION=${bootedVersion}\n`);
  const script = 'mount --bind "$1" "$2/etc/os-release" && root=$2 && shift 2 && exec chroot "$root" systemd-sysupdate "$@"';
  const result = run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", osRelease, SYSUPDATE_ROOT, `--definitions=${inSysupdate(scenario.definitions)}`, "--verify=no", "--no-pager", ...args], {
    env: { PATH: "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", SYSTEMD_COLORS: "0" },
  });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `body` with the image attached as a partitioned loop device, always detaching it. */
function withLoop(image: string, body: (loop: string) => void): void {
  const loop = runOk("losetup", ["--find", "--show", "--partscan", image]).trim();
  loops.add(loop);
  try {
    body(loop);
  } finally {
    // A failed detach is retried in afterAll rather than hiding the test's own error.
    if (run("losetup", ["--detach", loop]).status === 0) loops.delete(loop);
  }
}

const sha256File = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");
const uuidHex = (partition: SfdiskPartition): string => partition.uuid.toLowerCase().replaceAll("-", "");

const slotLabels = (version: string): string[] => [`${IMAGE_ID}_${version}`, `${IMAGE_ID}_${version}_verity`, `${IMAGE_ID}_${version}_verity_sig`];

/**
 * The slot starting at partition `dataIndex` holds the version with `rootHash`: labels (checked
 * by the caller's list), root-hash UUIDs, verity; and sysupdate's image equals gptimg's.
 */
function expectInstalled(scenario: Scenario, labels: readonly string[], dataIndex: number, rootHash: string): void {
  const partitions = sfdiskJson(scenario.image).partitions!;
  expect(partitions.map((partition) => partition.name)).toEqual(labels);
  expect(uuidHex(partitions[dataIndex]!)).toBe(rootHash.slice(0, 32));
  expect(uuidHex(partitions[dataIndex + 1]!)).toBe(rootHash.slice(32));
  const data = join(scenario.directory, "slot-data");
  const hash = join(scenario.directory, "slot-hash");
  extractRange(scenario.image, partitions[dataIndex]!.start * 512, partitions[dataIndex]!.size * 512, data);
  extractRange(scenario.image, partitions[dataIndex + 1]!.start * 512, partitions[dataIndex + 1]!.size * 512, hash);
  runOk("veritysetup", ["verify", data, hash, rootHash]);

  // sfdisk names the nodes after the file; everything else must agree, and then every byte.
  const comparable = (image: string) => {
    const { device: _device, partitions: entries, ...header } = sfdiskJson(image) as SfdiskTable & { device: string };
    return { ...header, partitions: entries!.map(({ node: _node, ...entry }) => entry) };
  };
  expect(comparable(scenario.image)).toEqual(comparable(scenario.byGptimg));
  expect(sha256File(scenario.image)).toBe(sha256File(scenario.byGptimg));
}

const expectSlotBIsV2 = (scenario: Scenario): void => expectInstalled(scenario, ["esp", ...slotLabels("1"), ...slotLabels("2")], 4, scenario.rootHash);

describe.skipIf(!ready)("systemd-sysupdate 257 installs gptimg's v2 artifacts with gptimg's transfers", () => {
  beforeAll(() => {
    mkdirSync(join(work, "keys"), { recursive: true });
    makeKeyPairs(join(work, "keys"));
  });

  it("regular-file source: list, check-new, update 2, then v3 booted into v2; the image equals what `gptimg update` writes", () => {
    const scenario = prepare("regular-file", (artifacts) => ({ type: "regular-file", path: artifacts }), ["zstd", "gzip"]);
    expect([...scenario.transfers.keys()]).toEqual(["10-usr-x86-64.transfer", "11-usr-x86-64-verity.transfer", "12-usr-x86-64-verity-sig.transfer"]);
    withLoop(scenario.image, (loop) => {
      installDefinitions(scenario, loop);
      const listed = sysupdate(scenario, ["list", "--json=short"]);
      expect(listed.status, listed.stderr).toBe(0);
      // sysupdate only warns about keys or values it does not take (log_syntax … "ignoring").
      expect(listed.stderr).not.toMatch(/ignor|unknown|invalid|warning/i);
      expect(JSON.parse(listed.stdout)).toMatchObject({ current: "1", all: ["2", "1"] });
      const candidate = sysupdate(scenario, ["check-new"]);
      expect(candidate.status, candidate.stderr).toBe(0);
      expect(candidate.stdout.trim()).toBe("2");
      const updated = sysupdate(scenario, ["update", "2"]);
      expect(updated.status, updated.stderr + updated.stdout).toBe(0);
      const after = sysupdate(scenario, ["check-new", "--json=short"]);
      expect(after.status, after.stderr).toBe(0);
      expect(JSON.parse(after.stdout)).toEqual({ available: null });
    });
    expectSlotBIsV2(scenario);

    // v3 on a device booted into v2: ProtectVersion=%A keeps v2 and InstancesMax=2 allows two,
    // so sysupdate vacuums v1's slot and reuses it, as `gptimg update` (never the newest) does.
    setTrees(scenario.directory, "3");
    const v3Artifacts = join(scenario.directory, "v3");
    const v3 = gptimg(["compose", scenario.spec, "--image-version", "3", "--artifacts", v3Artifacts, "--json"]);
    expect(v3.status, v3.stderr).toBe(0);
    const v3RootHash = (JSON.parse(v3.stdout) as { verity: Array<{ rootHash: string }> }).verity[0]!.rootHash;
    const byGptimg = gptimg(["update", scenario.byGptimg, "--from", v3Artifacts]);
    expect(byGptimg.status, byGptimg.stderr).toBe(0);
    // A regular-file source is a directory the device reads; SHA256SUMS plays no part there.
    for (const name of readdirSync(v3Artifacts).filter((file) => file.startsWith(`${IMAGE_ID}_3.`))) copyFileSync(join(v3Artifacts, name), join(scenario.artifacts, name));
    withLoop(scenario.image, (loop) => {
      installDefinitions(scenario, loop);
      const updated = sysupdate(scenario, ["update"], "2");
      expect(updated.status, updated.stderr + updated.stdout).toBe(0);
    });
    expectInstalled(scenario, ["esp", ...slotLabels("3"), ...slotLabels("2")], 1, v3RootHash);
  });

  it("url-file source (file://): sysupdate parses SHA256SUMS, refuses a corrupted artifact, then installs v2", () => {
    const scenario = prepare("url-file", (artifacts) => ({ type: "url-file", path: `file://${artifacts}` }), ["gzip", "none"]);
    const sums = readFileSync(join(scenario.artifacts, "SHA256SUMS"), "utf8");
    const victim = readdirSync(scenario.artifacts).filter((name) => name.includes(".usr-x86-64.")).sort();
    expect(victim.length).toBe(2);
    withLoop(scenario.image, (loop) => {
      installDefinitions(scenario, loop);
      const listed = sysupdate(scenario, ["list", "--json=short"]);
      expect(listed.status, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({ current: "1", all: ["2", "1"] });

      const pristine = victim.map((name) => readFileSync(join(scenario.artifacts, name)));
      for (const name of victim) {
        const bytes = readFileSync(join(scenario.artifacts, name));
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        writeFileSync(join(scenario.artifacts, name), bytes);
      }
      const refused = sysupdate(scenario, ["update", "2"]);
      expect(refused.status, refused.stdout).not.toBe(0);
      expect(refused.stderr).toMatch(/checksum|SHA256|digest/i);
      expect(sfdiskJson(loop).partitions!.slice(4).map((partition) => partition.name)).toEqual(["_empty", "_empty", "_empty"]);
      victim.forEach((name, index) => writeFileSync(join(scenario.artifacts, name), pristine[index]!));
      expect(readFileSync(join(scenario.artifacts, "SHA256SUMS"), "utf8")).toBe(sums);

      const updated = sysupdate(scenario, ["update", "2"]);
      expect(updated.status, updated.stderr + updated.stdout).toBe(0);
    });
    expectSlotBIsV2(scenario);
  });
});
