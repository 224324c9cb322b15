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
    // Without a Functions host, @azure/functions skips registrations and says so once per function; expected here.
    onConsoleLog: (log: string) => !log.includes("because the \"@azure/functions\" package is in test mode"),
  },
});
