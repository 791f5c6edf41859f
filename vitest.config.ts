import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["spec/**/*.spec.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    // Two cores: tests that start worker threads or oracle tools already use both.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
