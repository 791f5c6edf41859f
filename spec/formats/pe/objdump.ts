/** Reads `objdump -h -p` (binutils' BFD PE reader) output for cross-checks. */
import { writeFileSync } from "node:fs";
import { runOk } from "../../support/oracles.js";

export interface ObjdumpSection { name: string; size: number; vma: number; fileOffset: number }
export interface ObjdumpPe { sections: ObjdumpSection[]; fields: Record<string, number>; directories: Record<number, [number, number]> }

export function objdumpPe(bytes: Uint8Array, path: string): ObjdumpPe {
  writeFileSync(path, bytes);
  const text = runOk("objdump", ["-h", "-p", path]);
  const sections: ObjdumpSection[] = [];
  for (const match of text.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+2\*\*\d+$/gm)) {
    sections.push({ name: match[1]!, size: parseInt(match[2]!, 16), vma: parseInt(match[3]!, 16), fileOffset: parseInt(match[4]!, 16) });
  }
  const fields: Record<string, number> = {};
  for (const match of text.matchAll(/^(SizeOfImage|SizeOfHeaders|CheckSum|SectionAlignment|FileAlignment|Subsystem|SizeOfCode|SizeOfInitializedData)\s+([0-9a-f]+)/gm)) {
    fields[match[1]!] = parseInt(match[2]!, 16);
  }
  const directories: Record<number, [number, number]> = {};
  for (const match of text.matchAll(/^Entry ([0-9a-f]) ([0-9a-f]+) ([0-9a-f]+) /gm)) {
    directories[parseInt(match[1]!, 16)] = [parseInt(match[2]!, 16), parseInt(match[3]!, 16)];
  }
  return { sections, fields, directories };
}

/** osslsigncode's own PE checksum computation ("Calculated PE checksum" or "PE checksum"). */
export function osslsigncodeChecksum(path: string): { current: number; calculated: number } {
  const output = runOk("sh", ["-c", `osslsigncode verify -in '${path}' 2>&1 || true`]);
  const calculated = /Calculated PE checksum\s*:\s*([0-9A-F]+)/.exec(output) ?? /PE checksum\s*:\s*([0-9A-F]+)/.exec(output);
  const current = /Current PE checksum\s*:\s*([0-9A-F]+)/.exec(output) ?? calculated;
  if (!calculated || !current) throw new Error(`osslsigncode printed no checksum: ${output}`);
  return { current: parseInt(current[1]!, 16), calculated: parseInt(calculated[1]!, 16) };
}
