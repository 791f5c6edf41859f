#!/usr/bin/env node
import { main } from "../lib/cli/main.js";

// `gptimg inspect disk.raw | head` closes the pipe early: that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv);
