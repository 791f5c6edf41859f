/**
 * The gptimg command line: maps flags to library calls, prints results, turns user errors
 * into one line on stderr and a non-zero exit code. No format logic lives here.
 */
import { Command, CommanderError } from "commander";
import { isGptimgError } from "../core/errors.js";
import { NotRepartitioningError } from "../build/compose.js";
import { registerCompose, registerSchema } from "./compose.js";
import { registerInspect } from "./inspect.js";
import { registerRepart } from "./repart.js";
import { registerUpdate } from "./update.js";
import { registerVerify } from "./verify.js";

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("gptimg")
    .description("Compose bootable, A/B-updatable, dm-verity-protected GPT disk images without root, loop devices or host mkfs tools.")
    .version("0.1.0")
    .exitOverride()
    // Commander's "(Did you mean …?)" goes on its own line; users get one line.
    .configureOutput({ outputError: (text, write) => write(`gptimg: ${text.trim().replace(/\s*\n\s*/g, " ")}\n`) })
    .showSuggestionAfterError(true);
  registerCompose(program);
  registerRepart(program);
  registerInspect(program);
  registerSchema(program);
  registerVerify(program);
  registerUpdate(program);
  program.addHelpText("after", `
Examples:
  gptimg compose examples/minimal/spec.json -o disk.raw
  gptimg repart --definitions=repart.d --empty=create --size=auto --seed=0123… disk.raw
  gptimg inspect disk.raw --json
  gptimg verify disk.raw --certificate=verity.crt`);
  try {
    await program.parseAsync(argv as string[]);
    return Number(process.exitCode ?? 0);
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander already printed its one-line message (or help/version, exit code 0).
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof NotRepartitioningError) {
    process.stderr.write(`gptimg: ${error.message}\n`);
    return 77;
  }
  if (isGptimgError(error)) {
    process.stderr.write(`gptimg: error: ${error.message}\n`);
    return 1;
  }
  const detail = process.env["GPTIMG_DEBUG"] ? `\n${(error as Error)?.stack}` : " (set GPTIMG_DEBUG=1 for a stack trace)";
  process.stderr.write(`gptimg: internal error: ${(error as Error)?.message ?? String(error)}${detail}\n`);
  return 70;
}
