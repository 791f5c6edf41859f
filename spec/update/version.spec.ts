/**
 * lib/update/version.ts against systemd itself: compareVersions() is checked pair by pair
 * against `systemd-analyze compare-versions` (systemd 257, trixie chroot) over systemd's own
 * test vectors and fast-check generated strings; the MatchPattern= functions against the
 * examples of sysupdate.d(5), field parsing cases read from sysupdate-pattern.c and
 * parse-util.c, and format → match round trips.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GptimgError } from "../../lib/core/errors.js";
import { compareVersions, formatPattern, matchPattern, type PatternMatch } from "../../lib/update/version.js";
import { oraclesAvailable, runInTrixie, TRIXIE_ROOT } from "../support/oracles.js";

const RUNS = Number(process.env["GPTIMG_FC_RUNS"] ?? 25);

/** -x without the -0 that Object.is equality tells apart from 0. */
const negate = (sign: number): number => (sign === 0 ? 0 : -sign);

/** test-string-util.c TEST(strverscmp_improved): each entry is older than every later one. */
const ORDERED = [
  "~1", "", "ab", "abb", "abc", "0001", "002", "12", "122", "122.9", "123~rc1", "123", "123-a", "123-a.1",
  "123-a1", "123-a1.1", "123-3", "123-3.1", "123^patch1", "123^1", "123.a-1", "123.1-1", "123a-1", "124",
];

/** [left, right, expected sign] from test-string-util.c (its own cases and rpm's rpmvercmp.at). */
const VECTORS: [string, string, number][] = [
  ["123.45-67.88", "123.45-67.89", -1], ["123.45-67.89", "123.45-67.89a", -1], ["123.45-67.ab", "123.45-67.89", -1],
  ["123.45-67.9", "123.45-67.89", -1], ["123.45-67", "123.45-67.89", -1], ["123.45-66.89", "123.45-67.89", -1],
  ["123.45-9.99", "123.45-67.89", -1], ["123.42-99.99", "123.45-67.89", -1], ["123-99.99", "123.45-67.89", -1],
  ["123~rc1-99.99", "123.45-67.89", -1], ["123~rc1-99.99", "123-45.67.89", -1], ["123~rc1-99.99", "123~rc2-67.89", -1],
  ["123~rc1-99.99", "123^aa2-67.89", -1], ["123~rc1-99.99", "123aa2-67.89", -1], ["123-99.99", "123^aa2-67.89", -1],
  ["123-99.99", "123aa2-67.89", -1], ["123^45-67.89", "123.45-67.89", -1], ["123^aa1-99.99", "123^aa2-67.89", -1],
  ["123^aa2-67.89", "123aa2-67.89", -1], ["123.aa2-67.89", "123aa2-67.89", -1], ["123.aa2-67.89", "123.ab2-67.89", -1],
  ["123_aa2-67.89", "123aa+2-67.89", 0], ["123.", "123", 1], ["12_3", "123", -1], ["12_3", "12", 1], ["12_3", "12.3", 1],
  ["123.0", "123", 1], ["123_0", "123", 1], ["123..0", "123.0", -1], ["0_", "0", 0], ["_0_", "0", 0], ["_0", "0", 0],
  ["0", "0___", 0], ["", "_", 0], ["_", "", 0], ["_", "_", 0], ["", "~", 1], ["~", "", -1], ["~", "~", 0],
  ["1.0", "1.0", 0], ["1.0", "2.0", -1], ["2.0.1", "2.0", 1], ["2.0.1a", "2.0.1", 1], ["5.5p1", "5.5p2", -1],
  ["5.5p1", "5.5p10", -1], ["10xyz", "10.1xyz", 1], ["xyz10", "xyz10.1", -1], ["xyz.4", "8", -1], ["2", "xyz.4", 1],
  ["5.5p2", "5.6p1", -1], ["6.5p1", "5.6p1", 1], ["6.0.rc1", "6.0", 1], ["10b2", "10a1", 1], ["1.0a", "1.0aa", -1],
  ["10.0001", "10.1", 0], ["10.0001", "10.0039", -1], ["4.999.9", "5.0", -1], ["20101121", "20101122", -1],
  ["2.0", "2_0", -1], ["2_0", "2.0", 1], ["a+", "a_", 0], ["+a", "_a", 0], ["_+", "+_", 0], ["+", "_", 0],
  ["1.0~rc1", "1.0", -1], ["1.0~rc1", "1.0~rc2", -1], ["1.0~rc1~git123", "1.0~rc1", -1], ["1.0^", "1.0", 1],
  ["1.0^git1", "1.0", 1], ["1.0^git1", "1.0^git2", -1], ["1.0^git1", "1.01", -1], ["1.0^20160101", "1.0.1", -1],
  ["1.0^20160102", "1.0^20160101^git1", 1], ["1.0~rc1^git1", "1.0~rc1", 1], ["1.0^git1", "1.0^git1~pre", 1],
  ["1b.fc17", "1.fc17", 1], ["1g.fc17", "1.fc17", 1], ["1.1.α", "1.1.β", 0], ["1.1.αα", "1.1.α", 0],
];

/**
 * Corners where C details show: invalid characters right after a prefix are not skipped before
 * the end test, and that test compares the NUL with a signed char ("~" vs "~é"). The oracle decides.
 */
const CORNERS: [string, string][] = [
  ["~", "~é"], ["~", "~_"], ["~_1", "~1"], ["1-", "1"], ["1-", "1-_"], ["-1", "~2"], ["1..", "1."], ["1~", "1~_"],
  ["é", ""], ["1.é", "1."], ["1^_", "1^"], ["1.-", "1.~"], ["0000", ""], ["00", "0"], ["a0", "a00"], ["1.2", "1,2"],
];

function systemdVectors(): [string, string, number][] {
  const ordered = ORDERED.flatMap((older, index) => ORDERED.slice(index + 1).map((newer): [string, string, number] => [older, newer, -1]));
  return [...ordered, ...VECTORS];
}

/** Runs of digits and letters, every prefix systemd knows, and characters it drops (including non-ASCII). */
const token = fc.oneof(
  fc.constantFrom("0", "1", "2", "9", "00", "01", "10", "123", "0123", "18446744073709551616"),
  fc.constantFrom("a", "b", "z", "A", "Z", "rc", "abc", "git", "fc"),
  fc.constantFrom(".", "-", "~", "^", ".", "-", "~", "^"),
  fc.constantFrom("+", "_", ",", "é", "α", "/"),
);
const versionText = fc.array(token, { maxLength: 8 }).map((parts) => parts.join(""));
/** Half the pairs share a prefix, so comparisons run deep instead of ending at the first run. */
const versionPair = fc.oneof(
  fc.tuple(versionText, versionText),
  fc.tuple(versionText, versionText, versionText).map(([common, left, right]): [string, string] => [common + left, common + right]),
);

/**
 * One chroot, one shell: it reads NUL-separated pairs and runs `systemd-analyze compare-versions`
 * on each (~20 ms a pair); `--` keeps versions such as "-1" from reading as options. Exit 0 is "==", 12 is "<", 11 is ">" (analyze-compare-versions.c,
 * after rpmdev-vercmp; checked against the printed operator below).
 */
function systemdCompare(pairs: [string, string][]): number[] {
  const scratch = mkdtempSync(join(TRIXIE_ROOT, "tmp", "gptimg-version-"));
  try {
    writeFileSync(join(scratch, "pairs"), pairs.flat().map((text) => `${text}\0`).join(""));
    const script = `while IFS= read -r -d '' left && IFS= read -r -d '' right; do
      systemd-analyze compare-versions -- "$left" "$right" >/dev/null 2>&1; echo $?; done < "$1"`;
    const result = runInTrixie("bash", ["-c", script, "bash", `${scratch.slice(TRIXIE_ROOT.length)}/pairs`]);
    if (result.status !== 0) throw new Error(`batch failed: ${result.stderr}`);
    const signs = result.stdout.trim().split("\n").map((status) => ({ "0": 0, "12": -1, "11": 1 })[status]);
    if (signs.length !== pairs.length || signs.includes(undefined)) throw new Error(`unexpected statuses: ${result.stdout}`);
    return signs as number[];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function disagreements(pairs: [string, string][]): string[] {
  const expected = systemdCompare(pairs);
  return pairs.flatMap(([left, right], index) => {
    const ours = compareVersions(left, right);
    return ours === expected[index] ? [] : [`${JSON.stringify(left)} vs ${JSON.stringify(right)}: systemd ${expected[index]}, ours ${ours}`];
  });
}

describe("compareVersions", () => {
  it.each(systemdVectors())("%j vs %j is %i (systemd's test-string-util vectors)", (left, right, expected) => {
    expect(compareVersions(left, right)).toBe(expected);
    expect(compareVersions(right, left)).toBe(negate(expected));
  });

  it("is antisymmetric and reflexive", () => {
    fc.assert(fc.property(versionPair, ([left, right]) => {
      expect(compareVersions(left, right)).toBe(negate(compareVersions(right, left)));
      expect(compareVersions(left, left)).toBe(0);
    }), { numRuns: RUNS * 40 });
  });

  it("orders like ORDERED when sorted", () => {
    const shuffled = [...ORDERED].reverse();
    expect(shuffled.sort(compareVersions)).toEqual(ORDERED);
  });
});

describe.skipIf(!oraclesAvailable("trixie"))("compareVersions against systemd-analyze compare-versions (systemd 257)", () => {
  it("exit status means what the printed operator says", () => {
    for (const [left, right, operator, status] of [["1", "2", "<", 12], ["2", "1", ">", 11], ["1_0", "1+0", "==", 0]] as const) {
      const result = runInTrixie("systemd-analyze", ["compare-versions", left, right]);
      expect([result.stdout.trim(), result.status]).toEqual([`${left} ${operator} ${right}`, status]);
    }
  });

  it("agrees on systemd's own test vectors", () => {
    const pairs = systemdVectors().map(([left, right]): [string, string] => [left, right]);
    expect(disagreements(pairs)).toEqual([]);
  });

  it("agrees on the C corners", () => {
    expect(disagreements(CORNERS)).toEqual([]);
  });

  it("agrees on generated version strings", () => {
    const seed = Number(process.env["GPTIMG_FC_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
    const pairs = fc.sample(versionPair, { numRuns: RUNS * 16, seed });
    expect(disagreements(pairs), `fast-check seed ${seed}`).toEqual([]);
  }, 120_000);
});

const UUID = "a0b1c2d3-e4f5-4678-9abc-def012345678";
const SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

describe("matchPattern: sysupdate.d(5) examples", () => {
  it.each<[string, string, PatternMatch | undefined]>([
    ["foobar_@v+@l-@d.efi", "foobar_1.2+3-0.efi", { version: "1.2", triesLeft: 3, triesDone: 0 }],
    ["foobarOS_@v+@l.efi", "foobarOS_1.2+3.efi", { version: "1.2", triesLeft: 3 }],
    ["foobarOS_@v+@l-@d.efi", "foobarOS_1.2+3.efi", undefined],
    ["foobarOS_@v.efi", "foobarOS_1.2+3.efi", { version: "1.2+3" }],
    ["foobar_@v.raw.xz", "foobar_47.11.raw.xz", { version: "47.11" }],
    ["foobar_@v.raw.xz", "foobar_47.raw", undefined],
    ["foobar_@v.raw.xz", "barfoo_47.raw.xz", undefined],
    ["foobarOS_@v", "foobarOS_7_rc2", { version: "7_rc2" }],
    ["foobarOS_@v_@u.verity.xz", `foobarOS_7_${UUID}.verity.xz`, { version: "7", uuid: UUID }],
    ["foobarOS_@v_@u.verity.xz", `foobarOS_7_${UUID.replaceAll("-", "").toUpperCase()}.verity.xz`, { version: "7", uuid: UUID }],
    ["myContainer_@v.tar.gz", "myContainer_2024.1.tar.gz", { version: "2024.1" }],
    ["foo_@v/bar.efi", "foo_1/bar.efi", { version: "1" }],
    ["foo_@v/bar.efi", "foo_1", undefined],
    ["foo_@v/bar.efi", "foo_1/baz.efi", undefined],
    ["foo_@v/bar.efi", "foo_1/x/bar.efi", undefined],
  ])("%s on %s", (pattern, text, expected) => {
    expect(matchPattern(pattern, text)).toEqual(expected);
  });
});

describe("matchPattern: where fields end and what they accept (sysupdate-pattern.c)", () => {
  it.each<[string, string, PatternMatch | undefined]>([
    // A wildcard ends at the first occurrence of the literal after it, even inside a version.
    ["@v+@l", "1+2+3", undefined],
    ["@v.raw", "1.raw.raw", undefined],
    // @v: 1..255 of [A-Za-z0-9.,_+-].
    ["@v", "1,2_3+4-5.A", { version: "1,2_3+4-5.A" }],
    ["@v", "", undefined],
    ["@v", "1 2", undefined],
    ["@v", "1~rc1", undefined],
    ["@v", "9".repeat(255), { version: "9".repeat(255) }],
    ["@v", "9".repeat(256), undefined],
    // @u: dashed 8-4-4-4-12 or 32 hex digits, nothing in between.
    ["@v_@u", `1_${UUID.slice(0, 8)}${UUID.slice(9)}`, undefined],
    ["@v_@u", `1_${UUID}0`, undefined],
    // Decimal fields go through safe_atou64(): C prefixes, whitespace and "-0" included.
    ["@v+@l", "1+010", { version: "1", triesLeft: 8 }],
    ["@v+@l", "1+0x10", { version: "1", triesLeft: 16 }],
    ["@v+@l", "1+0b101", { version: "1", triesLeft: 5 }],
    ["@v+@l", "1+0o17", { version: "1", triesLeft: 15 }],
    ["@v+@l", "1+0b0b11", { version: "1", triesLeft: 3 }],
    ["@v+@l", "1+ 3", { version: "1", triesLeft: 3 }],
    ["@v+@l", "1+-0", { version: "1", triesLeft: 0 }],
    ["@v+@l", "1+-1", undefined],
    ["@v+@l", "1+09", undefined],
    ["@v+@l", "1+3a", undefined],
    ["@v+@l", "1+", undefined],
    ["@v+@l", "1+18446744073709551615", undefined],
    ["@v+@l", "1+18446744073709551616", undefined],
    ["@v+@l-@d", "1+9007199254740991-0", { version: "1", triesLeft: Number.MAX_SAFE_INTEGER, triesDone: 0 }],
    ["@v_@t_@s", "1_1700000000000000_4096", { version: "1", mtimeMicroseconds: 1_700_000_000_000_000, sizeBytes: 4096 }],
    // @f: hexadecimal without or with 0x, all 64 bits.
    ["@v-@f", "1-8000000000000001", { version: "1", flags: 2n ** 63n + 1n }],
    ["@v-@f", "1-0x10", { version: "1", flags: 16n }],
    ["@v-@f", "1-10000000000000000", undefined],
    // @m: octal, no sign, nothing outside 0775.
    ["@v.@m", "1.0644", { version: "1", mode: 0o644 }],
    ["@v.@m", "1.755", { version: "1", mode: 0o755 }],
    ["@v.@m", "1.0666", undefined],
    ["@v.@m", "1.4755", undefined],
    ["@v.@m", "1.+644", undefined],
    ["@v.@m", "1.0o644", undefined],
    // @a @g @r: parse_boolean() words, any case.
    ["@v_@a_@g_@r", "1_yes_OFF_1", { version: "1", noAuto: true, growFileSystem: false, readOnly: true }],
    ["@v_@a", "1_2", undefined],
    // @h: exactly 64 hex digits.
    ["@v_@h", `1_${SHA256.toUpperCase()}`, { version: "1", sha256: SHA256 }],
    ["@v_@h", `1_${SHA256.slice(1)}`, undefined],
    // "@@" is a literal '@'; a trailing literal must end the text.
    ["a@@b_@v", "a@b_1", { version: "1" }],
    ["@v.efi", "1.efi.sig", undefined],
  ])("%s on %j", (pattern, text, expected) => {
    expect(matchPattern(pattern, text)).toEqual(expected);
  });

  it.each([
    ["foobar.raw", "'@v' is missing"],
    ["@v@u", "directly follows"],
    ["@v_@v", "appears twice"],
    ["@v_@x", "unknown wildcard '@x'"],
    ["@v@", "trailing '@'"],
    ["@v@/", "unknown wildcard '@/'"],
    ["@v*", "not allowed"],
    ["@v\t", "not allowed"],
    ["@v\x7f", "not allowed"],
    ["@v|", "not allowed"],
  ])("refuses the pattern %j (%s)", (pattern, message) => {
    expect(() => matchPattern(pattern, "1")).toThrow(GptimgError);
    expect(() => matchPattern(pattern, "1")).toThrow(message);
  });

  it("accepts two wildcards split only by '/', and non-ASCII literals", () => {
    expect(matchPattern("@v/@l", "1/2")).toEqual({ version: "1", triesLeft: 2 });
    expect(matchPattern("système_@v", "système_1")).toEqual({ version: "1" });
  });
});

describe("formatPattern", () => {
  it("writes what pattern_format() writes", () => {
    expect(formatPattern("foobar_@v+@l-@d.efi", { version: "1.2", triesLeft: 3, triesDone: 0 })).toBe("foobar_1.2+3-0.efi");
    expect(formatPattern("a@@b/@v_@u", { version: "7", uuid: UUID.toUpperCase() })).toBe(`a@b/7_${UUID.replaceAll("-", "")}`);
    expect(formatPattern("@v_@f_@m_@a_@g_@r_@h", {
      version: "1", flags: 2n ** 60n + 10n, mode: 0o55, noAuto: true, growFileSystem: false, readOnly: true, sha256: SHA256.toUpperCase(),
    })).toBe(`1_100000000000000a_055_1_0_1_${SHA256}`);
  });

  it.each<[string, string, PatternMatch]>([
    ["@v+@l", "@l needs a valid triesLeft", { version: "1" }],
    ["@v+@l", "@l needs a valid triesLeft", { version: "1", triesLeft: -1 }],
    ["@v+@l", "@l needs a valid triesLeft", { version: "1", triesLeft: 1.5 }],
    ["@v", "@v needs a valid version", { version: "1 2" }],
    ["@v_@u", "@u needs a valid uuid", { version: "1", uuid: "nope" }],
    ["@v.@m", "@m needs a valid mode", { version: "1", mode: 0o777 }],
    ["@v.@m", "@m needs a valid mode", { version: "1", mode: 2 ** 32 }],
    ["@v_@f", "@f needs a valid flags", { version: "1", flags: 2n ** 64n }],
  ])("refuses %s: %s", (pattern, message, values) => {
    expect(() => formatPattern(pattern, values)).toThrow(message);
  });
});

/** Values the way matchPattern() gives them back: uuid dashed lowercase, sha256 lowercase. */
const patternValues = fc.record({
  version: fc.stringMatching(/^[A-Za-z0-9.,_+-]{1,64}$/),
  uuid: fc.uuid(),
  flags: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  noAuto: fc.boolean(),
  growFileSystem: fc.boolean(),
  readOnly: fc.boolean(),
  mtimeMicroseconds: fc.maxSafeNat(),
  mode: fc.integer({ min: 0, max: 0o775 }).map((mode) => mode & 0o775),
  sizeBytes: fc.maxSafeNat(),
  triesDone: fc.maxSafeNat(),
  triesLeft: fc.maxSafeNat(),
  sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString("hex")),
});

const MARKERS: Record<keyof PatternMatch, string> = {
  version: "v", uuid: "u", flags: "f", noAuto: "a", growFileSystem: "g", readOnly: "r",
  mtimeMicroseconds: "t", mode: "m", sizeBytes: "s", triesDone: "d", triesLeft: "l", sha256: "h",
};

/**
 * A pattern over any wildcards in any order. Every literal holds a character that no field
 * value can contain ('~', '^', '/', …), so each wildcard ends exactly where the formatter put
 * its value and format → match must be lossless.
 */
const separator = fc.tuple(fc.constantFrom("~", "^", "/", "=", "%", "@@", "#", " "), fc.constantFrom("", ".raw", ".efi", "x"))
  .map(([safe, rest]) => safe + rest);
const wildcardPattern = fc.tuple(
  fc.shuffledSubarray(Object.keys(MARKERS).filter((key) => key !== "version") as (keyof PatternMatch)[]),
  fc.nat(),
  fc.array(separator, { minLength: 12, maxLength: 12 }),
  fc.constantFrom("", "img_", "/usr/lib/"),
).map(([fields, position, separators, prefix]) => {
  fields.splice(position % (fields.length + 1), 0, "version");
  const pattern = prefix + fields.map((field, index) => `@${MARKERS[field]}${separators[index]}`).join("");
  return { pattern, fields };
});

describe("formatPattern → matchPattern round trip", () => {
  it("gives back every value the pattern names", () => {
    fc.assert(fc.property(wildcardPattern, patternValues, ({ pattern, fields }, values) => {
      const named = Object.fromEntries(fields.map((field) => [field, values[field]]));
      expect(matchPattern(pattern, formatPattern(pattern, values))).toEqual(named);
    }), { numRuns: RUNS * 40 });
  });

  it("round-trips the man page's boot-counting names", () => {
    const version = fc.stringMatching(/^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$/);
    fc.assert(fc.property(version, fc.nat(1000), fc.nat(1000), (versionText, triesLeft, triesDone) => {
      const name = formatPattern("foobarOS_@v+@l-@d.efi", { version: versionText, triesLeft, triesDone });
      expect(name).toBe(`foobarOS_${versionText}+${triesLeft}-${triesDone}.efi`);
      expect(matchPattern("foobarOS_@v+@l-@d.efi", name)).toEqual({ version: versionText, triesLeft, triesDone });
      expect(matchPattern("foobarOS_@v+@l.efi", name)).toBeUndefined();
    }), { numRuns: RUNS * 8 });
  });
});
