import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    setupFiles: ["test/setupEnv.ts"],
    // Separate processes: each reads NODE_EXTRA_CA_CERTS and app settings at start, like a Functions worker.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
