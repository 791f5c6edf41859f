/**
 * Extended attributes of host files. Node has no xattr API, so gptimg runs `getfattr` (attr
 * package) over batches of already-scanned paths: `-h` reads the link itself (lgetxattr),
 * `-m -` selects every namespace (security.*, system.posix_acl_*, user.*, trusted.* as far
 * as the caller may read them), `-e hex` makes binary values unambiguous.
 */
import { spawn } from "node:child_process";
import { fromHex, fromUtf8 } from "../core/bytes.js";
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
 * Collects host paths and reads their xattrs with getfattr, one child per batch of paths.
 * finish() gives host path → its xattrs (sorted by name); paths without xattrs are absent.
 */
export class HostXattrReader {
  private batch: string[] = [];
  private batchBytes = 0;
  private readonly batches: string[][] = [];
  private readonly early: Promise<Uint8Array>[] = [];

  add(hostPath: string): void {
    this.batch.push(hostPath);
    this.batchBytes += Buffer.byteLength(hostPath) + 1;
    if (this.batchBytes >= BATCH_ARGUMENT_BYTES) this.closeBatch();
  }

  async finish(): Promise<Map<string, Xattr[]>> {
    if (this.batch.length > 0) this.closeBatch();
    const result = new Map<string, Xattr[]>();
    for (const [index, paths] of this.batches.entries()) {
      parseGetfattrOutput(await (this.early[index] ?? runGetfattr(paths)), result);
    }
    return result;
  }

  private closeBatch(): void {
    this.batches.push(this.batch);
    if (this.early.length < EARLY_BATCHES) {
      const output = runGetfattr(this.batch);
      // A failure is rethrown by finish(); a caller that gives up before then must not see it as unhandled.
      output.catch(() => undefined);
      this.early.push(output);
    }
    this.batch = [];
    this.batchBytes = 0;
  }
}

function runGetfattr(paths: readonly string[]): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn("getfattr", ["-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", "--", ...paths], { env: { ...process.env, LC_ALL: "C" } });
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

/** getfattr writes a path with `\ooo` octal escapes for '\\', control characters and newlines. */
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
