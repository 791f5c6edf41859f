/**
 * The JSON Schema of the compose spec, derived from the same key tables the reader uses so
 * the two cannot drift apart (spec/input/schema.spec.ts checks the published copy).
 */
import { typeIdentifiers } from "../formats/gpt/types.js";
import { BOOT_KEYS, PARTITION_KEYS, TOP_LEVEL_KEYS, UKI_KEYS } from "./spec.js";
import { RUNTIME_KEYS, UPDATE_KEYS } from "./update-keys.js";

const SIZE = { oneOf: [{ type: "integer", minimum: 0 }, { type: "string", pattern: "^\\s*\\d+(\\.\\d+)?\\s*[KMGTPEkmgtpe]?[Bb]?(\\s*\\d+(\\.\\d+)?\\s*[KMGTPEkmgtpe]?[Bb]?)*\\s*$" }], description: 'bytes, or a size like "512M" (base 1024, as repart)' };

const MODE = { oneOf: [{ type: "string", pattern: "^[0-7]{1,4}$" }, { type: "integer", minimum: 0, maximum: 4095 }], description: 'octal string like "0755"' };
const ID = { type: "integer", minimum: 0, maximum: 4294967294 };

const IMAGE_FORMATS = ["vfat", "squashfs", "erofs", "swap"];

const PARTITION_DESCRIPTIONS: Record<string, string> = {
  type: "repart Type=: an identifier (root, usr-verity, esp, …, per architecture) or a type UUID",
  label: "GPT partition name, at most 36 UTF-16 units; specifiers %a %A %M %o %w %B %W %%",
  uuid: 'partition UUID, or "null" for all zeros; default derived from the seed',
  copyBlocks: "image file copied verbatim into the partition (relative to the spec file)",
  format: "vfat, squashfs, erofs or swap, written by gptimg itself; with inImage false any format systemd-repart makes at first boot (ext4, btrfs, xfs, …)",
  copyFiles: '"SRC[:DST]": a directory, tar archive (.tar, .tar.gz, .tar.xz, .tar.zst) or file; later wins',
  verity: "off, data, hash or signature (dm-verity, linked by verityMatchKey)",
  compression: "squashfs: gzip (default), zstd or none; erofs: none (default), lz4 (or lz4hc), zstd or deflate",
  compressionLevel: "gzip and deflate 1..9 (default 9), lz4 1..12 (default 9), zstd 1..22 (default 15)",
  minimize: 'off, best (or true) or guess; read-only and verity partitions fit their content by default',
  allRootOwned: "uid/gid 0 for every entry, e.g. for a directory read by an unprivileged user (gptimg extension)",
  xattrs: "read extended attributes of directory sources (default true; gptimg extension)",
  slots: "A/B(/C) slots for this versioned partition (on a verity data partition its hash and signature follow); slot A holds imageVersion, the others are labelled _empty",
  slotSize: "size of every slot (required with slots; hash slots hold the tree of a full slot, signature slots are 16 KiB)",
  inImage: "false: not in the image; systemd-repart creates it at first boot from the generated repart.d",
};

function partitionProperty(key: string, kind: string): object {
  const description = PARTITION_DESCRIPTIONS[key] ? { description: PARTITION_DESCRIPTIONS[key] } : {};
  switch (kind) {
    case "size": return { ...SIZE, ...description };
    case "integer": return { type: "integer", ...description };
    case "boolean": return { type: "boolean", ...description };
    case "strings": return { type: "array", items: { type: "string" }, ...description };
    case "flags": return { oneOf: [{ type: "integer", minimum: 0 }, { type: "string", pattern: "^(0x[0-9a-fA-F]+|0b[01]+|\\d+)$" }], description: "64-bit GPT attribute bits" };
    case "minimize": return { oneOf: [{ type: "boolean" }, { enum: ["off", "best", "guess"] }], ...description };
    case "emptySlots": return { enum: ["image", "first-boot"], description: 'where the "_empty" slots B, C … are: in the image (default) or created by systemd-repart at first boot' };
    case "runtime": return {
      type: "object",
      additionalProperties: false,
      description: "repart.d keys for this partition at first boot (generated /usr/lib/repart.d); sizes as bytes or \"1G\"",
      properties: { sizeMinBytes: SIZE, sizeMaxBytes: SIZE, weight: { type: "integer", minimum: 0 }, paddingWeight: { type: "integer", minimum: 0 }, factoryReset: { type: "boolean" }, format: { type: "string" }, encrypt: { enum: ["off", "key-file", "tpm2", "key-file+tpm2"] }, label: { type: "string" }, makeDirectories: { type: "array", items: { type: "string" } } },
    };
    case "stringOrInteger": return { type: ["string", "integer"], ...description };
    case "entries": return { type: "array", description: "files, directories and symlinks written in the spec (gptimg extension)", items: { type: "object", additionalProperties: false, required: ["path"], properties: { path: { type: "string" }, type: { enum: ["file", "dir", "symlink"] }, content: { type: "string" }, contentFrom: { type: "string" }, target: { type: "string" }, mode: MODE, uid: ID, gid: ID } } };
    case "overrides": return { type: "array", description: "owner/group/mode per path or glob; later wins (gptimg extension)", items: { type: "object", additionalProperties: false, required: ["path"], properties: { path: { type: "string" }, mode: MODE, uid: ID, gid: ID } } };
    default:
      if (key === "type") return { anyOf: [{ enum: typeIdentifiers() }, { type: "string", pattern: "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$" }], ...description };
      if (key === "verity") return { enum: ["off", "data", "hash", "signature"], ...description };
      if (key === "format") return { type: "string", ...description };
      return { type: "string", ...description };
  }
}

export function specJsonSchema(): object {
  const partitionProperties = Object.fromEntries(Object.entries(PARTITION_KEYS).map(([key, kind]) => [key, partitionProperty(key, kind)]));
  const file = { type: "string", description: "path relative to the spec file" };
  const topLevel: Record<string, object> = {
    $schema: { type: "string" },
    seed: { type: "string", description: 'UUID keying every derived UUID (repart --seed=); "random" for random; default: gptimg\'s fixed seed' },
    architecture: { type: "string", description: "DPS architecture for host-relative types: x86-64 (default), arm64, riscv64, x86, arm, loongarch64, …" },
    size: { oneOf: [{ const: "auto" }, SIZE], description: '"auto" (default: exactly what the partitions need) or the image size' },
    sectorSize: { enum: [512, 4096] },
    imageId: { type: "string", description: "IMAGE_ID (%M)" },
    imageVersion: { type: "string", description: "IMAGE_VERSION (%A)" },
    sourceDateEpoch: { type: "integer", minimum: 0, description: "clamps mtimes; default $SOURCE_DATE_EPOCH" },
    signing: { type: "object", additionalProperties: false, required: ["privateKey", "certificate"], properties: { privateKey: file, certificate: file }, description: "PEM key and certificate for verity signature partitions" },
    boot: {
      type: "object",
      additionalProperties: false,
      required: ["systemdBoot", "uki"],
      description: "systemd-boot + a UKI in the ESP; the UKI command line gets roothash=/usrhash= of this image's verity partitions",
      properties: {
        esp: { type: "integer", minimum: 0, description: "index of the ESP in partitions (default: the first esp)" },
        systemdBoot: file,
        loaderConf: { type: "string", description: "loader/loader.conf text" },
        secureBoot: { type: "object", additionalProperties: false, required: ["privateKey", "certificate"], properties: { privateKey: file, certificate: file }, description: "sign systemd-boot and the UKI (Authenticode)" },
        uki: {
          type: "object",
          additionalProperties: false,
          required: ["stub", "kernel", "osRelease"],
          properties: {
            stub: file,
            kernel: file,
            initrds: { type: "array", items: { type: "object", additionalProperties: false, properties: { file, tree: file, compression: { enum: ["zstd", "gzip", "none"] } } } },
            cmdline: { type: "string" },
            osRelease: { oneOf: [file, { type: "object", required: ["text"], properties: { text: { type: "string" } } }] },
            uname: { type: "string" },
            sbat: { type: "string" },
            id: { type: "string" },
            version: { type: "string" },
            triesLeft: { type: "integer", minimum: 0 },
          },
        },
      },
    },
    update: {
      type: "object",
      additionalProperties: false,
      required: ["source"],
      description: "A/B updates: generated sysupdate.d transfers and repart.d files, artifact names (compose --artifacts)",
      properties: {
        source: { type: "object", additionalProperties: false, required: ["path"], properties: { type: { enum: ["url-file", "url-tar", "regular-file", "directory", "tar"] }, path: { type: "string" } }, description: "sysupdate [Source]: where devices fetch the artifacts" },
        definitionsIn: { enum: ["usr", "root", "none"], description: "partition whose tree gets /usr/lib/repart.d and /usr/lib/sysupdate.d (default usr, else root)" },
        instancesMax: { type: "integer", minimum: 1, description: "UKIs kept in the ESP (default 2)" },
        artifactCompression: { oneOf: [{ enum: ["zstd", "gzip", "none"] }, { type: "array", items: { enum: ["zstd", "gzip", "none"] } }], description: 'default ["zstd", "gzip"]; the transfers match .gz when it is written (systemd-sysupdate < 258 cannot unpack zstd)' },
        verify: { type: "boolean", description: "sysupdate Verify= (needs a signed SHA256SUMS.gpg; default false)" },
        transfers: { type: "boolean", description: "generate sysupdate.d transfers (default true)" },
        repartDefinitions: { type: "boolean", description: "generate repart.d for first boot (default true)" },
        transferSuffix: { enum: [".transfer", ".conf"], description: '".transfer" (systemd >= 257, default) or ".conf"' },
      },
    },
    partitions: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["type"],
        properties: partitionProperties,
        // gptimg writes these itself; a partition made at first boot gets any format systemd-repart knows.
        if: { required: ["inImage"], properties: { inImage: { const: false } } },
        else: { properties: { format: { enum: IMAGE_FORMATS } } },
      },
    },
  };
  for (const key of TOP_LEVEL_KEYS) if (!(key in topLevel)) throw new Error(`internal: schema lacks top-level key ${key}`);
  for (const key of UPDATE_KEYS) if (!(key in (topLevel["update"] as { properties: object }).properties)) throw new Error(`internal: schema lacks update.${key}`);
  for (const key of RUNTIME_KEYS) if (!(key in (partitionProperty("runtime", "runtime") as { properties: object }).properties)) throw new Error(`internal: schema lacks runtime.${key}`);
  for (const key of [...BOOT_KEYS]) if (!(key in (topLevel["boot"] as { properties: object }).properties)) throw new Error(`internal: schema lacks boot.${key}`);
  for (const key of [...UKI_KEYS]) if (!(key in ((topLevel["boot"] as { properties: { uki: { properties: object } } }).properties.uki.properties))) throw new Error(`internal: schema lacks boot.uki.${key}`);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "gptimg compose spec",
    type: "object",
    additionalProperties: false,
    required: ["partitions"],
    properties: topLevel,
  };
}
