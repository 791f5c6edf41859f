/**
 * `gptimg verify IMAGE`: every problem gptimg can find in an image, one per line (or one JSON
 * document). Exit 0 when no finding is an error, 3 when one is, 1 for usage errors.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ErrorCode, fail } from "../core/errors.js";
import { loadCertificates } from "../crypto/x509.js";
import { hasErrors, verifyImage } from "../verify/image.js";
import type { ImageVerification } from "../verify/types.js";
import { parseWorkers } from "./options.js";

interface VerifyFlags {
  certificate?: string;
  json?: boolean;
  workers?: string;
}

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description("Check an image: GPT CRCs and backup, DPS rules, dm-verity trees against their root hashes, verity signatures")
    .argument("<image>", "image file")
    .option("--certificate <pem>", "the verity signatures must be made with this certificate")
    .option("--json", "print one JSON document")
    .option("--workers <n>", "worker threads for hashing (default: all cores)")
    .addHelpText("after", "\nExit status: 0 no errors (warnings may be shown), 3 errors found, 1 usage error.\n\nExamples:\n  gptimg verify disk.raw\n  gptimg verify disk.raw --certificate=verity.crt --json | jq '.findings[]'")
    .action(async (image: string, flags: VerifyFlags) => {
      const certificatePem = flags.certificate === undefined ? undefined : readCertificate(flags.certificate);
      const verification = await verifyImage(image, { concurrency: parseWorkers(flags.workers, "--workers"), ...(certificatePem !== undefined ? { certificatePem } : {}) });
      process.stdout.write(`${flags.json ? JSON.stringify(verification, null, 2) : renderVerification(verification)}\n`);
      if (hasErrors(verification)) process.exitCode = 3;
    });
}

/** Reads and parses --certificate=PEM; a bad file is a usage error (exit 1). */
export function readCertificate(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    return fail(ErrorCode.Usage, `--certificate=${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`, "check the path to the PEM certificate");
  }
  loadCertificates(pem, `--certificate=${path}`);
  return pem;
}

function renderVerification(verification: ImageVerification): string {
  const lines = [`${verification.image}: ${verification.findings.length === 0 ? "no problems found" : `${verification.findings.length} finding(s)`}`];
  for (const pair of verification.verity) {
    lines.push(`  verity: partitions ${pair.dataIndex} + ${pair.hashIndex}${pair.signatureIndex !== undefined ? ` + ${pair.signatureIndex}` : ""} root hash ${pair.rootHash}: ${pair.ok ? "ok" : "BAD"}`);
  }
  for (const finding of verification.findings) lines.push(`  ${finding.severity} [${finding.area}]: ${finding.message}`);
  return lines.join("\n");
}
