/** What commands take from the process: SOURCE_DATE_EPOCH, key files, a TTY progress bar. */
import { readFileSync } from "node:fs";
import { ErrorCode, fail } from "../core/errors.js";
import { formatSize } from "../core/size.js";
import type { SigningKey } from "../formats/verity/signature.js";

/** SOURCE_DATE_EPOCH per reproducible-builds.org: decimal seconds; anything else is an error, not ignored. */
export function sourceDateEpoch(environment: NodeJS.ProcessEnv, specValue?: number): number | undefined {
  if (specValue !== undefined) return specValue;
  const text = environment["SOURCE_DATE_EPOCH"];
  if (text === undefined || text === "") return undefined;
  if (!/^\d+$/.test(text)) fail(ErrorCode.Usage, `SOURCE_DATE_EPOCH=${text} is not a number of seconds`, "set it to e.g. $(git log -1 --format=%ct), or unset it");
  return Number(text);
}

function readPem(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    return fail(ErrorCode.Signing, `${flag}=${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path to the PEM file");
  }
}

export function loadSigningKey(privateKeyPath: string | undefined, certificatePath: string | undefined, keyFlag: string, certificateFlag: string): SigningKey | undefined {
  if (privateKeyPath === undefined && certificatePath === undefined) return undefined;
  if (privateKeyPath === undefined) fail(ErrorCode.Signing, `${certificateFlag} given without ${keyFlag}`, `pass the matching private key with ${keyFlag}=KEY.pem`);
  if (certificatePath === undefined) fail(ErrorCode.Signing, `${keyFlag} given without ${certificateFlag}`, `pass the certificate with ${certificateFlag}=CERT.pem`);
  return {
    privateKeyPem: readPem(privateKeyPath, keyFlag),
    certificatePem: readPem(certificatePath, certificateFlag),
    privateKeyWhere: `${keyFlag}=${privateKeyPath}`,
    certificateWhere: `${certificateFlag}=${certificatePath}`,
  };
}

/** A one-line progress bar on stderr when it is a terminal; nothing otherwise. */
export function progressBar(stream: NodeJS.WriteStream, label: string, enabled = true): { update: (done: number, total: number) => void; finish: () => void } {
  if (!stream.isTTY || !enabled) return { update: () => undefined, finish: () => undefined };
  let lastDrawn = 0;
  let drawn = false;
  const update = (done: number, total: number): void => {
    const now = performance.now();
    if (now - lastDrawn < 100 && done < total) return;
    lastDrawn = now;
    drawn = true;
    const width = 30;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * width);
    stream.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${Math.round(fraction * 100)}% ${formatSize(done)}/${formatSize(total)}`);
  };
  return { update, finish: () => { if (drawn) stream.write("\n"); } };
}
