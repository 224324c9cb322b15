/**
 * Starts what every test file shares: the compiled app, one throwaway PostgreSQL 15 cluster (serving TLS), one
 * Azurite, and a TLS certificate that test processes trust (NODE_EXTRA_CA_CERTS is read at process start, so it is
 * set before workers fork; PG_SSL_ROOT_CERT names it as the CA store for database connections).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startAzurite } from "../local-host/embedded/azurite";
import { startPostgresCluster, type ClusterInfo } from "../local-host/embedded/postgres";
import { createTestCertificate, type TestCertificate } from "./support/testCertificate";

declare module "vitest" {
  export interface ProvidedContext {
    postgres: ClusterInfo;
    vaultConnectionString: string;
    /** Another storage account (its own Azurite) for restores as files: pgvault refuses its own accounts as targets. */
    exportConnectionString: string;
    tls: TestCertificate;
  }
}

export default async function setup(project: TestProject) {
  // The local host and its tests run the compiled app, as `npm start` does; a clean build, so files of deleted
  // sources cannot register stale functions.
  rmSync("dist", { recursive: true, force: true });
  execFileSync(process.execPath, [path.join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { stdio: "inherit" });
  execFileSync(process.execPath, [path.join("scripts", "bundleConsole.mjs")], { stdio: "inherit" });
  const dir = mkdtempSync(path.join(tmpdir(), "pgvault-test-"));
  const tls = createTestCertificate(dir);
  process.env.NODE_EXTRA_CA_CERTS = tls.certFile;
  // The cluster presents the certificate test processes trust (PG_SSL_ROOT_CERT, setupEnv.ts), so verify-full works.
  const [postgres, azurite, exportAzurite] = await Promise.all([startPostgresCluster(undefined, {}, undefined, tls), startAzurite(), startAzurite()]);
  const { kill: _kill, start: _start, restart: _restart, stop: _stop, destroy: _destroy, ...info } = postgres;
  project.provide("postgres", info);
  project.provide("vaultConnectionString", azurite.connectionString);
  project.provide("exportConnectionString", exportAzurite.connectionString);
  project.provide("tls", tls);
  return async () => {
    await Promise.all([postgres.destroy(), azurite.stop(), exportAzurite.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
}
