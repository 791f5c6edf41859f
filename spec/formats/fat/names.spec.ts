import { describe, expect, it } from "vitest";
import { assignShortNames, collisionKey, longNameEntryCount, longNameProblem, shortNameChecksum, volumeLabel } from "../../../lib/formats/fat/names.js";

const text = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const shorts = (names: string[]) => assignShortNames(names).map((name) => `${text(name.bytes)}|${name.caseBits}|${name.needsLongName ? "lfn" : "-"}`);

describe("FAT short names", () => {
  it("checksum matches the one mtools wrote for X_Y.TXT (LDIR_Chksum 0xEA)", () => {
    // From `mkfs.fat -C m.img 10240; mcopy -i m.img 'x😀y.txt' ::` (mtools 4.0.32): the long-name
    // entry in front of short name "X_Y     TXT" carries checksum byte 0xEA.
    expect(shortNameChecksum(Uint8Array.from("X_Y     TXT", (c) => c.charCodeAt(0)))).toBe(0xea);
  });

  it("keeps valid uppercase 8.3 names as they are, without long-name entries", () => {
    expect(shorts(["BOOTX64.EFI", "EFI", "A-B_C"])).toEqual(["BOOTX64 EFI|0|-", "EFI        |0|-", "A-B_C      |0|-"]);
  });

  it("uses the NT case bits for single-case lowercase parts, like Linux", () => {
    expect(shorts(["readme.txt", "loader", "README2.txt", "readme3.TXT"])).toEqual([
      "README  TXT|24|-", "LOADER     |8|-", "README2 TXT|16|-", "README3 TXT|8|-",
    ]);
  });

  it("gives mixed-case 8.3 names a long name and their exact basis", () => {
    expect(shorts(["ReadMe.txt", "Linux"])).toEqual(["README  TXT|0|lfn", "LINUX      |0|lfn"]);
  });

  it("adds numeric tails for lossy or long names and never repeats a short name", () => {
    expect(shorts(["a long name.conf", "a long name 2.conf", ".bashrc", "x+y.tar.gz"])).toEqual([
      "ALONGN~1CON|0|lfn", "ALONGN~2CON|0|lfn", "BASHRC~1   |0|lfn", "X_YTAR~1GZ |0|lfn",
    ]);
    const many = Array.from({ length: 20000 }, (_, index) => `common prefix ${index}.efi`);
    const assigned = assignShortNames(many).map((name) => text(name.bytes));
    expect(new Set(assigned).size).toBe(many.length);
    expect(assigned[0]).toBe("COMMON~1EFI");
    expect(assigned[9]).toBe("COMMO~10EFI");
    expect(assigned[2999]).toBe("COM~3000EFI");
    expect(assigned[19999]).toBe("CO~20000EFI");
  });

  it("takes the lowest free tail when different bases share the characters a tail leaves", () => {
    // "conf" is no 8.3 extension, so every name gets a tail. The bases ENTRY-0 … ENTRY-39
    // differ, but all become ENTRY-~n, ENTRY~nn and ENTR~nnn: one shared run of tails.
    const names = Array.from({ length: 400 }, (_, index) => `entry-${index}.conf`);
    const assigned = assignShortNames(names).map((name) => text(name.bytes));
    expect(new Set(assigned).size).toBe(names.length);
    expect(assigned[0]).toBe("ENTRY-~1CON");
    expect(assigned[8]).toBe("ENTRY-~9CON");
    expect(assigned[9]).toBe("ENTRY~10CON");
    expect(assigned[98]).toBe("ENTRY~99CON");
    expect(assigned[99]).toBe("ENTR~100CON");
    expect(assigned[399]).toBe("ENTR~400CON");
  });

  it("reserves literal names before generating tails, whatever the order", () => {
    expect(shorts(["foobarbaz", "FOOBAR~1"])).toEqual(["FOOBAR~2   |0|lfn", "FOOBAR~1   |0|-"]);
  });

  it("maps non-ASCII to _ without case tricks (ı is not I)", () => {
    expect(shorts(["ı.txt"])).toEqual(["_~1     TXT|0|lfn"]);
  });
});

describe("FAT long names", () => {
  it("counts 13 UTF-16 units per entry", () => {
    expect(longNameEntryCount("a")).toBe(1);
    expect(longNameEntryCount("a".repeat(13))).toBe(1);
    expect(longNameEntryCount("a".repeat(14))).toBe(2);
    expect(longNameEntryCount("😀".repeat(127) + "a")).toBe(20);
  });

  it("rejects what FAT cannot store and accepts the rest", () => {
    expect(longNameProblem("a".repeat(255))).toBeUndefined();
    expect(longNameProblem("a".repeat(256))).toMatch(/256 UTF-16/);
    expect(longNameProblem("a:b")).toMatch(/":"/);
    expect(longNameProblem("tab\there")).toMatch(/cannot hold/);
    expect(longNameProblem("trailing.")).toMatch(/ends with a dot/);
    expect(longNameProblem(" spaces and . dots ")).toBeUndefined();
  });

  it("folds case per UTF-16 unit for collisions", () => {
    expect(collisionKey("Straße.EFI")).toBe(collisionKey("STRAßE.efi"));
    expect(collisionKey("ß")).not.toBe(collisionKey("SS"));
  });
});

describe("FAT volume label", () => {
  it("mangles like repart: uppercase, 11 characters, forbidden characters to _", () => {
    expect(text(volumeLabel("esp").bytes)).toBe("ESP        ");
    expect(text(volumeLabel("my.boot:part+1234").bytes)).toBe("MY_BOOT_PAR");
    expect(text(volumeLabel("Ünï").bytes)).toBe("_N_        ");
    expect(volumeLabel("").isEmpty).toBe(true);
    expect(text(volumeLabel("").bytes)).toBe("NO NAME    ");
  });
});
