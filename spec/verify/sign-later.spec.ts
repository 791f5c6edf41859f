/**
 * Sign later the repart v258 way: pass 1 reserves the signature partition with
 * --defer-partitions=usr-verity-sig (no key anywhere), the root hash is signed by openssl,
 * pass 2 runs the same definitions with --join-signature=HASH:SIG. The image must be
 * byte-identical to signing in one pass with the key, and openssl must accept the signature.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeKeyPairs } from "../crypto/keys.js";
import { gptimg } from "../support/cli.js";
import { oraclesAvailable, runOk } from "../support/oracles.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-sign-later-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SEED = "--seed=5c4e2a8f-3b1d-4e6f-9a7c-0d2b4f6e8a1c";

function writeDefinitions(directory: string, dataImage: string): void {
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, "10-usr.conf"), `[Partition]\nType=usr\nLabel=usr_1\nCopyBlocks=${dataImage}\nVerity=data\nVerityMatchKey=usr\n`);
  writeFileSync(join(directory, "20-usr-verity.conf"), "[Partition]\nType=usr-verity\nLabel=usr_1_verity\nVerity=hash\nVerityMatchKey=usr\n");
  writeFileSync(join(directory, "30-usr-verity-sig.conf"), "[Partition]\nType=usr-verity-sig\nLabel=usr_1_verity_sig\nVerity=signature\nVerityMatchKey=usr\n");
}

function ok(args: string[]): string {
  const result = gptimg(args);
  expect(result.stderr, args.join(" ")).toBe("");
  expect(result.status, args.join(" ")).toBe(0);
  return result.stdout;
}

describe.skipIf(!oraclesAvailable("openssl"))("repart --defer-partitions then --join-signature", () => {
  it("gives the image signed in one pass, byte for byte", () => {
    const keys = makeKeyPairs(work);
    const dataImage = join(work, "data.img");
    writeFileSync(dataImage, Buffer.concat(Array.from({ length: 200 }, (_, block) => Buffer.alloc(4096, block))));
    const definitions = join(work, "repart.d");
    writeDefinitions(definitions, dataImage);

    const signed = join(work, "signed.raw");
    ok(["repart", `--definitions=${definitions}`, "--empty=create", "--size=auto", SEED, `--private-key=${keys.rsa.keyPath}`, `--certificate=${keys.rsa.certificatePath}`, signed]);

    const later = join(work, "later.raw");
    // Without a key the signature partition cannot be written now, as repart refuses too.
    const refused = gptimg(["repart", `--definitions=${definitions}`, "--empty=create", "--size=auto", SEED, later]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/no private key/);
    ok(["repart", `--definitions=${definitions}`, "--empty=create", "--size=auto", SEED, "--defer-partitions=usr-verity-sig", later]);
    const pass1 = JSON.parse(ok(["verify", later, "--json"])) as { findings: unknown[]; verity: Array<{ rootHash: string; signatureIndex?: number }> };
    expect(pass1.findings).toEqual([]);
    expect(pass1.verity[0]!.signatureIndex).toBeUndefined();
    const rootHash = pass1.verity[0]!.rootHash;

    const rootHashFile = join(work, "roothash.txt");
    writeFileSync(rootHashFile, rootHash);
    const signature = join(work, "roothash.p7s");
    runOk("openssl", ["smime", "-sign", "-binary", "-noattr", "-outform", "DER", "-in", rootHashFile, "-signer", keys.rsa.certificatePath, "-inkey", keys.rsa.keyPath, "-out", signature]);
    runOk("openssl", ["smime", "-verify", "-binary", "-inform", "DER", "-in", signature, "-content", rootHashFile, "-CAfile", keys.rsa.certificatePath, "-purpose", "any", "-out", "/dev/null"]);
    ok(["repart", `--definitions=${definitions}`, "--dry-run=no", SEED, `--join-signature=${rootHash}:${signature}`, `--certificate=${keys.rsa.certificatePath}`, later]);

    expect(Buffer.compare(readFileSync(later), readFileSync(signed))).toBe(0);
    const pass2 = JSON.parse(ok(["verify", later, "--json", `--certificate=${keys.rsa.certificatePath}`])) as { findings: unknown[]; verity: Array<{ signatureIndex?: number }> };
    expect(pass2.findings).toEqual([]);
    expect(pass2.verity[0]!.signatureIndex).toBe(3);
  });
});
