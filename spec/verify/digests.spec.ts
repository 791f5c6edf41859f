/**
 * Trees gptimg did not make: veritysetup formats sha512 and sha1 hash devices, repart copies
 * them in with CopyBlocks= and the DPS PARTUUIDs (first and last 128 bits of the root hash).
 * For those digests the PARTUUIDs are not the whole root hash, so verify takes it from the top
 * hash block and checks it against the PARTUUIDs; a flipped data byte must still be found.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gptimg } from "../support/cli.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-verify-digests-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DATA_BYTES = 300 * 4096;

function uuidOf(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

describe.skipIf(!oraclesAvailable("veritysetup"))("verify trees made by veritysetup", () => {
  it.each(["sha512", "sha1"])("%s: finds the root hash from the top block, agrees with the PARTUUIDs, and finds a flipped byte", (algorithm) => {
    const directory = join(work, algorithm);
    mkdirSync(join(directory, "repart.d"), { recursive: true });
    const data = join(directory, "data.img");
    const hash = join(directory, "hash.img");
    writeFileSync(data, Buffer.concat(Array.from({ length: DATA_BYTES / 4096 }, (_, block) => Buffer.alloc(4096, block * 7))));
    const output = runOk("veritysetup", ["format", "--hash", algorithm, data, hash]);
    const rootHash = /Root hash:\s+([0-9a-f]+)/.exec(output)![1]!;
    const dataUuid = uuidOf(rootHash.slice(0, 32));
    const hashUuid = uuidOf(rootHash.slice(-32));
    writeFileSync(join(directory, "repart.d", "10-usr.conf"), `[Partition]\nType=usr\nCopyBlocks=${data}\nUUID=${dataUuid}\nSizeMinBytes=${DATA_BYTES}\nSizeMaxBytes=${DATA_BYTES}\nReadOnly=yes\n`);
    writeFileSync(join(directory, "repart.d", "20-usr-verity.conf"), `[Partition]\nType=usr-verity\nCopyBlocks=${hash}\nUUID=${hashUuid}\nReadOnly=yes\n`);
    const image = join(directory, "image.raw");
    const created = gptimg(["repart", `--definitions=${join(directory, "repart.d")}`, "--empty=create", "--size=auto", image]);
    expect(created.stderr).toBe("");

    const clean = gptimg(["verify", image, "--json"]);
    const report = JSON.parse(clean.stdout) as { findings: unknown[]; verity: Array<{ rootHash: string; ok: boolean }> };
    expect(report.findings).toEqual([]);
    expect(clean.status).toBe(0);
    expect(report.verity).toEqual([{ dataIndex: 1, hashIndex: 2, rootHash, ok: true }]);

    const table = JSON.parse(gptimg(["inspect", image, "--json"]).stdout) as { partitions: Array<{ offsetBytes: number }> };
    const handle = openSync(image, "r+");
    writeSync(handle, Buffer.from([0xff]), 0, 1, table.partitions[0]!.offsetBytes + 123 * 4096 + 9);
    closeSync(handle);
    const damaged = gptimg(["verify", image, "--json"]);
    expect(damaged.status).toBe(3);
    expect((JSON.parse(damaged.stdout) as { findings: Array<{ message: string }> }).findings.map((finding) => finding.message)).toEqual([expect.stringContaining("data block 123 does not match")]);
  });
});
