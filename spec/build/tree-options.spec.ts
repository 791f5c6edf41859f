/**
 * Ownership and modes without root or fakeroot: inline entries, glob overrides and
 * allRootOwned in the spec decide owners and modes (SUID included), as unsquashfs and a
 * kernel-independent reader (unsquashfs -lln) show them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { extractRange } from "../support/image.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-tree-options-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!oraclesAvailable("unsquashfs"))("spec tree options", () => {
  it("entries, overrides (globs, SUID) and allRootOwned land in the filesystem", () => {
    mkdirSync(join(work, "tree", "usr", "bin"), { recursive: true });
    writeFileSync(join(work, "tree", "usr", "bin", "sudo"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(join(work, "tree", "usr", "bin", "ls"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(join(work, "spec.json"), JSON.stringify({
      partitions: [{
        type: "root",
        format: "squashfs",
        copyFiles: ["tree:/"],
        allRootOwned: true,
        entries: [
          { path: "etc/hostname", content: "box\n" },
          { path: "home/user", type: "dir", mode: "0700", uid: 1000, gid: 1000 },
          { path: "etc/localtime", type: "symlink", target: "/usr/share/zoneinfo/UTC" },
        ],
        overrides: [{ path: "usr/bin/*", mode: "0755" }, { path: "usr/bin/sudo", mode: "4755" }],
      }],
    }));
    const image = join(work, "out.raw");
    const result = gptimg(["compose", join(work, "spec.json"), "-o", image, "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const root = (JSON.parse(result.stdout) as { partitions: Array<{ offset: number; size: number }> }).partitions[0]!;
    extractRange(image, root.offset, root.size, join(work, "root.img"));
    const listing = runOk("unsquashfs", ["-lln", join(work, "root.img")]);
    expect(listing).toMatch(/-rwsr-xr-x 0\/0 .* squashfs-root\/usr\/bin\/sudo/);
    expect(listing).toMatch(/-rwxr-xr-x 0\/0 .* squashfs-root\/usr\/bin\/ls/);
    expect(listing).toMatch(/drwx------ 1000\/1000 .* squashfs-root\/home\/user/);
    expect(listing).toMatch(/lrwxrwxrwx 0\/0 .* squashfs-root\/etc\/localtime -> \/usr\/share\/zoneinfo\/UTC/);
    expect(listing).toMatch(/-rw-r--r-- 0\/0 +4 .* squashfs-root\/etc\/hostname/);
  });
});
