/**
 * Test-only: build an erofs image into the trixie chroot's /tmp, and read it back with the real
 * readers (fsck.erofs 1.8 inside the chroot, the host kernel through a loop mount).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeAtomically } from "../../../../lib/io/sink.js";
import { OffsetSink } from "../../../../lib/io/stream.js";
import { compressErofsFiles, type ErofsCompressionOptions } from "../../../../lib/formats/erofs/compress.js";
import { planErofs, type ErofsOptions, type ErofsPlan } from "../../../../lib/formats/erofs/plan.js";
import { writeErofs } from "../../../../lib/formats/erofs/write.js";
import type { DirNode } from "../../../../lib/tree/tree.js";
import { run, runInTrixie, runOk, TRIXIE_ROOT } from "../../../support/oracles.js";
import { snapshotHostDirectory, type EntrySnapshot } from "./host-tree.js";

export const TEST_UUID = "5d1c2b7a-3e4f-4a5b-8c6d-7e8f90a1b2c3";

/** A fresh scratch directory inside the chroot (so fsck.erofs there can see it). */
export function chrootScratch(prefix: string): string {
  runOk("mkdir", ["-p", join(TRIXIE_ROOT, "tmp")]);
  return mkdtempSync(join(TRIXIE_ROOT, "tmp", `${prefix}-`));
}

export function insideChroot(hostPath: string): string {
  return hostPath.slice(TRIXIE_ROOT.length);
}

/** Plans and writes the image; with `compression`, compresses first (spool next to the image, removed after). */
export async function buildImage(tree: DirNode, options: ErofsOptions, imagePath: string, compression?: ErofsCompressionOptions, concurrency = 2): Promise<ErofsPlan> {
  const spoolPath = `${imagePath}.clusters`;
  try {
    const compressed = compression ? await compressErofsFiles(tree, compression, { concurrency, spoolPath }) : undefined;
    const plan = planErofs(tree, { ...options, ...(compressed ? { compressed } : {}) });
    await writeAtomically(imagePath, plan.sizeBytes, (sink) => writeErofs(plan, new OffsetSink(sink, 0, plan.sizeBytes, "erofs image")));
    return plan;
  } finally {
    rmSync(spoolPath, { force: true });
  }
}

/** fsck.erofs 1.8 full check (every file's data is read); returns its output, throws on failure. */
export function fsckErofs(imagePath: string): string {
  const result = runInTrixie("fsck.erofs", ["--extract", insideChroot(imagePath)]);
  if (result.status !== 0) throw new Error(`fsck.erofs failed (${result.status}): ${result.stderr}${result.stdout}`);
  return result.stdout + result.stderr;
}

/** fsck.erofs --extract with xattrs, owners and exact permissions; returns the host path. */
export function extractWithFsck(imagePath: string, directory: string): string {
  const result = runInTrixie("fsck.erofs", [`--extract=${insideChroot(directory)}`, "--xattrs", "--preserve", "--force", insideChroot(imagePath)]);
  if (result.status !== 0) throw new Error(`fsck.erofs --extract failed (${result.status}): ${result.stderr}${result.stdout}`);
  return directory;
}

/** Loop-mounts the image read-only on the host kernel, snapshots it, always unmounts. */
export async function snapshotKernelMount(imagePath: string): Promise<Map<string, EntrySnapshot>> {
  const mountPoint = mkdtempSync(join(TRIXIE_ROOT, "tmp", "erofs-mnt-"));
  runOk("mount", ["-o", "loop,ro", "-t", "erofs", imagePath, mountPoint]);
  try {
    return await snapshotHostDirectory(mountPoint);
  } finally {
    run("umount", [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
}
