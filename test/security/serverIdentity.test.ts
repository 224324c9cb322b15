/**
 * The server is authenticated before a credential is sent (issue 20, point 3). This app runs with
 * MIN_SSL_MODE=verify-full, and its CA store (PG_SSL_ROOT_CERT) trusts the suite's certificate for 127.0.0.1 and
 * one for another name, pg.elsewhere.test. An impostor on 127.0.0.1 that presents the other name's (trusted)
 * certificate is refused with UserErrorSecretServerMismatch by the access check (node-pg) and by pg_dump (libpq)
 * alike, for a password and for an Entra token, and its log shows no sign-in attempt; a server whose certificate
 * no trusted CA issued is refused the same way; the suite's own cluster, whose certificate is for 127.0.0.1,
 * is backed up as before, under verify-full end to end.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startPostgresCluster, systemPgBinDir, type PostgresCluster } from "../../local-host/embedded/postgres";
import { putInstance } from "../../shared/catalog/catalog";
import { getJob } from "../../shared/catalog/jobRows";
import type { BackupInstance } from "../../shared/domain";
import { PgVaultError } from "../../shared/errors";
import { startPgDump } from "../../shared/backup/pgDumpProcess";
import { connectionParamsFor } from "../../shared/postgres/connectionParams";
import { postgresTokenScope } from "../../shared/postgres/entraSignIn";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startIdentityEndpoint, type IdentityEndpoint } from "../support/identityEndpoint";
import { createTestCertificate } from "../support/testCertificate";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const certDir = mkdtempSync(path.join(tmpdir(), "pgvault-identity-"));
const elsewhere = createTestCertificate(certDir, { commonName: "pg.elsewhere.test", altNames: "DNS:pg.elsewhere.test" });
const caBundle = path.join(certDir, "ca-bundle.pem");
writeFileSync(caBundle, `${readFileSync(inject("tls").certFile, "utf8")}${readFileSync(elsewhere.certFile, "utf8")}`);
// Read once, at the first connection: this app's settings.
process.env.PG_SSL_ROOT_CERT = caBundle;
process.env.MIN_SSL_MODE = "verify-full";
process.env.ENTRA_SIGN_IN_HOSTS = "127.0.0.1";

const role = uniqueName("identity_user");
const password = `pw-${uniqueName("identity")}`;
const entraRole = "pgvault-identity-id";
const token = `token-${uniqueName("entra")}`;
let impostor: PostgresCluster;
let untrusted: PostgresCluster;
let identity: IdentityEndpoint;
const instances: BackupInstance[] = [];
const savedIdentity = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

/** What the server logged (log_connections): every connection it received and every sign-in it authorized or refused. */
const serverLog = (server: PostgresCluster) => readFileSync(path.join(path.dirname(server.dataDir), "server.log"), "utf8");

async function seed(server: PostgresCluster): Promise<void> {
  await createDatabase("sales", server);
  await createBackupRole("sales", role, password, server);
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${pg.escapeIdentifier(entraRole)} LOGIN PASSWORD ${pg.escapeLiteral(token)}`), server);
}

async function backUpWith(instance: BackupInstance) {
  instances.push(instance);
  const run = await runBackup(instance, `backup-${instance.name}`);
  return getJob(run.jobId);
}

beforeAll(async () => {
  identity = await startIdentityEndpoint();
  identity.answerFor(postgresTokenScope.replace(/\/\.default$/, ""), { token });
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  [impostor, untrusted] = await Promise.all([
    startPostgresCluster(systemPgBinDir, { log_connections: "on" }, undefined, elsewhere),
    // Its own self-signed certificate, for 127.0.0.1 but from no CA this app trusts.
    startPostgresCluster(systemPgBinDir, { log_connections: "on" }),
  ]);
  await Promise.all([seed(impostor), seed(untrusted)]);
}, 120_000);

afterAll(async () => {
  for (const instance of instances) await putInstance({ ...instance, protectionState: "ProtectionStopped" });
  await Promise.all([impostor?.destroy(), untrusted?.destroy(), identity?.close()]);
  process.env.IDENTITY_ENDPOINT = savedIdentity.endpoint;
  process.env.IDENTITY_HEADER = savedIdentity.header;
  rmSync(certDir, { recursive: true, force: true });
});

describe("under verify-full, a server proves its name before it gets a credential", () => {
  test("when a secret says sslmode=disable, MIN_SSL_MODE=verify-full raises it, and a server whose certificate is for another name is refused: no password reaches it", async () => {
    const instance = await protect(uniqueName("impostor").replaceAll("_", "-"), databaseSource("sales", envSecret("PGVAULT_SECRET_IMPOSTOR", role, password, impostor), impostor));
    const job = await backUpWith(instance);
    expect(job).toMatchObject({ status: "Failed", phase: "CheckingAccess", error: { code: "UserErrorSecretServerMismatch" } });
    expect(job!.error!.message).toBe(
      `The server at 127.0.0.1:${impostor.port} did not prove it is 127.0.0.1 (sslmode verify-full): its TLS certificate is not for 127.0.0.1. No credentials were sent.`,
    );
    const log = serverLog(impostor);
    expect(log).toMatch(/connection received: host=127\.0\.0\.1/);
    expect(log).not.toContain(`user=${role}`);
    expect(log).not.toMatch(/password authentication failed/);
  });

  test("when pg_dump meets the same server under verify-full, then libpq refuses it too, with the same code", async () => {
    const params = await connectionParamsFor({ host: impostor.host, port: impostor.port, database: "sales", secretRef: "env:PGVAULT_SECRET_IMPOSTOR" });
    expect(params.sslMode).toBe("verify-full");
    const dump = startPgDump(params);
    dump.stdout?.resume();
    const failure = await dump.exited.then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(PgVaultError);
    expect((failure as PgVaultError).code).toBe("UserErrorSecretServerMismatch");
    expect((failure as PgVaultError).detail).toContain("its TLS certificate is not for 127.0.0.1");
    expect(serverLog(impostor)).not.toContain(`user=${role}`);
  });

  test("when the app signs in with its Entra token to that server, then the token is not sent either", async () => {
    const instance = await protect(uniqueName("impostor-entra").replaceAll("_", "-"), {
      type: "database", host: impostor.host, port: impostor.port, database: "sales", auth: { type: "entra", user: entraRole },
    });
    const job = await backUpWith(instance);
    expect(job?.error?.code).toBe("UserErrorSecretServerMismatch");
    expect(serverLog(impostor)).not.toContain(`user=${entraRole}`);
  });

  test("when the server's certificate is from no CA the app trusts, then it is refused the same way", async () => {
    const instance = await protect(uniqueName("untrusted").replaceAll("_", "-"), databaseSource("sales", envSecret("PGVAULT_SECRET_UNTRUSTED", role, password, untrusted), untrusted));
    const job = await backUpWith(instance);
    expect(job?.error?.code).toBe("UserErrorSecretServerMismatch");
    expect(job!.error!.message).toContain("its TLS certificate is not issued by a CA the app trusts");
    expect(serverLog(untrusted)).not.toContain(`user=${role}`);
  });

  test("when the server's certificate is for its name (the suite's cluster), then the backup succeeds under verify-full: access check and pg_dump", async () => {
    const database = uniqueName("verified");
    await createDatabase(database);
    const verifiedRole = uniqueName("verified_user");
    await createBackupRole(database, verifiedRole, password);
    const instance = await protect(uniqueName("verified").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${verifiedRole.toUpperCase()}`, verifiedRole, password)));
    const job = await backUpWith(instance);
    expect(job?.error).toBeUndefined();
    expect(job?.status).toBe("Succeeded");
  });
});
