/**
 * Extended attributes of host files. Node has no xattr API, so gptimg runs `getfattr` (attr
 * package): `-h` reads a link itself (lgetxattr), `-m -` selects every namespace (security.*,
 * system.posix_acl_*, user.*, trusted.* as far as the caller may read them), `-e hex` makes
 * binary values unambiguous. A tree is read by one `getfattr -R -P` (physical walk: symlinks
 * are reported, never followed), or over batches of scanned paths when it has mount points.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fromHex, fromUtf8, utf8 } from "../core/bytes.js";
import { ErrorCode, fail } from "../core/errors.js";
import type { Xattr } from "./tree.js";

/** Keeps each getfattr command line far below ARG_MAX (2 MiB on Linux, incl. environment). */
const BATCH_ARGUMENT_BYTES = 256 * 1024;
/**
 * Batches started while the caller is still adding paths (its scan blocks the event loop, so
 * these children run alongside it on other cores); later batches run one after another in
 * finish(), which bounds the processes a huge tree starts at once.
 */
const EARLY_BATCHES = 2;

/**
 * The xattrs of every path of a tree scan. finish() gives host path → its xattrs (sorted by
 * name); paths without xattrs are absent, and paths the scan skipped may be present.
 */
export class HostXattrReader {
  private batch: string[] = [];
  private batchBytes = 0;
  private readonly batches: string[][] = [];
  private readonly early: Promise<Uint8Array>[] = [];

  private constructor(private readonly wholeTree: Promise<Uint8Array> | undefined) {}

  /**
   * Starts one `getfattr -R` over the tree at `rootPath` right away, so that it runs alongside
   * the caller's scan; add() is then a no-op. getfattr -R would walk into other file systems
   * mounted below the root (a chroot's /proc), which the scan does not enter: then the paths
   * the caller add()s are read in batches instead.
   */
  static forTree(rootPath: string): HostXattrReader {
    if (rootPath === "/" || hasMountsBelow(rootPath)) return new HostXattrReader(undefined);
    return new HostXattrReader(guarded(runGetfattr(["-R", "-P", "--", rootPath])));
  }

  add(hostPath: string): void {
    if (this.wholeTree) return;
    this.batch.push(hostPath);
    this.batchBytes += Buffer.byteLength(hostPath) + 1;
    if (this.batchBytes >= BATCH_ARGUMENT_BYTES) this.closeBatch();
  }

  async finish(): Promise<Map<string, Xattr[]>> {
    const result = new Map<string, Xattr[]>();
    if (this.wholeTree) {
      parseGetfattrOutput(await this.wholeTree, result);
      return result;
    }
    if (this.batch.length > 0) this.closeBatch();
    for (const [index, paths] of this.batches.entries()) {
      parseGetfattrOutput(await (this.early[index] ?? runGetfattr(["--", ...paths])), result);
    }
    return result;
  }

  private closeBatch(): void {
    this.batches.push(this.batch);
    if (this.early.length < EARLY_BATCHES) this.early.push(guarded(runGetfattr(["--", ...this.batch])));
    this.batch = [];
    this.batchBytes = 0;
  }
}

/** A failure is rethrown by finish(); a caller that gives up before then must not see it as unhandled. */
function guarded<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Whether /proc/self/mountinfo lists a mount point below `rootPath` (field 5, with space, tab,
 * newline and backslash as octal escapes: proc(5)). Unreadable counts as yes.
 */
function hasMountsBelow(rootPath: string): boolean {
  let mountinfo: Uint8Array;
  try {
    mountinfo = readFileSync("/proc/self/mountinfo");
  } catch {
    return true;
  }
  const prefix = `${rootPath}/`;
  return new TextDecoder()
    .decode(mountinfo)
    .split("\n")
    .some((line) => {
      const mountPoint = line.split(" ")[4];
      return mountPoint !== undefined && unescapeGetfattrPath(utf8(mountPoint)).startsWith(prefix);
    });
}

/** Runs getfattr with the common options and `args` (paths, or -R and a root). */
function runGetfattr(args: readonly string[]): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn("getfattr", ["-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", ...args], { env: { ...process.env, LC_ALL: "C" } });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") {
        reject(gptimgFailure(() => fail(ErrorCode.Input, "reading xattrs of a directory source needs getfattr, which is not installed", 'install the "attr" package or set xattrs: false')));
      } else reject(error);
    });
    child.on("close", (status) => {
      if (status !== 0) {
        const message = Buffer.concat(stderr).toString("utf8").trim().split("\n")[0] ?? "";
        reject(gptimgFailure(() => fail(ErrorCode.Input, `reading xattrs failed: ${message}`, "check permissions on the source tree, or set xattrs: false")));
        return;
      }
      resolve(new Uint8Array(Buffer.concat(stdout)));
    });
  });
}

function gptimgFailure(thrower: () => never): unknown {
  try {
    return thrower();
  } catch (error) {
    return error;
  }
}

/** getfattr (and mountinfo) write a path with `\ooo` octal escapes for '\\', control characters and newlines. */
export function unescapeGetfattrPath(raw: Uint8Array): string {
  const bytes: number[] = [];
  for (let index = 0; index < raw.length; index++) {
    const byte = raw[index]!;
    if (byte === 0x5c && index + 3 < raw.length && isOctal(raw[index + 1]) && isOctal(raw[index + 2]) && isOctal(raw[index + 3])) {
      bytes.push(((raw[index + 1]! - 0x30) << 6) | ((raw[index + 2]! - 0x30) << 3) | (raw[index + 3]! - 0x30));
      index += 3;
    } else bytes.push(byte);
  }
  return fromUtf8(Uint8Array.from(bytes));
}

function isOctal(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}

/** Parses "# file: PATH\nname=0xHEX\n…\n\n" blocks into `into`. */
export function parseGetfattrOutput(output: Uint8Array, into: Map<string, Xattr[]>): void {
  const filePrefix = "# file: ";
  let current: Xattr[] | undefined;
  let start = 0;
  while (start < output.length) {
    let end = output.indexOf(0x0a, start);
    if (end < 0) end = output.length;
    const line = output.subarray(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    const text = new TextDecoder().decode(line);
    if (text.startsWith(filePrefix)) {
      current = [];
      into.set(unescapeGetfattrPath(line.subarray(filePrefix.length)), current);
      continue;
    }
    if (!current) continue;
    const equals = text.indexOf("=");
    const name = equals < 0 ? text : text.slice(0, equals);
    const value = equals < 0 ? "" : text.slice(equals + 1);
    if (value !== "" && !value.startsWith("0x")) throw new Error(`internal: getfattr printed a non-hex value for ${name}`);
    current.push({ name, value: fromHex(value.slice(2)) });
  }
  for (const xattrs of into.values()) xattrs.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
}
