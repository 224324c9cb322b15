/**
 * Credentials go only to the servers they belong to (issue 20), through the HTTP API's real handlers, the durable
 * client stand-in and the real activities: every way a caller could point one of the app's credentials at a server
 * of their own is refused, and each refusal is proven twice: a listening socket in the caller's place saw no
 * connection at all, and the managed-identity stand-in was asked for no token.
 *
 * The attacker's server is `foreign` (a socket that records connections); the victim is an instance configured
 * against the test cluster with its own `env:` secret. This file's app lists one Key Vault in KEY_VAULT_HOSTS and
 * allows Microsoft Entra sign-in to Azure's PostgreSQL domains only (no ENTRA_SIGN_IN_HOSTS).
 */
import type { HttpResponseInit } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { putBackupInstance, getBackupInstance } from "../../functions/backupInstances";
import { getJobById } from "../../functions/jobs";
import { startOnDemandBackup } from "../../functions/onDemandBackup";
import { startRestore } from "../../functions/restore";
import { startVerify } from "../../functions/verify";
import { backupOrchestrator } from "../../orchestrators/backup";
import { restoreOrchestrator } from "../../orchestrators/restore";
import { verifyOrchestrator } from "../../orchestrators/verify";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import type { BackupInstance, DumpRecoveryPoint, Job } from "../../shared/domain";
import { handled, type HttpHandler } from "../../shared/http";
import { backupActivities, dailyPolicy, envSecret } from "../support/backupFixture";
import { startConnectionRecorder, type ConnectionRecorder } from "../support/connectionRecorder";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, invocation, request } from "../support/http";
import { startIdentityEndpoint, type IdentityEndpoint } from "../support/identityEndpoint";
import { runOrchestration, type ActivityFunction } from "../support/replayDriver";
import { restoreActivities } from "../support/restoreFixture";
import { cluster, createBackupRole, createDatabase, uniqueName } from "../support/testDatabase";
import { verifyActivities } from "../support/verifyFixture";

// Read once, when the first reference is checked.
process.env.KEY_VAULT_HOSTS = "pgvault-kv.vault.azure.net";

const password = `pw-${uniqueName("victim")}`;
const policyName = uniqueName("scope-policy").replaceAll("_", "-");
const database = uniqueName("scope");
const victimRole = uniqueName("victim");
let victimSecret: string;
let foreign: ConnectionRecorder;
let foreignVault: ConnectionRecorder;
let identity: IdentityEndpoint;
let durable: DurableClientStandIn;
let mine: BackupInstance;
let point: DumpRecoveryPoint;
const savedIdentity = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

const call = (handler: HttpHandler, req: ReturnType<typeof request>) => handled(handler)(req, invocation("test"));
const errorOf = (response: HttpResponseInit) => bodyOf<{ error: { code: string; message: string; recommendedAction?: string; details?: { path: string; message: string }[] } }>(response).error;
const clusterServer = () => `${cluster().host}:${cluster().port}`;

/** A recovery point row: each refused job stops before any step reads it. */
function pointOf(instanceName: string): DumpRecoveryPoint {
  return {
    id: "rp-20260104T023007Z-5c09e1a2", instanceName, time: "2026-01-04T02:30:07Z", tag: "Default", expiresAt: "2036-01-04T02:30:07Z",
    status: "Available", sizeBytes: 1, sha256: "0".repeat(64), format: "pg_dump-custom", serverVersion: "15.18", toolVersion: "pg_dump 15.18",
    blobs: [`backups/${instanceName}/rp-20260104T023007Z-5c09e1a2/x.dump`],
  };
}

/** Nothing reached the attacker's server or vault, and no token was asked for, while `action` ran. */
async function nothingLeaves<T>(action: () => Promise<T>): Promise<T> {
  const before = { server: foreign.connections, vault: foreignVault.connections, tokens: identity.requests.length };
  const result = await action();
  expect({ server: foreign.connections, vault: foreignVault.connections, tokens: identity.requests.length }).toEqual(before);
  return result;
}

async function put(name: string, datasource: Record<string, unknown>): Promise<HttpResponseInit> {
  return call(putBackupInstance, request("PUT", `backupInstances/${name}`, { body: { policyName, datasource }, params: { name } }));
}

/** Starts a job through its route and runs the orchestration the route started; the job as GET /jobs/{id} shows it. */
async function runJob(
  route: "backup" | "restore" | "verify",
  instanceName: string,
  body: unknown,
): Promise<{ accepted: HttpResponseInit; job?: Job }> {
  const handlers = { backup: startOnDemandBackup, restore: startRestore, verify: startVerify };
  const orchestrators = { backup: backupOrchestrator, restore: restoreOrchestrator, verify: verifyOrchestrator };
  const activities: Record<string, Record<string, ActivityFunction>> = { backup: backupActivities, restore: restoreActivities, verify: verifyActivities };
  const { client, context } = durable.client(route);
  const req = request("POST", `backupInstances/${instanceName}/${route}`, { ...(body === undefined ? {} : { body: body as object }), params: { name: instanceName } });
  const accepted = await handlers[route](req, client, context);
  if (accepted.status !== 202) return { accepted };
  const { jobId } = bodyOf<{ jobId: string }>(accepted);
  const start = durable.started.find((started) => started.instanceId === jobId)!;
  await runOrchestration(orchestrators[route], { name: start.name, instanceId: jobId, input: start.input, activities: activities[route]! });
  return { accepted, job: bodyOf<Job>(await call(getJobById, request("GET", `jobs/${jobId}`, { params: { id: jobId } }))) };
}

beforeAll(async () => {
  [foreign, foreignVault, identity, durable] = await Promise.all([startConnectionRecorder(), startConnectionRecorder(), startIdentityEndpoint(), startDurableClientStandIn()]);
  // Before the app's credential is first built: every token it would ask for is counted here.
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  await createDatabase(database);
  await createBackupRole(database, victimRole, password);
  victimSecret = envSecret(`PGVAULT_SECRET_${victimRole.toUpperCase()}`, victimRole, password);
  await putPolicy(dailyPolicy(policyName));
  // The victim, configured as an Admin would: its secret names the test cluster.
  expect((await put(uniqueName("victim").replaceAll("_", "-"), { type: "database", database, secretRef: victimSecret })).status).toBe(201);
  // The caller's own instance and recovery point, which they may restore wherever they like with credentials of theirs.
  mine = { name: uniqueName("mine").replaceAll("_", "-"), policyName, datasource: { type: "database", host: "127.0.0.1", port: 1, database: "x", secretRef: "env:PGVAULT_SECRET_UNUSED" }, protectionState: "ProtectionStopped", createdAt: "2026-01-01T00:00:00Z" };
  await putInstance(mine);
  point = pointOf(mine.name);
  await putRecoveryPoint(point);
}, 120_000);

afterAll(async () => {
  process.env.IDENTITY_ENDPOINT = savedIdentity.endpoint;
  process.env.IDENTITY_HEADER = savedIdentity.header;
  await Promise.all([foreign?.close(), foreignVault?.close(), identity?.close(), durable?.close()]);
});

describe("a secret names its server", () => {
  test("when an Operator restores to a host of theirs with another instance's secret, then the job fails with UserErrorSecretServerMismatch before anything connects", async () => {
    const { accepted, job } = await nothingLeaves(() =>
      runJob("restore", mine.name, { recoveryPointId: point.id, target: { type: "database", host: foreign.host, port: foreign.port, database: "loot", secretRef: victimSecret } }),
    );
    expect(accepted.status).toBe(202);
    expect(job).toMatchObject({ status: "Failed", phase: "ResolvingSecret", error: { code: "UserErrorSecretServerMismatch" } });
    expect(job!.error!.message).toContain(`holds credentials for ${clusterServer()}, not for ${foreign.host}:${foreign.port}`);
    expect(job!.error!.recommendedAction).toContain(`The secret is for ${clusterServer()}`);
    expect(JSON.stringify(job)).not.toContain(password);
  });

  test("when the restore names the right host under another name (localhost for 127.0.0.1), then it is refused too: names are compared, not resolved", async () => {
    const { job } = await nothingLeaves(() =>
      runJob("restore", mine.name, { recoveryPointId: point.id, target: { type: "database", host: "localhost", port: cluster().port, database: "loot", secretRef: victimSecret } }),
    );
    expect(job?.error?.code).toBe("UserErrorSecretServerMismatch");
  });

  test("when an Admin configures an instance on a host of theirs with another instance's secret, then 422 UserErrorSecretServerMismatch names the secret's server, and nothing is stored", async () => {
    const name = uniqueName("hijack").replaceAll("_", "-");
    const response = await nothingLeaves(() => put(name, { type: "database", host: foreign.host, port: foreign.port, database, secretRef: victimSecret }));
    expect(response.status).toBe(422);
    expect(errorOf(response)).toMatchObject({ code: "UserErrorSecretServerMismatch" });
    expect(errorOf(response).recommendedAction).toContain(`give host '${cluster().host}' and port ${cluster().port}, or leave both out`);
    expect(JSON.stringify(response.jsonBody)).not.toContain(password);
    expect((await call(getBackupInstance, request("GET", `backupInstances/${name}`, { params: { name } }))).status).toBe(404);
  });

  test("when only the port is another server's, then 422 as well", async () => {
    const response = await nothingLeaves(() => put(uniqueName("port").replaceAll("_", "-"), { type: "database", port: foreign.port, database, secretRef: victimSecret }));
    expect(errorOf(response).code).toBe("UserErrorSecretServerMismatch");
  });

  test("when a secret names no host, then it is refused before any connection (it could be sent anywhere)", async () => {
    process.env.PGVAULT_SECRET_HOSTLESS = `User Id=${victimRole};Password=${password};Database=${database}`;
    const response = await nothingLeaves(() => put(uniqueName("hostless").replaceAll("_", "-"), { type: "database", host: foreign.host, port: foreign.port, database, secretRef: "env:PGVAULT_SECRET_HOSTLESS" }));
    expect(response.status).toBe(422);
    expect(errorOf(response)).toMatchObject({ code: "UserErrorSecretServerMismatch", message: "app setting 'PGVAULT_SECRET_HOSTLESS' names no server: its connection string has no host." });
  });

  test("when an instance stored before this rule names another host than its secret, then its next backup and drill fail with UserErrorSecretServerMismatch", async () => {
    const stale: BackupInstance = {
      name: uniqueName("stale").replaceAll("_", "-"), policyName, protectionState: "ProtectionConfigured", createdAt: "2025-01-01T00:00:00Z",
      datasource: { type: "database", host: foreign.host, port: foreign.port, database, secretRef: victimSecret },
    };
    await putInstance(stale);
    await putRecoveryPoint(pointOf(stale.name));
    for (const route of ["backup", "verify"] as const) {
      const { job } = await nothingLeaves(() => runJob(route, stale.name, undefined));
      expect(job, route).toMatchObject({ status: "Failed", error: { code: "UserErrorSecretServerMismatch" } });
      expect(job!.error!.message, route).toContain(`holds credentials for ${clusterServer()}`);
    }
  });
});

describe("Microsoft Entra tokens go only to Azure Database for PostgreSQL", () => {
  const entra = { auth: { type: "entra", user: "pgvault-prod-id" } };

  test("when an instance signs in with Entra on a host that is no Azure PostgreSQL host and not listed, then 422 before a token is requested", async () => {
    const response = await nothingLeaves(() => put(uniqueName("entra").replaceAll("_", "-"), { type: "database", host: foreign.host, port: foreign.port, database: "postgres", ...entra }));
    expect(response.status).toBe(422);
    expect(errorOf(response).code).toBe("UserErrorSecretServerMismatch");
    expect(errorOf(response).message).toContain(`${foreign.host} is neither, so no token was requested`);
    expect(errorOf(response).recommendedAction).toContain("ENTRA_SIGN_IN_HOSTS");
  });

  test("when a restore target signs in with Entra on a look-alike host, then the job fails before a token is requested", async () => {
    for (const host of ["postgres.database.azure.com.evil.example", "evil-postgres.database.azure.com"]) {
      const { job } = await nothingLeaves(() => runJob("restore", mine.name, { recoveryPointId: point.id, target: { type: "database", host, database: "loot", ...entra } }));
      expect(job, host).toMatchObject({ status: "Failed", error: { code: "UserErrorSecretServerMismatch" } });
    }
  });
});

describe("references name only what the app's operators allowed", () => {
  test("when a reference names an app setting outside PGVAULT_SECRET_, then 400 on the field, for an instance and a restore target, and no job starts", async () => {
    process.env.FOREIGN_PG = `postgres://${victimRole}:${password}@${foreign.host}:${foreign.port}/db`;
    const response = await nothingLeaves(() => put(uniqueName("envref").replaceAll("_", "-"), { type: "database", database, secretRef: "env:FOREIGN_PG" }));
    expect(response.status).toBe(400);
    expect(errorOf(response).details).toEqual([{ path: "datasource.secretRef", message: expect.stringContaining("without the prefix PGVAULT_SECRET_") }]);
    const started = durable.started.length;
    const { accepted } = await nothingLeaves(() => runJob("restore", mine.name, { recoveryPointId: point.id, target: { type: "database", database: "loot", secretRef: "env:AzureWebJobsStorage" } }));
    expect(accepted.status).toBe(400);
    expect(errorOf(accepted).details?.map((detail) => detail.path)).toEqual(["target.secretRef"]);
    expect(durable.started.length).toBe(started);
  });

  test("when a reference names a vault KEY_VAULT_HOSTS does not list, then 400 on the field: the vault sees no request and no token is asked for", async () => {
    const secretRef = `https://${foreignVault.host}:${foreignVault.port}/secrets/sales`;
    const response = await nothingLeaves(() => put(uniqueName("vaultref").replaceAll("_", "-"), { type: "database", database, secretRef }));
    expect(response.status).toBe(400);
    expect(errorOf(response).details).toEqual([{ path: "datasource.secretRef", message: `secretRef names the vault ${foreignVault.host}, which the app setting KEY_VAULT_HOSTS does not list (UserErrorInvalidSecret)` }]);
    const { accepted } = await nothingLeaves(() => runJob("restore", mine.name, { recoveryPointId: point.id, target: { type: "database", database: "loot", secretRef } }));
    expect(accepted.status).toBe(400);
  });
});
