/** Authenticode signing checked by sbverify (sbsigntool) and osslsigncode, with keys from openssl. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GptimgError } from "../../../lib/core/errors.js";
import { signPe, signPeSource } from "../../../lib/formats/pe/authenticode.js";
import { parsePe } from "../../../lib/formats/pe/parse.js";
import { assembleUki, planUki, ukiSource, type UkiInputs } from "../../../lib/formats/pe/uki.js";
import { readAll } from "../../../lib/io/source.js";
import { oraclesAvailable, run, runOk } from "../../support/oracles.js";
import { bootParts } from "../../boot/parts.js";
import { makeTestPe } from "./fixture.js";
import { osslsigncodeChecksum } from "./objdump.js";

const work = mkdtempSync(join(tmpdir(), "gptimg-authenticode-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const runs = Number(process.env.GPTIMG_FC_RUNS ?? 25);
const ready = oraclesAvailable("openssl", "sbverify", "osslsigncode");
let key = "";
let certificate = "";
let otherKey = "";

function verifiers(bytes: Uint8Array, name: string): { sbverify: boolean; osslsigncode: boolean; output: string } {
  const path = join(work, name);
  writeFileSync(path, bytes);
  const sb = run("sbverify", ["--cert", join(work, "cert.pem"), path]);
  const ossl = run("osslsigncode", ["verify", "-CAfile", join(work, "cert.pem"), "-in", path]);
  return { sbverify: sb.status === 0, osslsigncode: ossl.status === 0, output: `${sb.stdout}${sb.stderr}\n${ossl.stdout}${ossl.stderr}` };
}

function testInputs(fileAlignment: number, initrdBytes: number): UkiInputs {
  return {
    stub: makeTestPe({ fileAlignment }),
    linux: makeTestPe({ sections: [{ name: ".text", size: 0x1234 }], sizeOfImageAtLeast: 0x40000 }),
    initrds: [new Uint8Array(initrdBytes).fill(0x42)],
    cmdline: "console=ttyS0 roothash=00",
    osrel: "ID=gptimg\n",
  };
}

async function testUki(fileAlignment = 0x200, initrdBytes = 3000): Promise<Uint8Array> {
  return assembleUki(testInputs(fileAlignment, initrdBytes));
}

describe.skipIf(!ready)("signPe (Authenticode)", () => {
  beforeAll(() => {
    runOk("openssl", ["req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(work, "key.pem"), "-out", join(work, "cert.pem"), "-days", "3650", "-subj", "/CN=gptimg test Secure Boot/"]);
    runOk("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", join(work, "other.pem")]);
    key = readFileSync(join(work, "key.pem"), "utf8");
    certificate = readFileSync(join(work, "cert.pem"), "utf8");
    otherKey = readFileSync(join(work, "other.pem"), "utf8");
  });

  it("a signed UKI passes sbverify --cert and osslsigncode verify -CAfile; its checksum is right", async () => {
    const signed = await signPe(await testUki(), key, certificate);
    const verdict = verifiers(signed, "signed.efi");
    expect(verdict.sbverify, verdict.output).toBe(true);
    expect(verdict.osslsigncode, verdict.output).toBe(true);
    const { current, calculated } = osslsigncodeChecksum(join(work, "signed.efi"));
    expect(current).toBe(calculated);
    const image = parsePe(signed).image!;
    const [offset, size] = [image.dataDirectories[4]!.virtualAddress, image.dataDirectories[4]!.size];
    expect(offset % 8).toBe(0);
    expect(offset + size).toBe(signed.length);
    const entry = new DataView(signed.buffer, signed.byteOffset + offset);
    expect([entry.getUint32(0, true), entry.getUint16(4, true), entry.getUint16(6, true)]).toEqual([size, 0x0200, 0x0002]);
  });

  it("signing a streamed UKI (ukiSource → signPeSource) gives the same bytes as signing it in memory", async () => {
    const plan = await planUki(testInputs(0x200, 777));
    const streamed = await readAll(await signPeSource(ukiSource(plan), key, certificate));
    expect(streamed).toEqual(await signPe(await assembleUki(testInputs(0x200, 777)), key, certificate));
    const verdict = verifiers(streamed, "streamed.efi");
    expect(verdict.sbverify && verdict.osslsigncode, verdict.output).toBe(true);
  });

  it("signing is deterministic (RSA PKCS#1 v1.5, no signing time)", async () => {
    const uki = await testUki();
    expect(await signPe(uki, key, certificate)).toEqual(await signPe(uki, key, certificate));
  });

  it("a tampered signed UKI fails both verifiers (kernel byte, header field, command line)", async () => {
    const signed = await signPe(await testUki(), key, certificate);
    const image = parsePe(signed).image!;
    const linux = image.sections.find((section) => section.name === ".linux")!;
    const cases: [string, (bytes: Uint8Array) => Uint8Array][] = [
      ["section", (bytes) => { bytes[linux.pointerToRawData + 17]! ^= 1; return bytes; }],
      ["header", (bytes) => { bytes[image.optionalHeaderOffsetBytes + 16]! ^= 1; return bytes; }],
      ["cmdline", (bytes) => { const cmdline = image.sections.find((section) => section.name === ".cmdline")!; bytes[cmdline.pointerToRawData]! ^= 0x20; return bytes; }],
    ];
    for (const [name, tamper] of cases) {
      const verdict = verifiers(tamper(Uint8Array.from(signed)), `tampered-${name}.efi`);
      expect(verdict.sbverify, `${name}: ${verdict.output}`).toBe(false);
      expect(verdict.osslsigncode, `${name}: ${verdict.output}`).toBe(false);
    }
  });

  it("fc: images of any section layout and unaligned length verify after signing", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(0x200, 0x1000), fc.integer({ min: 1, max: 20000 }), fc.integer({ min: 0, max: 7 }), async (fileAlignment, initrdBytes, trailing) => {
      const uki = await testUki(fileAlignment, initrdBytes);
      const unaligned = Uint8Array.from([...uki, ...new Uint8Array(trailing).fill(0x33)]);
      const verdict = verifiers(await signPe(unaligned, key, certificate), "property.efi");
      expect(verdict.osslsigncode, verdict.output).toBe(true);
      expect(verdict.sbverify, verdict.output).toBe(true);
    }), { numRuns: Math.max(3, Math.round(runs / 4)) });
  });

  it("signs the real UKI and systemd-boot", async () => {
    const parts = bootParts();
    if (!parts) return;
    const uki = await assembleUki({ stub: readFileSync(parts.stub), linux: readFileSync(parts.vmlinuz), initrds: [new Uint8Array(100)], cmdline: "console=ttyS0", osrel: "ID=gptimg\n" });
    for (const [name, bytes] of [["uki", uki], ["systemd-boot", readFileSync(parts.systemdBoot)]] as const) {
      const verdict = verifiers(await signPe(bytes, key, certificate, { imageWhere: name }), `real-${name}.efi`);
      expect(verdict.sbverify, verdict.output).toBe(true);
      expect(verdict.osslsigncode, verdict.output).toBe(true);
    }
  });

  it("bad input → one-line GptimgError: already signed, key not matching the certificate, not a PE", async () => {
    const signed = await signPe(await testUki(), key, certificate);
    const message = async (action: () => Promise<unknown>): Promise<string> => {
      try {
        await action();
      } catch (error) {
        expect(error).toBeInstanceOf(GptimgError);
        expect((error as Error).message).not.toContain("\n");
        return (error as Error).message;
      }
      throw new Error("expected a GptimgError");
    };
    expect(await message(() => signPe(signed, key, certificate, { imageWhere: "uki" }))).toMatch(/^uki: already signed \(certificate table at \d+/);
    expect(await message(() => signPe(new Uint8Array(1000), key, certificate, { imageWhere: "uki" }))).toMatch(/^uki: not a valid PE32\+ image/);
    expect(await message(() => signPe(Uint8Array.from(signed.subarray(0, 10)), key, certificate))).toMatch(/not a valid PE32\+ image/);
    const uki = await testUki();
    expect(await message(() => signPe(uki, otherKey, certificate, { privateKeyWhere: "boot.secureBoot.key" }))).toMatch(/^boot\.secureBoot\.key: private key does not belong to the certificate/);
  });
});
