import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    setupFiles: ["test/setupEnv.ts"],
    // Separate processes: each reads NODE_EXTRA_CA_CERTS and app settings at start, like a Functions worker.
    pool: "forks",
    // Two files at a time on the 2-core machines this runs on (vitest's default there is one): most of a file's time
    // is spent waiting on PostgreSQL, Azurite, host processes and durable timers. 544 s against 891 s for the suite
    // on a clean clone (README, "Quick start"); files that share the suite's vault keep to their own instances.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Without a Functions host, @azure/functions skips registrations and says so once per function; expected here.
    onConsoleLog: (log: string) => !log.includes("because the \"@azure/functions\" package is in test mode"),
  },
});
