/**
 * Archives that must be refused: each one is made by Python's tarfile or GNU tar (or damaged
 * by hand afterwards), and the error must be one line naming the member or offset at fault.
 */
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptimgError } from "../../lib/core/errors.js";
import { treeFromTar } from "../../lib/tree/from-tar.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";

const haveTools = oraclesAvailable("python3", "tar", "gzip");

/** Writes a tar with Python's tarfile; `members` is a Python list literal of (name, type, data, linkname). */
function pythonTar(path: string, members: string, format = "GNU_FORMAT"): void {
  runOk("python3", ["-c", `
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.${format}) as archive:
    for name, kind, data, link in ${members}:
        info = tarfile.TarInfo(name)
        info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "hard": tarfile.LNKTYPE, "sym": tarfile.SYMTYPE}[kind]
        info.linkname = link
        info.size = len(data) if kind == "file" else 0
        info.mode = 0o755 if kind == "dir" else 0o644
        archive.addfile(info, io.BytesIO(data) if kind == "file" else None)
`, path]);
}

async function expectRefused(path: string, pattern: RegExp, scratchDirectory?: string): Promise<void> {
  const error = await treeFromTar(path, { scratchDirectory }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(GptimgError);
  const message = (error as GptimgError).message;
  expect(message).not.toContain("\n");
  expect(message).toMatch(pattern);
}

describe.skipIf(!haveTools)("tar input that must be refused", () => {
  let scratch = "";
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "gptimg-badtar-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("a missing archive and a directory given as an archive", async () => {
    await expectRefused(join(scratch, "nope.tar"), /nope\.tar: cannot open \(ENOENT\)/);
    await expectRefused(scratch, /: not a regular file/);
  });

  it("a traversal member ../etc/passwd", async () => {
    const path = join(scratch, "traversal.tar");
    pythonTar(path, `[("ok", "file", b"x", ""), ("../etc/passwd", "file", b"root::0:0::/:/bin/sh\\n", "")]`);
    await expectRefused(path, /member "\.\.\/etc\/passwd".*leaves the tree/);
  });

  it("a traversal hidden in the middle of a path (PAX format)", async () => {
    const path = join(scratch, "traversal-pax.tar");
    pythonTar(path, `[("usr/../../x", "file", b"x", "")]`, "PAX_FORMAT");
    await expectRefused(path, /member "usr\/\.\.\/\.\.\/x"/);
  });

  it("an absolute member path", async () => {
    const path = join(scratch, "absolute.tar");
    pythonTar(path, `[("/etc/shadow", "file", b"x", "")]`);
    await expectRefused(path, /member "\/etc\/shadow": absolute member path/);
  });

  it("a hardlink to a missing member and one escaping the tree", async () => {
    const missing = join(scratch, "hard-missing.tar");
    pythonTar(missing, `[("a", "hard", b"", "nowhere")]`);
    await expectRefused(missing, /member "a".*"nowhere" does not exist/);
    const escaping = join(scratch, "hard-escape.tar");
    pythonTar(escaping, `[("a", "hard", b"", "../../etc/shadow")]`);
    await expectRefused(escaping, /member "a" \(hardlink target\).*leaves the tree/);
  });

  it("a file replacing a non-empty directory", async () => {
    const path = join(scratch, "replace-dir.tar");
    pythonTar(path, `[("etc", "dir", b"", ""), ("etc/passwd", "file", b"x", ""), ("etc", "file", b"oops", "")]`);
    await expectRefused(path, /member "etc".*would replace a non-empty directory/);
  });

  it("a truncated archive names the member whose data is cut off", async () => {
    const path = join(scratch, "truncated.tar");
    pythonTar(path, `[("first", "file", b"1" * 100, ""), ("second/big.bin", "file", b"2" * 20000, "")]`);
    truncateSync(path, 512 + 512 + 512 + 5000);
    await expectRefused(path, /truncated at member "second\/big\.bin"/);
  });

  it("a truncated gzip stream is reported as corrupt input", async () => {
    const plain = join(scratch, "for-gzip.tar");
    pythonTar(plain, `[("file", "file", bytes(range(256)) * 4000, "")]`);
    runOk("gzip", ["-k", plain]);
    const bytes = readFileSync(`${plain}.gz`);
    writeFileSync(join(scratch, "cut.tgz"), bytes.subarray(0, bytes.length >> 1));
    await expectRefused(join(scratch, "cut.tgz"), /cut\.tgz: (corrupt gzip data|truncated)/, scratch);
  });

  it("a corrupt header checksum names the offset", async () => {
    const path = join(scratch, "checksum.tar");
    pythonTar(path, `[("first", "file", b"1" * 100, ""), ("second", "file", b"2", "")]`);
    const bytes = readFileSync(path);
    bytes[1024 + 10] ^= 0x01; // second header (after 512 header + 512 data of "first"), inside the name
    writeFileSync(path, bytes);
    await expectRefused(path, /bad header checksum at offset 1024 \(after member "first"\)/);
  });

  it("GNU sparse members are refused clearly", async () => {
    const source = join(scratch, "sparse-src");
    runOk("sh", ["-c", `mkdir -p '${source}' && truncate -s 10M '${source}/holes' && printf data >> '${source}/holes'`]);
    const path = join(scratch, "sparse.tar");
    runOk("tar", ["--format=gnu", "--sparse", "-C", source, "-cf", path, "holes"]);
    await expectRefused(path, /member "holes": GNU sparse members are not supported/);
    const paxPath = join(scratch, "sparse-pax.tar");
    runOk("tar", ["--format=pax", "--sparse", "-C", source, "-cf", paxPath, "holes"]);
    await expectRefused(paxPath, /GNU sparse members \(PAX GNU\.sparse\.\*\) are not supported/);
  });

  it("a text ACL naming a user without a numeric id (GNU tar --acls stores names)", async () => {
    const path = join(scratch, "named-acl.tar");
    runOk("python3", ["-c", `
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as archive:
    info = tarfile.TarInfo("f")
    info.pax_headers = {"SCHILY.acl.access": "user::rw-\\nuser:alice:rw-\\ngroup::r--\\nmask::rw-\\nother::r--\\n"}
    archive.addfile(info, io.BytesIO(b""))
`, path]);
    await expectRefused(path, /member "f": ACL entry "user:alice:rw-" names user "alice" without a numeric id; archive with --xattrs/);
  });
});
