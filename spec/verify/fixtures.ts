/** Small composed images for the verify specs: a signed usr erofs + verity + verity-sig image. */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { gptimg } from "../support/cli.js";

export interface ComposedPartition {
  readonly type: string;
  readonly offset: number;
  readonly size: number;
  readonly uuid: string;
  readonly label: string;
}

export interface Composed {
  readonly image: string;
  readonly partitions: readonly ComposedPartition[];
  readonly rootHash: string;
}

/**
 * Deterministic file contents (SHA-256 counter stream) so every data block differs and the
 * usr partition spans ~200 blocks: two leaf hash blocks and a top block.
 */
export function writeUsrTree(directory: string): void {
  mkdirSync(join(directory, "bin"), { recursive: true });
  for (let file = 0; file < 40; file++) {
    const parts: Buffer[] = [];
    for (let counter = 0; parts.length * 32 < 20000; counter++) parts.push(createHash("sha256").update(`${file}/${counter}`).digest());
    writeFileSync(join(directory, "bin", `tool${file}`), Buffer.concat(parts).subarray(0, 20000));
  }
}

/** The spec sits next to `usrtree/` (see writeUsrTree), which it copies into the usr partition. */
export function writeUsrSpec(directory: string, signing: { keyPath: string; certificatePath: string } | undefined, name = "usr.json"): string {
  const path = join(directory, name);
  writeFileSync(path, JSON.stringify({
    seed: "5c4e2a8f-3b1d-4e6f-9a7c-0d2b4f6e8a1c",
    architecture: "x86-64",
    size: "auto",
    ...(signing ? { signing: { privateKey: signing.keyPath, certificate: signing.certificatePath } } : {}),
    partitions: [
      { type: "usr", label: "usr_1", format: "erofs", copyFiles: ["usrtree:/"], verity: "data", verityMatchKey: "usr" },
      { type: "usr-verity", label: "usr_1_verity", verity: "hash", verityMatchKey: "usr" },
      ...(signing ? [{ type: "usr-verity-sig", label: "usr_1_verity_sig", verity: "signature", verityMatchKey: "usr" }] : []),
    ],
  }));
  return path;
}

export function compose(spec: string, image: string): Composed {
  const result = gptimg(["compose", spec, "-o", image, "--json"]);
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const report = JSON.parse(result.stdout) as { partitions: ComposedPartition[]; verity: Array<{ rootHash: string }> };
  return { image, partitions: report.partitions, rootHash: report.verity[0]!.rootHash };
}
