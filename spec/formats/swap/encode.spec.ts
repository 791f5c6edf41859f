/** The swap header we write is what util-linux (blkid, swaplabel) reads as mkswap's. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { encodeSwapHeader } from "../../../lib/formats/swap/encode.js";
import { oraclesAvailable, runOk } from "../../support/oracles.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-swap-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!oraclesAvailable("blkid", "swaplabel"))("swap header", () => {
  it("blkid and swaplabel read UUID, label and version for random sizes and labels", () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 4000 }), fc.uuid({ version: 4 }), fc.stringMatching(/^[a-z0-9_-]{0,15}$/), (pages, uuid, label) => {
        const path = join(work, "swap.img");
        const image = new Uint8Array(pages * 4096);
        image.set(encodeSwapHeader(image.length, uuid, label), 0);
        writeFileSync(path, image);
        const probe = runOk("blkid", ["-p", "-o", "export", path]);
        expect(probe).toContain("TYPE=swap");
        expect(probe).toContain(`UUID=${uuid}`);
        expect(runOk("swaplabel", [path])).toContain(`UUID:  ${uuid}`);
        if (label !== "") expect(probe).toContain(`LABEL=${label}`);
      }),
      { numRuns: 30 },
    );
  });
  it("refuses partitions below 10 pages", () => {
    expect(() => encodeSwapHeader(9 * 4096, "b81954c1-14bd-4647-a6dc-1cbc390ba1c1", "x")).toThrow(/10 pages/);
  });
});
