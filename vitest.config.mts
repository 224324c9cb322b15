import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    setupFiles: ["test/setupEnv.ts"],
    // Separate processes: each reads NODE_EXTRA_CA_CERTS and app settings at start, like a Functions worker.
    pool: "forks",
    // One file at a time (vitest's default on the 2-core machines this runs on). Two at a time took 544-603 s instead
    // of 891 s on a clean clone, but test/local-host/largeDatabase.test.ts's restore of 5,000 tables failed then in
    // two of three runs: worth a look before the suite goes parallel.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Without a Functions host, @azure/functions skips registrations and says so once per function; expected here.
    onConsoleLog: (log: string) => !log.includes("because the \"@azure/functions\" package is in test mode"),
  },
});
