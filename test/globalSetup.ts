/**
 * Starts what every test file shares: one throwaway PostgreSQL 15 cluster, one Azurite, and a TLS certificate
 * that test processes trust (NODE_EXTRA_CA_CERTS is read at process start, so it is set before workers fork).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startAzurite } from "./support/azurite";
import { startPostgresCluster, type ClusterInfo } from "./support/postgresCluster";
import { createTestCertificate, type TestCertificate } from "./support/testCertificate";

declare module "vitest" {
  export interface ProvidedContext {
    postgres: ClusterInfo;
    vaultConnectionString: string;
    tls: TestCertificate;
  }
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), "pgvault-test-"));
  const tls = createTestCertificate(dir);
  process.env.NODE_EXTRA_CA_CERTS = tls.certFile;
  const [postgres, azurite] = await Promise.all([startPostgresCluster(), startAzurite()]);
  const { kill: _kill, start: _start, destroy: _destroy, ...info } = postgres;
  project.provide("postgres", info);
  project.provide("vaultConnectionString", azurite.connectionString);
  project.provide("tls", tls);
  return async () => {
    await Promise.all([postgres.destroy(), azurite.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
}
