/**
 * systemd unit-file syntax as repart.d files use it (systemd.syntax(7)): `[Section]` headers,
 * `Key=Value` assignments, `#`/`;` comments, trailing-backslash continuations.
 */
import { ErrorCode, fail } from "../core/errors.js";

export interface IniAssignment {
  readonly section: string;
  readonly key: string;
  readonly value: string;
  /** "path:line" for messages. */
  readonly where: string;
}

export function parseIni(text: string, path: string): IniAssignment[] {
  const assignments: IniAssignment[] = [];
  const lines = text.split("\n");
  let section = "";
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    let line = lines[index]!;
    while (line.endsWith("\\") && index + 1 < lines.length) {
      const next = lines[++index]!;
      line = `${line.slice(0, -1)} ${/^\s*[#;]/.test(next) ? "" : next}`;
    }
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const where = `${path}:${lineNumber}`;
    if (trimmed.startsWith("[")) {
      if (!trimmed.endsWith("]")) fail(ErrorCode.Definitions, `${where}: invalid section header "${trimmed}"`, 'write it as "[Partition]"');
      section = trimmed.slice(1, -1);
      continue;
    }
    const equals = trimmed.indexOf("=");
    if (equals <= 0) fail(ErrorCode.Definitions, `${where}: missing "=" in "${trimmed}"`, 'assignments look like "Key=Value"');
    if (section === "") fail(ErrorCode.Definitions, `${where}: assignment outside of a section`, 'start the file with "[Partition]"');
    assignments.push({ section, key: trimmed.slice(0, equals).trim(), value: trimmed.slice(equals + 1).trim(), where });
  }
  return assignments;
}
