/**
 * The Linux kernel as the oracle: Debian's kernel is booted directly in QEMU with an initrd of
 * two concatenated archives built here (an uncompressed "early" archive first, as microcode is,
 * then the main archive compressed with zstd or gzip). Its /init (busybox) reports what the
 * kernel's initramfs unpacker made of hardlinks, modes, owners, device numbers, symlinks,
 * UTF-8 names and the early archive; the test compares those lines.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { utf8 } from "../../../lib/core/bytes.js";
import { concatenateInitrds, writeCpio } from "../../../lib/formats/cpio/write.js";
import type { InitrdCompression } from "../../../lib/formats/cpio/compress.js";
import { BytesSource, FileSliceSource } from "../../../lib/io/source.js";
import { MemorySink } from "../../../lib/io/stream.js";
import { TreeBuilder } from "../../../lib/tree/builder.js";
import type { DirNode, Meta } from "../../../lib/tree/tree.js";
import { oraclesAvailable } from "../../support/oracles.js";
import { bootParts } from "../../boot/parts.js";

const MARKER = "GPTIMG-CPIO-KERNEL-DONE";
const parts = oraclesAvailable("qemu-system-x86_64") ? bootParts() : undefined;
const meta = (mode: number, uid = 0, gid = 0): Meta => ({ mode, uid, gid, mtime: 1_700_000_000, xattrs: [] });

const INIT_SCRIPT = `#!/bin/busybox sh
B=/bin/busybox
echo
echo "EARLY:$($B cat /early/marker.txt)"
echo "HARDLINK:$($B stat -c %h /data/a):$([ /data/a -ef /data/sub/b ] && echo same):$($B cat /data/sub/b)"
echo "SUID:$($B stat -c '%a %u:%g' /data/suid)"
echo "OWNED:$($B stat -c '%a %u:%g' /data/owned)"
echo "DEV:$($B stat -c '%F %t:%T' /dev/gptimg-null)"
echo "LINK:$($B readlink /data/link)"
echo "UTF8:$($B cat '/data/héllo ✓ 😀')"
echo "DIR:$($B stat -c '%a %u:%g' /data/sticky)"
echo "${MARKER}"
$B poweroff -f
`;

function mainTree(busyboxPath: string): DirNode {
  const builder = new TreeBuilder();
  builder.addDirectory("bin", meta(0o755));
  builder.addFile("bin/busybox", meta(0o755), new FileSliceSource(busyboxPath, 0, statSync(busyboxPath).size));
  builder.addFile("init", meta(0o755), new BytesSource(utf8(INIT_SCRIPT)));
  builder.addDirectory("dev", meta(0o755));
  builder.addDevice("dev/console", "chardev", meta(0o600), 5, 1);
  builder.addDevice("dev/gptimg-null", "chardev", meta(0o666), 1, 3);
  builder.addFile("data/a", meta(0o644), new BytesSource(utf8("shared")));
  builder.addHardlink("data/sub/b", "data/a");
  builder.addFile("data/suid", meta(0o4755), new BytesSource(utf8("x")));
  builder.addFile("data/owned", meta(0o640, 1234, 5678), new BytesSource(utf8("y")));
  builder.addSymlink("data/link", meta(0o777), "../bin/busybox");
  builder.addFile("data/héllo ✓ 😀", meta(0o644), new BytesSource(utf8("unicode")));
  builder.addDirectory("data/sticky", meta(0o1777, 7, 8));
  return builder.build();
}

function earlyTree(): DirNode {
  const builder = new TreeBuilder();
  builder.addFile("early/marker.txt", meta(0o644), new BytesSource(utf8("EARLY-OK")));
  return builder.build();
}

async function bytesOf(tree: DirNode, compression: InitrdCompression): Promise<Uint8Array> {
  const sink = new MemorySink();
  await writeCpio(tree, sink, { compression });
  return sink.bytes();
}

function bootKernel(vmlinuz: string, initrd: string, timeoutSeconds: number): Promise<string> {
  const accelerator = process.env["GPTIMG_BOOT_ACCEL"] === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg"];
  const qemu = spawn("qemu-system-x86_64", [
    ...accelerator, "-machine", "q35", "-m", "512", "-smp", "1", "-nographic", "-no-reboot",
    "-kernel", vmlinuz, "-initrd", initrd, "-append", "console=ttyS0 rdinit=/init panic=-1 loglevel=4",
  ]);
  return new Promise((resolve) => {
    let log = "";
    const timer = setTimeout(() => qemu.kill("SIGKILL"), timeoutSeconds * 1000);
    qemu.stdout.on("data", (chunk: Buffer) => {
      log += chunk.toString("utf8");
      if (log.includes(`\n${MARKER}`)) setTimeout(() => qemu.kill("SIGKILL"), 2000);
    });
    qemu.stderr.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
    qemu.on("close", () => {
      clearTimeout(timer);
      // SeaBIOS and the kernel write terminal escapes (ESC [ … letter) onto the serial line.
      resolve(log.replace(/\r/g, "").replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ""));
    });
  });
}

describe.skipIf(!parts)("the kernel unpacks our concatenated initrds", () => {
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-cpio-kernel-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it.each(["zstd", "gzip"] as const)("uncompressed early archive + %s main archive", async (compression) => {
    const early = await bytesOf(earlyTree(), "none");
    const main = await bytesOf(mainTree(parts!.busybox), compression);
    const sink = new MemorySink();
    await concatenateInitrds({ microcode: [new BytesSource(early, "early.cpio")], initrds: [new BytesSource(main, `main.cpio.${compression}`)] }, sink);
    const initrd = join(scratch, `initrd-${compression}.img`);
    writeFileSync(initrd, sink.bytes());
    const log = await bootKernel(parts!.vmlinuz, initrd, 240);
    const lines = log.split("\n").map((line) => line.trim());
    expect(lines, log.slice(-3000)).toContain(MARKER);
    expect(lines, log.slice(-3000)).toContain("EARLY:EARLY-OK");
    expect(lines).toContain("HARDLINK:2:same:shared");
    expect(lines).toContain("SUID:4755 0:0");
    expect(lines).toContain("OWNED:640 1234:5678");
    expect(lines).toContain("DEV:character special file 1:3");
    expect(lines).toContain("LINK:../bin/busybox");
    expect(lines).toContain("UTF8:unicode");
    expect(lines).toContain("DIR:1777 7:8");
  });
});
