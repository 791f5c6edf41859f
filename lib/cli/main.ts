/** The gptimg command line: maps flags to library calls; no format logic lives here. */
export async function main(_argv: string[]): Promise<number> {
  return 0;
}
