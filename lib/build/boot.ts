/**
 * The boot chain in one pass (issue 7): the ESP partition's content is systemd-boot plus a
 * UKI whose command line carries the verity root hashes of the same image. Its size is
 * planned before placement with a same-length placeholder hash (a SHA-256 hex root hash is
 * always 64 characters), and the ESP is written after the verity partitions, with the real
 * hashes. Order: data → verity root hash → cmdline → UKI → (Secure Boot signature) → ESP.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import { writeCpio } from "../formats/cpio/write.js";
import type { InitrdCompression } from "../formats/cpio/compress.js";
import { planFat } from "../formats/fat/plan.js";
import { writeFat } from "../formats/fat/write.js";
import { signPe, signPeSource } from "../formats/pe/authenticode.js";
import { espTree, ukiFileName } from "../formats/pe/esp.js";
import { planUki, ukiSource } from "../formats/pe/uki.js";
import { FileSink } from "../io/sink.js";
import { OffsetSink } from "../io/stream.js";
import { FileSliceSource, sourceChunks, type ByteSource } from "../io/source.js";
import type { PartitionDefinition } from "../plan/definition.js";
import { fatVolumeId } from "../plan/ids.js";
import { treeFromDirectory } from "../tree/from-dir.js";
import { treeFromTar } from "../tree/from-tar.js";
import { walkTree, type DirNode } from "../tree/tree.js";
import { TreeBuilder } from "../tree/builder.js";
import type { PartitionContent, VerityDependency } from "./content.js";
import { espMinimumBytes, type ContentContext, type ContentIdentity } from "./contents.js";

export interface BootInitrd {
  /** A prebuilt initrd file (cpio, possibly compressed), used as is. */
  readonly file?: string;
  /** A directory or tar archive packed into a newc cpio by gptimg. */
  readonly tree?: string;
  readonly compression?: InitrdCompression;
}

export interface BootRequest {
  /** Where messages point, e.g. "spec.json: boot". */
  readonly where: string;
  readonly systemdBoot: string;
  readonly loaderConf: string | undefined;
  readonly stub: string;
  readonly kernel: string;
  readonly initrds: readonly BootInitrd[];
  /** Base command line; roothash=/usrhash= are appended for the image's verity partitions. */
  readonly cmdline: string;
  readonly osRelease: string;
  readonly uname: string | undefined;
  readonly sbat: string | undefined;
  readonly ukiName: { readonly id: string; readonly version: string | undefined; readonly triesLeft: number | undefined };
  readonly secureBoot: { readonly privateKeyPem: string; readonly certificatePem: string } | undefined;
  /** Also write the final UKI here (the update artifact of compose --artifacts). */
  readonly ukiCopyPath?: string;
}

/** Stands in for a SHA-256 root hash (always 64 hex digits) while sizes are planned. */
export const PLACEHOLDER_HASH = "0".repeat(64);

/** The kernel command line: the base, then roothash=/usrhash= for each verity data partition. */
export function bootCommandLine(base: string, verity: readonly VerityDependency[]): string {
  const hashes = verity.map((outcome) => `${outcome.designator === "usr" ? "usrhash" : "roothash"}=${typeof outcome.rootHash === "string" ? outcome.rootHash : toHex(outcome.rootHash)}`);
  return [base.trim(), ...hashes].filter((part) => part !== "").join(" ");
}

function readInput(path: string, what: string, where: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    return fail(ErrorCode.Input, `${where}.${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path (relative to the spec file)");
  }
}

function fileSource(path: string, what: string, where: string): ByteSource {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    return fail(ErrorCode.Input, `${where}.${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path (relative to the spec file)");
  }
  return new FileSliceSource(path, 0, size, path);
}

async function initrdSource(initrd: BootInitrd, index: number, request: BootRequest, context: ContentContext): Promise<ByteSource> {
  const where = `${request.where}.uki.initrds[${index}]`;
  if ((initrd.file === undefined) === (initrd.tree === undefined)) fail(ErrorCode.Spec, `${where}: needs exactly one of "file" and "tree"`, 'e.g. {"tree": "initrd/", "compression": "zstd"}');
  if (initrd.file !== undefined) return fileSource(initrd.file, "file", where);
  const path = initrd.tree!;
  const isDirectory = statSync(path, { throwIfNoEntry: false })?.isDirectory();
  if (isDirectory === undefined) fail(ErrorCode.Input, `${where}.tree: ${path} does not exist`, "give a directory or tar archive");
  const tree = isDirectory
    ? await treeFromDirectory(path, { sourceDateEpoch: context.sourceDateEpoch, allRootOwned: true, xattrs: false })
    : await treeFromTar(path, { scratchDirectory: context.scratchDirectory, sourceDateEpoch: context.sourceDateEpoch });
  const spool = join(context.scratchDirectory, `initrd-${index}.cpio`);
  const sink = await FileSink.create(spool, 0);
  // The spool grows to whatever the archive needs.
  const target = new OffsetSink(sink, 0, Number.POSITIVE_INFINITY, spool);
  try {
    await writeCpio(tree, target, { compression: initrd.compression ?? "zstd", description: `${where}.compression` });
    await sink.truncate(target.position);
  } finally {
    await sink.close();
  }
  return new FileSliceSource(spool, 0, target.position, `${where} (cpio)`);
}

async function copySource(source: ByteSource, path: string): Promise<void> {
  const sink = await FileSink.create(path, source.size);
  try {
    const target = new OffsetSink(sink, 0, source.size, path);
    for await (const chunk of sourceChunks(source, 1024 * 1024)) await target.write(chunk);
  } finally {
    await sink.close();
  }
}

/** Overlays `top` onto `base` (top wins), for an ESP that also has copyFiles= content. */
function overlay(base: DirNode, top: DirNode): DirNode {
  const builder = new TreeBuilder(base.meta);
  for (const tree of [base, top]) {
    for (const { path, node } of walkTree(tree)) {
      if (path === "") continue;
      if (node.kind === "dir") builder.addDirectory(path, node.meta);
      else builder.addNode(path, node);
    }
  }
  return builder.build();
}

export async function bootEspContent(definition: PartitionDefinition, baseTree: DirNode | undefined, identity: ContentIdentity, request: BootRequest, context: ContentContext, verityPlaceholders: readonly VerityDependency[]): Promise<PartitionContent> {
  const where = request.where;
  const stub = readInput(request.stub, "uki.stub", where);
  const systemdBootBytes = readInput(request.systemdBoot, "systemdBoot", where);
  const systemdBoot = request.secureBoot ? await signPe(systemdBootBytes, request.secureBoot.privateKeyPem, request.secureBoot.certificatePem, { imageWhere: `${where}.systemdBoot` }) : systemdBootBytes;
  const linux = fileSource(request.kernel, "uki.kernel", where);
  const initrds: ByteSource[] = [];
  for (const [index, initrd] of request.initrds.entries()) initrds.push(await initrdSource(initrd, index, request, context));
  const fileName = ukiFileName({ id: request.ukiName.id, ...(request.ukiName.version !== undefined ? { version: request.ukiName.version } : {}), ...(request.ukiName.triesLeft !== undefined ? { triesLeft: request.ukiName.triesLeft } : {}) }, `${where}.uki`);

  const espFor = async (verity: readonly VerityDependency[]): Promise<{ tree: DirNode; uki: ByteSource }> => {
    const plan = await planUki({
      stub,
      linux,
      initrds,
      cmdline: bootCommandLine(request.cmdline, verity),
      osrel: request.osRelease,
      ...(request.uname !== undefined ? { uname: request.uname } : {}),
      ...(request.sbat !== undefined ? { sbat: request.sbat } : {}),
      ...(context.sourceDateEpoch !== undefined ? { timeDateStamp: context.sourceDateEpoch } : {}),
    });
    const unsigned = ukiSource(plan, `${where}.uki`);
    const uki = request.secureBoot ? await signPeSource(unsigned, request.secureBoot.privateKeyPem, request.secureBoot.certificatePem, { imageWhere: `${where}.uki` }) : unsigned;
    const tree = await espTree({ systemdBoot, uki, ukiFileName: fileName, loaderConf: request.loaderConf, mtime: context.sourceDateEpoch ?? 0 });
    return { tree: baseTree ? overlay(baseTree, tree) : tree, uki };
  };
  const fat = (tree: DirNode, sizeBytes?: number) =>
    planFat({
      tree,
      ...(sizeBytes !== undefined ? { sizeBytes } : { minSizeBytes: espMinimumBytes(context.sectorSize) }),
      sectorSize: context.sectorSize as 512 | 4096,
      label: identity.label,
      volumeId: fatVolumeId(identity.filesystemUuid),
      grainBytes: context.grainBytes,
      where: definition.source,
    });
  const smallest = fat((await espFor(verityPlaceholders)).tree);
  return {
    minimumBytes: smallest.sizeBytes,
    needsVerity: true,
    async write(sink, partitionSizeBytes, dependencies) {
      const { tree, uki } = await espFor(dependencies.verity);
      await writeFat(fat(tree, partitionSizeBytes), sink);
      if (request.ukiCopyPath !== undefined) await copySource(uki, request.ukiCopyPath);
    },
  };
}

