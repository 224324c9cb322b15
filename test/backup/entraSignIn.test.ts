/**
 * Passwordless sign-in (issue 12): a datasource and a restore target with `auth: { type: "entra", user }`. The real
 * DefaultAzureCredential gets the token from the managed-identity stand-in (test/support/identityEndpoint.ts), which
 * issues a fixed token for Azure Database for PostgreSQL's resource; a PostgreSQL role whose password is that
 * token plays the Entra-mapped role. The server takes that role over TLS only (pg_hba rejects it without), as
 * Azure does, and presents the test certificate, which this app trusts as its CA store (PG_SSL_ROOT_CERT): a
 * passing backup proves the token travelled over TLS to a server that proved its name (verify-full, issue 20).
 * 127.0.0.1 is not an Azure host, so this app lists it in ENTRA_SIGN_IN_HOSTS, as a private DNS name would be.
 * Afterwards the token is searched for in every history, status, log line, job row and recovery point.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startPostgresCluster, systemPgBinDir, type PostgresCluster } from "../../local-host/embedded/postgres";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putInstance } from "../../shared/catalog/catalog";
import { getJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, DatabaseRestoreTarget } from "../../shared/domain";
import { postgresTokenScope } from "../../shared/postgres/entraSignIn";
import { asDumpPoint, protect, runBackup } from "../support/backupFixture";
import { startIdentityEndpoint, type IdentityEndpoint } from "../support/identityEndpoint";
import type { OrchestrationRun } from "../support/replayDriver";
import { runRestore } from "../support/restoreFixture";
import { contentFingerprint, createBackupRole, seedRichDatabase, withAdmin } from "../support/testDatabase";

// Read once, at the first sign-in.
process.env.ENTRA_SIGN_IN_HOSTS = "127.0.0.1";

const resource = postgresTokenScope.replace(/\/\.default$/, "");
/** A managed identity's name, as Azure maps it to a role (hyphens and all). */
const entraRole = "pgvault-prod-id";
/** Shaped like an Entra access token (three base64url parts, about 1.5 KB); only the role's password makes it valid. */
const token = [randomBytes(30), randomBytes(900), randomBytes(256)].map((part) => part.toString("base64url")).join(".");

let identity: IdentityEndpoint;
let server: PostgresCluster;
/** A server without TLS: the token must never reach it. */
let plain: PostgresCluster;
let instance: BackupInstance;
const runs: OrchestrationRun[] = [];
const protectedInstances: BackupInstance[] = [];
const savedEnv = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

/** The Entra role allowed over TLS only (with a password otherwise only for the test's own admin). */
async function requireTlsForEntraRole(cluster: PostgresCluster): Promise<void> {
  const hba = path.join(cluster.dataDir, "pg_hba.conf");
  writeFileSync(hba, `hostnossl all "${entraRole}" 0.0.0.0/0 reject\nhostssl all "${entraRole}" 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, "utf8")}`);
  await withAdmin("postgres", (c) => c.query("SELECT pg_reload_conf()"), cluster);
}

beforeAll(async () => {
  identity = await startIdentityEndpoint();
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  server = await startPostgresCluster(systemPgBinDir, {}, undefined, inject("tls"));
  plain = await startPostgresCluster(systemPgBinDir, {}, undefined, false);
  await requireTlsForEntraRole(server);
  await withAdmin("postgres", (c) => c.query("CREATE DATABASE sales"), server);
  await seedRichDatabase("sales", server);
  await createBackupRole("sales", entraRole, token, server);
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${pg.escapeIdentifier(entraRole)} CREATEDB`), server);
  instance = await protect(`entra-${Date.now().toString(36)}`, {
    type: "database", host: server.host, port: server.port, database: "sales", auth: { type: "entra", user: entraRole },
  });
  protectedInstances.push(instance);
}, 120_000);

afterAll(async () => {
  // Stopped, so a local host's scheduler sharing this vault in the same run leaves them alone.
  for (const protectedInstance of protectedInstances) await putInstance({ ...protectedInstance, protectionState: "ProtectionStopped" });
  await Promise.all([server?.stop(), plain?.stop()]);
  await identity?.close();
  process.env.IDENTITY_ENDPOINT = savedEnv.endpoint;
  process.env.IDENTITY_HEADER = savedEnv.header;
});

const target = (database: string): DatabaseRestoreTarget => ({
  type: "database", host: server.host, port: server.port, database, auth: { type: "entra", user: entraRole }, overwrite: false, preserveOwnership: false,
});

async function backUp() {
  const run = await runBackup(instance, `backup-${instance.name}-${runs.length}`);
  runs.push(run);
  return getJob(run.jobId);
}

describe("Microsoft Entra sign-in", () => {
  // First: once the credential holds a token it serves it from its cache.
  test("when the identity gets no token for PostgreSQL, then the backup fails with UserErrorMSIMissingPermissions naming the credential chain, before connecting", async () => {
    identity.answerFor(resource, { refuse: true });
    const job = await backUp();
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorMSIMissingPermissions");
    expect(job?.error?.message).toContain("ossrdbms-aad.database.windows.net");
    expect(job?.error?.message).toMatch(/ManagedIdentityCredential/);
    expect(job?.error?.recommendedAction).toMatch(/AZURE_CLIENT_ID/);
    expect(identity.requests.some((request) => request.resource === resource && request.status === 400)).toBe(true);
  });

  test("when the role is mapped, then backup and restore sign in with the token over TLS, and the restore equals the source", async () => {
    identity.answerFor(resource, { token });
    const job = await backUp();
    expect(job?.error).toBeUndefined();
    expect(job?.status).toBe("Succeeded");
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    const restore = await runRestore(rp, target("sales_restored"));
    runs.push(restore);
    expect((await getJob(restore.jobId))?.error).toBeUndefined();
    expect(await contentFingerprint("sales_restored", server)).toEqual(await contentFingerprint("sales", server));
    // The activities asked for a token for PostgreSQL's resource; no secret was resolved.
    expect(identity.requests.some((request) => request.resource === resource && request.status === 200)).toBe(true);
    expect(runs.at(-2)!.history.some((event) => JSON.stringify(event).includes("resolveSecret"))).toBe(false);
  });

  test("when the server refuses the token (the role's mapping or the token changed), then UserErrorDBUserAuthFailed says which pgaadauth_create_principal call to run", async () => {
    await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${pg.escapeIdentifier(entraRole)} PASSWORD ${pg.escapeLiteral(randomBytes(24).toString("hex"))}`), server);
    try {
      const job = await backUp();
      expect(job?.error?.code).toBe("UserErrorDBUserAuthFailed");
      expect(job?.error?.message).toContain("Microsoft Entra token");
      expect(job?.error?.recommendedAction).toContain("SELECT * FROM pgaadauth_create_principal('pgvault-prod-id', false, false);");
      const restore = await runRestore(asDumpPoint((await listRecoveryPoints(instance.name))[0]), target("sales_refused"));
      runs.push(restore);
      expect((await getJob(restore.jobId))?.error?.code).toBe("UserErrorDBUserAuthFailed");
    } finally {
      await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${pg.escapeIdentifier(entraRole)} PASSWORD ${pg.escapeLiteral(token)}`), server);
    }
  });

  test("when the server offers no TLS, then the token is never sent: the backup fails as unreachable", async () => {
    const plainInstance = await protect(`entra-plain-${Date.now().toString(36)}`, {
      type: "database", host: plain.host, port: plain.port, database: "postgres", auth: { type: "entra", user: entraRole },
    });
    protectedInstances.push(plainInstance);
    const run = await runBackup(plainInstance, `backup-${plainInstance.name}`);
    runs.push(run);
    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorServerUnreachable");
    expect(job?.error?.message).toMatch(/SSL/i);
  });

  test("the token appears in no history, status, log line, job row or recovery point", async () => {
    const jobs = await Promise.all(runs.map((run) => getJob((run as OrchestrationRun & { jobId: string }).jobId)));
    const recorded = JSON.stringify({
      histories: runs.map((run) => run.history),
      states: runs.map((run) => run.state),
      statuses: runs.map((run) => run.customStatuses),
      logs: runs.flatMap((run) => run.logs),
      jobs,
      recoveryPoints: await listRecoveryPoints(instance.name),
    });
    expect(runs.length).toBe(6);
    expect(recorded).toContain("stored backups/"); // activity log lines were captured
    expect(recorded).toContain("UserErrorDBUserAuthFailed");
    for (const part of token.split(".")) expect(recorded).not.toContain(part);
  });
});
