/**
 * Bad input never produces a stack trace or a partial file: one line on stderr naming the
 * file / JSON path / flag and what to do, a non-zero exit code, and no output left behind.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { isRoot } from "../support/oracles.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-bad-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;

function composeWith(spec: string | object, extraArgs: string[] = []): { stderr: string; status: number; output: string; directory: string } {
  const directory = join(work, `case-${counter++}`);
  mkdirSync(directory);
  writeFileSync(join(directory, "spec.json"), typeof spec === "string" ? spec : JSON.stringify(spec));
  const output = join(directory, "out.raw");
  const result = gptimg(["compose", join(directory, "spec.json"), "-o", output, ...extraArgs]);
  return { stderr: result.stderr, status: result.status, output, directory };
}

function expectOneLineError(result: { stderr: string; status: number }, ...fragments: string[]): void {
  expect(result.status).not.toBe(0);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^gptimg: error: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  for (const fragment of fragments) expect(lines[0]).toContain(fragment);
}

function expectNoOutput(directory: string): void {
  expect(readdirSync(directory).filter((name) => name !== "spec.json")).toEqual([]);
}

describe("compose: bad specs", () => {
  it("malformed JSON names the file", () => {
    const result = composeWith('{"partitions": [ {"type": "esp", } ]');
    expectOneLineError(result, "spec.json", "not valid JSON", "fix the JSON syntax");
    expectNoOutput(result.directory);
  });
  it("an unknown key gets a did-you-mean with its JSON path", () => {
    const result = composeWith({ partitions: [{ type: "esp", sizeMinByte: "100M" }] });
    expectOneLineError(result, "partitions[0].sizeMinByte", 'did you mean "sizeMinBytes"');
    expectNoOutput(result.directory);
  });
  it("an unknown top-level key too", () => {
    expectOneLineError(composeWith({ partition: [] }), "partition: unknown key", 'did you mean "partitions"');
  });
  it("a bad size string", () => {
    const result = composeWith({ partitions: [{ type: "esp", sizeMinBytes: "12 parsecs" }] });
    expectOneLineError(result, "partitions[0].sizeMinBytes", "is not a size", '"512M"');
    expectNoOutput(result.directory);
  });
  it("a label longer than 36 UTF-16 units", () => {
    const result = composeWith({ partitions: [{ type: "linux-generic", label: "x".repeat(37) }] });
    expectOneLineError(result, "partitions[0].label", "at most 36");
    expectNoOutput(result.directory);
  });
  it("min > max", () => {
    const result = composeWith({ partitions: [{ type: "linux-generic", sizeMinBytes: "20M", sizeMaxBytes: "10M" }] });
    expectOneLineError(result, "partitions[0]", "SizeMinBytes=", "larger than SizeMaxBytes=");
    expectNoOutput(result.directory);
  });
  it("an unknown type", () => {
    const result = composeWith({ partitions: [{ type: "rooot" }] });
    expectOneLineError(result, "partitions[0].type", '"rooot"', 'did you mean "root"');
    expectNoOutput(result.directory);
  });
  it("an image too small for its partitions says the size needed", () => {
    const result = composeWith({ size: "8M", partitions: [{ type: "linux-generic", sizeMinBytes: "64M" }] });
    expectOneLineError(result, "can't fit", "minimal image size is");
    expectNoOutput(result.directory);
  });
  it("verity hash without its data partition", () => {
    const result = composeWith({ partitions: [{ type: "root-verity", verity: "hash", verityMatchKey: "root" }] });
    expectOneLineError(result, "partitions[0]", "missing verity data partition");
    expectNoOutput(result.directory);
  });
  it("verity signature without a key", () => {
    const result = composeWith({ partitions: [{ type: "root", copyBlocks: "x.img", verity: "data", verityMatchKey: "r" }, { type: "root-verity", verity: "hash", verityMatchKey: "r" }, { type: "root-verity-sig", verity: "signature", verityMatchKey: "r" }] });
    expectOneLineError(result, "partitions[2]", "no private key");
    expectNoOutput(result.directory);
  });
  it("verity on a writable filesystem", () => {
    const result = composeWith({ partitions: [{ type: "root", format: "vfat", makeDirectories: ["x"], verity: "data", verityMatchKey: "r" }, { type: "root-verity", verity: "hash", verityMatchKey: "r" }] });
    expectOneLineError(result, "partitions[0]", "writable vfat", "squashfs or erofs");
    expectNoOutput(result.directory);
  });
  it("an erofs compression gptimg does not write, and a level out of range", () => {
    const lzma = composeWith({ partitions: [{ type: "usr", format: "erofs", makeDirectories: ["x"], compression: "lzma" }] });
    expectOneLineError(lzma, "Compression=lzma is not supported for erofs", "use lz4, zstd, deflate or none");
    expectNoOutput(lzma.directory);
    const level = composeWith({ partitions: [{ type: "usr", format: "erofs", makeDirectories: ["x"], compression: "zstd", compressionLevel: 30 }] });
    expectOneLineError(level, "partitions[0]: CompressionLevel: compression level 30 is outside 1..22 for zstd");
    expectNoOutput(level.directory);
  });
  it("a boot section whose kernel is missing", () => {
    const result = composeWith({ boot: { systemdBoot: "sd-boot.efi", uki: { stub: "stub.efi", kernel: "vmlinuz", osRelease: { text: "ID=x\n" } } }, partitions: [{ type: "esp", format: "vfat" }] });
    expectOneLineError(result, "boot.uki.stub", "cannot read");
    expectNoOutput(result.directory);
  });
  it("a boot section without an ESP", () => {
    const result = composeWith({ boot: { systemdBoot: "sd-boot.efi", uki: { stub: "stub.efi", kernel: "vmlinuz", osRelease: { text: "ID=x\n" } } }, partitions: [{ type: "linux-generic" }] });
    expectOneLineError(result, "boot.esp", "no partition of type esp");
  });
  it("an ESP tree too big for its fixed size says how much is needed", () => {
    const directory = join(work, `case-${counter++}`);
    mkdirSync(join(directory, "esp"), { recursive: true });
    writeFileSync(join(directory, "esp", "big.bin"), new Uint8Array(3 * 1024 * 1024));
    writeFileSync(join(directory, "spec.json"), JSON.stringify({ partitions: [{ type: "linux-generic", format: "vfat", copyFiles: ["esp:/"], sizeMinBytes: "34M", sizeMaxBytes: "34M" }, { type: "esp", format: "vfat", copyFiles: ["esp:/"], sizeMaxBytes: "2M" }] }));
    const result = gptimg(["compose", join(directory, "spec.json"), "-o", join(directory, "out.raw")]);
    expectOneLineError(result, "partitions[1]", "the content needs", "raise SizeMaxBytes= to at least");
    expect(readdirSync(directory).sort()).toEqual(["esp", "spec.json"]);
  });
  it("a missing CopyBlocks= file", () => {
    const result = composeWith({ partitions: [{ type: "linux-generic", copyBlocks: "does-not-exist.img" }] });
    expectOneLineError(result, "does-not-exist.img", "check the path");
    expectNoOutput(result.directory);
  });
  it("a FAT case collision in the ESP tree names both paths and leaves no file", () => {
    const directory = join(work, `case-${counter++}`);
    mkdirSync(directory);
    writeFileSync(join(directory, "spec.json"), JSON.stringify({ partitions: [{ type: "esp", format: "vfat", copyFiles: ["tree:/"] }] }));
    mkdirSync(join(directory, "tree"));
    writeFileSync(join(directory, "tree", "A.TXT"), "a");
    writeFileSync(join(directory, "tree", "a.txt"), "b");
    const result = gptimg(["compose", join(directory, "spec.json"), "-o", join(directory, "out.raw")]);
    expectOneLineError(result, "a.txt");
    expect(readdirSync(directory).sort()).toEqual(["spec.json", "tree"]);
  });
});

describe("repart: bad definitions and images", () => {
  function repartWith(files: Record<string, string>, args: string[]): { stderr: string; status: number; directory: string } {
    const directory = join(work, `case-${counter++}`);
    mkdirSync(join(directory, "defs"), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(directory, "defs", name), text);
    const result = gptimg(["repart", `--definitions=${join(directory, "defs")}`, ...args.map((arg) => arg.replace("IMAGE", join(directory, "out.raw")))]);
    return { ...result, directory };
  }
  it("an unparsable size names file and line", () => {
    const result = repartWith({ "10-root.conf": "[Partition]\nType=root\nSizeMinBytes=huge\n" }, ["--empty=create", "--size=auto", "IMAGE"]);
    expectOneLineError(result, "10-root.conf:3", "SizeMinBytes=huge");
    expect(existsSync(join(result.directory, "out.raw"))).toBe(false);
  });
  it("a missing Type=", () => {
    const result = repartWith({ "10-x.conf": "[Partition]\nLabel=x\n" }, ["--empty=create", "--size=auto", "IMAGE"]);
    expectOneLineError(result, "10-x.conf", "Type= not defined");
    expect(existsSync(join(result.directory, "out.raw"))).toBe(false);
  });
  it("an unreadable definitions directory", () => {
    const result = gptimg(["repart", `--definitions=${join(work, "nope")}`, "--empty=create", "--size=auto", join(work, "nope.raw")]);
    expectOneLineError(result, "nope", "cannot read definitions directory");
    expect(existsSync(join(work, "nope.raw"))).toBe(false);
  });
  it.skipIf(isRoot)("a definitions directory without read permission", () => {
    const directory = join(work, "locked");
    mkdirSync(directory);
    chmodSync(directory, 0);
    expectOneLineError(gptimg(["repart", `--definitions=${directory}`, "--empty=create", "--size=auto", join(work, "locked.raw")]), "locked");
  });
  it("an existing non-GPT file is refused with repart's exit status 77 and left unchanged", () => {
    const directory = join(work, `case-${counter++}`);
    mkdirSync(directory);
    const image = join(directory, "mbr.raw");
    const bytes = new Uint8Array(4 * 1024 * 1024);
    bytes[510] = 0x55;
    bytes[511] = 0xaa;
    writeFileSync(image, bytes);
    const result = gptimg(["repart", "--dry-run=no", image]);
    expect(result.status).toBe(77);
    expect(result.stderr).toContain("has no GPT disk label");
    expect(readdirSync(directory)).toEqual(["mbr.raw"]);
  });
  it("--empty=create refuses to overwrite an existing file", () => {
    const image = join(work, "exists.raw");
    writeFileSync(image, "keep me");
    expectOneLineError(gptimg(["repart", "--empty=create", "--size=10M", image]), "already exists", "--empty=force");
  });
  it("overlapping partitions in an existing table are reported, not repartitioned", async () => {
    const { encodeGpt } = await import("../../lib/formats/gpt/encode.js");
    const encoded = encodeGpt({ sectorSize: 512, totalSectors: 20480, diskGuid: "6913f4b6-6690-4a57-a202-f1b53c56dbdf", entries: [
      { slot: 0, typeUuid: "0fc63daf-8483-4772-8e79-3d69d8477de4", uuid: "11111111-1111-4111-8111-111111111111", firstLba: 2048, lastLba: 4095, attributes: 0n, label: "a" },
      { slot: 1, typeUuid: "0fc63daf-8483-4772-8e79-3d69d8477de4", uuid: "22222222-2222-4222-8222-222222222222", firstLba: 4000, lastLba: 6000, attributes: 0n, label: "b" },
    ] });
    const image = join(work, "overlap.raw");
    const bytes = new Uint8Array(20480 * 512);
    bytes.set(encoded.primary, 0);
    bytes.set(encoded.backup, encoded.backupOffsetBytes);
    writeFileSync(image, bytes);
    expectOneLineError(gptimg(["repart", "--dry-run=no", image]), "overlap", "gptimg inspect");
    const inspect = gptimg(["inspect", image]);
    expect(inspect.status).toBe(3);
    expect(inspect.stdout).toContain("partitions 1 and 2 overlap");
  });
});

describe("flags", () => {
  it("an unknown flag is one line with a suggestion", () => {
    const result = gptimg(["repart", "--definition=x", "img"]);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("--definitions");
  });
  it("a bad --size / --seed / --empty", () => {
    expectOneLineError(gptimg(["repart", "--size=lots", "--empty=create", join(work, "s.raw")]), "--size", "is not a size");
    expectOneLineError(gptimg(["repart", "--seed=xyz", "--empty=create", "--size=1M", join(work, "s.raw")]), "--seed", "not a UUID");
    expectOneLineError(gptimg(["repart", "--empty=sometimes", join(work, "s.raw")]), "--empty=sometimes", "refuse, allow");
    expect(existsSync(join(work, "s.raw"))).toBe(false);
  });
  it("--help has examples", () => {
    for (const command of [[], ["compose"], ["repart"], ["inspect"]]) {
      const result = gptimg([...command, "--help"]);
      expect(result.status).toBe(0);
      expect(result.stdout).toContain("Examples:");
    }
  });
});

describe("compose --split", () => {
  it("an existing split file: refused, and the new image is not left behind", () => {
    const directory = join(work, "split-exists");
    mkdirSync(directory);
    writeFileSync(join(directory, "spec.json"), JSON.stringify({ partitions: [{ type: "esp", format: "vfat", entries: [{ path: "a", content: "a" }] }] }));
    writeFileSync(join(directory, "out.esp.raw"), "keep");
    const result = gptimg(["compose", join(directory, "spec.json"), "-o", join(directory, "out.raw"), "--split", "yes"]);
    expectOneLineError(result, "out.esp.raw", "already exists");
    expect(readdirSync(directory).sort()).toEqual(["out.esp.raw", "spec.json"]);
  });
});

describe("compose: bad A/B update keys", () => {
  const usrSlots = (extra: object = {}, hashExtra: object = {}) => ({
    imageId: "os",
    imageVersion: "1",
    update: { source: { path: "https://example.com/os" } },
    partitions: [
      { type: "usr", format: "erofs", entries: [{ path: "lib/os-release", content: "ID=os\n" }], verity: "data", verityMatchKey: "usr", slots: 2, slotSize: "8M", ...extra },
      { type: "usr-verity", verity: "hash", verityMatchKey: "usr", ...hashExtra },
    ],
  });
  const cases: Array<[string, object, string[]]> = [
    ["slots without slotSize", usrSlots({ slotSize: undefined }), ["partitions[0].slotSize: needed", '"slotSize": "1G"']],
    ["slots out of range", usrSlots({ slots: 1 }), ["partitions[0].slots", "from 2 to 16"]],
    ["a slotSize not a multiple of 4096", usrSlots({ slotSize: 5000 }), ["partitions[0].slotSize", "multiple of 4096"]],
    ["emptySlots misspelled", usrSlots({ emptySlots: "firstboot" }), ["partitions[0].emptySlots", '"first-boot"']],
    ["a label template without %A", usrSlots({ label: "%M_usr" }), ["label", "has no %A"]],
    ["a hash partition with other slots", usrSlots({}, { slots: 3 }), ["partitions[1].slots: 3", "its data partition has 2"]],
    ["slots without imageVersion", { ...usrSlots(), imageVersion: undefined }, ['"slots" need "imageId" and "imageVersion"']],
    ["an update section without source", { ...usrSlots(), update: {} }, ["update.source: missing", "url-file"]],
    ["an unknown runtime key", { ...usrSlots(), partitions: [...usrSlots().partitions, { type: "var", format: "ext4", inImage: false, runtime: { sizeMin: "1G" } }] }, ["partitions[2].runtime.sizeMin: unknown key"]],
    ["a version that makes a label longer than GPT allows", { ...usrSlots(), imageVersion: "1.0.0-rc1+build.20261122.abcdef0123" }, ["label", "at most 36"]],
    ["content bigger than its slot", usrSlots({ slotSize: "4096", entries: [{ path: "big", content: "x".repeat(300_000) }] }), ["partitions[0]", "slot A"]],
  ];
  it.each(cases)("%s", (_name, spec, fragments) => {
    const result = composeWith(spec);
    expectOneLineError(result, ...fragments);
    expectNoOutput(result.directory);
  });
  it("--artifacts for a spec without slots", () => {
    const result = composeWith({ partitions: [{ type: "esp", format: "vfat" }] }, ["--artifacts", join(work, "no-slots-artifacts")]);
    expectOneLineError(result, "--artifacts", "declares no update slots");
    expectNoOutput(result.directory);
    expect(existsSync(join(work, "no-slots-artifacts"))).toBe(false);
  });
  it("--artifacts into a directory that has files", () => {
    const artifacts = join(work, "full-artifacts");
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(join(artifacts, "keep.txt"), "x");
    const result = composeWith(usrSlots(), ["--artifacts", artifacts]);
    expectOneLineError(result, "full-artifacts", "not empty");
    expect(readdirSync(artifacts)).toEqual(["keep.txt"]);
    expectNoOutput(result.directory);
  });
});
