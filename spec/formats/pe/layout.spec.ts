import { describe, expect, it } from "vitest";
import {
  COFF_HEADER, COFF_HEADER_SIZE, DATA_DIRECTORY, DATA_DIRECTORY_SIZE, DOS_HEADER, DOS_HEADER_SIZE, OPTIONAL_HEADER_PE32PLUS,
  OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE, SECTION_HEADER, SECTION_HEADER_SIZE, WIN_CERTIFICATE, WIN_CERTIFICATE_HEADER_SIZE, type FieldTable,
} from "../../../lib/formats/pe/layout.js";

/** Fields sorted by offset must not overlap and must stay inside the structure. */
function checkTable(table: FieldTable, size: number, contiguous: boolean): void {
  const fields = Object.entries(table).sort((left, right) => left[1][0] - right[1][0]);
  let end = 0;
  for (const [name, [offset, length]] of fields) {
    expect(offset, `${name} overlaps the previous field`).toBeGreaterThanOrEqual(end);
    if (contiguous) expect(offset, `gap before ${name}`).toBe(end);
    end = offset + length;
  }
  expect(end).toBeLessThanOrEqual(size);
  if (contiguous) expect(end).toBe(size);
}

describe("PE field tables (PE Format spec)", () => {
  it("COFF header is 20 contiguous bytes", () => checkTable(COFF_HEADER, COFF_HEADER_SIZE, true));
  it("PE32+ optional header fixed part is 112 contiguous bytes; 16 directories make 240", () => {
    checkTable(OPTIONAL_HEADER_PE32PLUS, OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE, true);
    expect(OPTIONAL_HEADER_PE32PLUS_FIXED_SIZE + 16 * DATA_DIRECTORY_SIZE).toBe(240);
    expect(OPTIONAL_HEADER_PE32PLUS.CheckSum[0]).toBe(64);
    expect(OPTIONAL_HEADER_PE32PLUS.NumberOfRvaAndSizes[0]).toBe(108);
  });
  it("data directory, section header and WIN_CERTIFICATE sizes", () => {
    checkTable(DATA_DIRECTORY, DATA_DIRECTORY_SIZE, true);
    checkTable(SECTION_HEADER, SECTION_HEADER_SIZE, true);
    checkTable(WIN_CERTIFICATE, WIN_CERTIFICATE_HEADER_SIZE, true);
  });
  it("DOS header: e_magic at 0, e_lfanew at 0x3c", () => {
    checkTable(DOS_HEADER, DOS_HEADER_SIZE, false);
    expect(DOS_HEADER.e_lfanew[0]).toBe(0x3c);
  });
});
