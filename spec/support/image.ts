/** Helpers to look at composed images with real tools: partition extraction, sfdisk JSON, sgdisk verdicts. */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { run, runOk } from "./oracles.js";

export interface SfdiskPartition {
  readonly node: string;
  readonly start: number;
  readonly size: number;
  readonly type: string;
  readonly uuid: string;
  readonly name?: string;
  readonly attrs?: string;
}

export interface SfdiskTable {
  readonly label: string;
  readonly id: string;
  readonly firstlba: number;
  readonly lastlba: number;
  readonly sectorsize: number;
  readonly partitions?: SfdiskPartition[];
}

export function sfdiskJson(image: string): SfdiskTable {
  return (JSON.parse(runOk("sfdisk", ["--json", image])) as { partitiontable: SfdiskTable }).partitiontable;
}

/** sgdisk -v exits 0 even for a corrupt backup: the verdict is in its Caution/Warning lines (oracles.md gotcha 2). */
export function sgdiskProblems(image: string): string[] {
  const result = run("sgdisk", ["-v", image]);
  const text = `${result.stdout}${result.stderr}`;
  // "doesn't end on a 128-sector boundary" is advice for some encryption tools, not a defect:
  // a 16 KiB verity signature partition (repart's size) ends on an 8-sector boundary.
  const problems = text.split("\n").filter((line) => /Caution|Warning!|corrupt|Problem:|problems found/i.test(line) && !/No problems found/.test(line) && !/doesn't end on a 128-sector boundary/.test(line));
  if (result.status !== 0 || !text.includes("No problems found")) problems.push(`sgdisk -v: ${text.trim()}`);
  return problems;
}

/** Copies bytes [offset, offset + size) of `image` into a new file. */
export function extractRange(image: string, offsetBytes: number, sizeBytes: number, destination: string): void {
  const input = openSync(image, "r");
  const output = openSync(destination, "w");
  const buffer = Buffer.alloc(4 * 1024 * 1024);
  try {
    for (let done = 0; done < sizeBytes; ) {
      const length = Math.min(buffer.length, sizeBytes - done);
      const read = readSync(input, buffer, 0, length, offsetBytes + done);
      if (read === 0) throw new Error(`${image} ends before ${offsetBytes + sizeBytes}`);
      writeSync(output, buffer, 0, read, done);
      done += read;
    }
  } finally {
    closeSync(input);
    closeSync(output);
  }
}
