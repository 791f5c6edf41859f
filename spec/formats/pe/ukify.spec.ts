/**
 * systemd's own UKI reader: `ukify inspect` (systemd-ukify 257, pefile) must list our sections
 * with their contents. ukify runs in the trixie chroot when systemd-ukify is installed there
 * (.ci/oracles.sh TRIXIE_PACKAGES), or as GPTIMG_UKIFY="command ..." (e.g. python3 with
 * PYTHONPATH pointing at an unpacked python3-pefile).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assembleUki } from "../../../lib/formats/pe/uki.js";
import { REQUIRE_ORACLES, runInTrixie, runOk, TRIXIE_ROOT } from "../../support/oracles.js";
import { makeTestPe } from "./fixture.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-ukify-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `ukify --json=short inspect FILE` with whichever ukify is available, or undefined (skip). */
function ukifyInspector(): ((path: string) => string) | undefined {
  const command = process.env["GPTIMG_UKIFY"];
  if (command) return (path) => runOk("sh", ["-c", `${command} --json=short inspect "$0"`, path]);
  if (existsSync(join(TRIXIE_ROOT, "usr/bin/ukify"))) {
    return (path) => {
      const inside = `/tmp/gptimg-ukify-${process.pid}.efi`;
      copyFileSync(path, join(TRIXIE_ROOT, inside));
      try {
        const result = runInTrixie("ukify", ["--json=short", "inspect", inside]);
        if (result.status !== 0) throw new Error(`ukify inspect failed: ${result.stderr}`);
        return result.stdout;
      } finally {
        rmSync(join(TRIXIE_ROOT, inside), { force: true });
      }
    };
  }
  const message = "oracle(s) not available: ukify (add systemd-ukify to the trixie chroot packages, or set GPTIMG_UKIFY)";
  if (REQUIRE_ORACLES) throw new Error(message);
  console.warn(`SKIP: ${message}`);
  return undefined;
}

const inspect = ukifyInspector();

describe.skipIf(inspect === undefined)("ukify inspect reads our UKI", () => {
  it("lists every section with the text we put in", async () => {
    const cmdline = "console=ttyS0,115200 roothash=0123456789abcdef";
    const osrel = 'ID=gptimg\nPRETTY_NAME="gptimg ukify test"\n';
    const initrd = new Uint8Array(5000).fill(0x21);
    const uki = await assembleUki({
      stub: makeTestPe(),
      linux: makeTestPe({ sections: [{ name: ".text", size: 0x3000 }], sizeOfImageAtLeast: 0x80000 }),
      initrds: [initrd],
      cmdline,
      osrel,
      uname: "6.1.0-gptimg",
    });
    const path = join(work, "uki.efi");
    writeFileSync(path, uki);
    const sections = JSON.parse(inspect!(path)) as Record<string, { size: number; text?: string }>;
    expect(Object.keys(sections)).toEqual(expect.arrayContaining([".osrel", ".cmdline", ".uname", ".initrd", ".linux"]));
    expect(sections[".cmdline"]!.text).toBe(cmdline);
    expect(sections[".osrel"]!.text).toBe(osrel);
    expect(sections[".uname"]!.text).toBe("6.1.0-gptimg");
    expect(sections[".initrd"]!.size).toBe(initrd.length);
  });
});
