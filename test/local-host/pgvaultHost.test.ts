/**
 * pgvault end to end on the local host, as `npm start` runs it: a separate host process serving the compiled app
 * over HTTP, with real PostgreSQL and Azurite. Includes a host killed in the middle of a backup and restarted.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { Job, RecoveryPoint } from "../../shared/domain";
import { callHost, configureHostedDatabase, type HostProcess, repoRoot, startHostProcess, waitUntil } from "../support/localHost";
import { cluster, contentFingerprint, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const database = uniqueName("hosted");
const role = uniqueName("hosted_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const superuserSetting = "PGVAULT_SECRET_HOSTED_SUPERUSER";
const policyName = uniqueName("hostpol").replaceAll("_", "-");
const instanceName = uniqueName("hostinst").replaceAll("_", "-");
let env: Record<string, string>;
let host: HostProcess;

beforeAll(async () => {
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-hosted");
  const storage = inject("vaultConnectionString");
  const { host: pgHost, port } = cluster();
  env = {
    AzureWebJobsStorage: storage,
    VaultStorage: storage,
    PG_BIN_DIR: cluster().binDir,
    [secretSetting]: `postgres://${role}:pw-hosted@${pgHost}:${port}/x?sslmode=disable`,
    [superuserSetting]: `postgres://${cluster().user}:${encodeURIComponent(cluster().password)}@${pgHost}:${port}/x?sslmode=disable`,
  };
  host = await startHostProcess(repoRoot, env);
});
afterAll(() => host?.kill("SIGTERM"));

const call = (method: string, route: string, body?: unknown) => callHost(host.origin, method, route, body);

const jobReaches = (jobId: string, status: Job["status"], timeoutMs = 60_000) =>
  waitUntil(async () => {
    const job = (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job | undefined;
    return job?.status === status ? job : undefined;
  }, timeoutMs, `job ${jobId} ${status}`);

const durableCompleted = (jobId: string, query = "") =>
  waitUntil(async () => {
    const answer = await call("GET", `/runtime/webhooks/durabletask/instances/${jobId}${query}`);
    return answer.json?.runtimeStatus === "Completed" ? answer : undefined;
  }, 60_000, `orchestration ${jobId} Completed`);

describe("pgvault on the local host", () => {
  test("when a database is configured and backed up over HTTP, then the job succeeds, the RP is listed, and durable status is visible", async () => {
    await configureHostedDatabase(host.origin, { policyName, instanceName }, { host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` });

    const accepted = await call("POST", `/api/backupInstances/${instanceName}/backup`);
    expect(accepted.status).toBe(202);
    const jobId = (accepted.json as { jobId: string }).jobId;
    expect(accepted.headers.get("location")).toBe(`/api/jobs/${jobId}`);

    const job = await jobReaches(jobId, "Succeeded");
    const rps = (await call("GET", `/api/backupInstances/${instanceName}/recoveryPoints`)).json as unknown as { value: RecoveryPoint[] };
    expect(rps.value.map((rp) => rp.id)).toEqual([job.recoveryPointId]);
    const listed = (await call("GET", `/api/jobs?instanceName=${instanceName}`)).json as unknown as { value: Job[] };
    expect(listed.value.map((j) => j.id)).toContain(jobId);

    // The job row succeeds before the orchestration ends (retention runs after it): wait for the end.
    const durable = await durableCompleted(jobId, "?showHistory=true");
    expect(durable.status).toBe(200);
    expect(durable.json).toMatchObject({ name: "backup", instanceId: jobId, runtimeStatus: "Completed", customStatus: { phase: "Done" } });
    const scheduled = (durable.json!.historyEvents as { EventType: number; Name?: string }[]).filter((e) => e.EventType === 4).map((e) => e.Name);
    expect(scheduled).toEqual([
      "acquireInstanceLock", "updateJob", "resolveSecret", "resolveEncryptionKey", "updateJob", "checkBackupAccess", "updateJob", "dumpDatabase",
      "updateJob", "recordRecoveryPoint", "updateJob", "releaseInstanceLock", "protectRecoveryPoint",
      // Azurite cannot hold it immutable: published (a no-op here, no topic), as is the job's end.
      "publishEvents", "applyRetention", "publishEvents",
    ]);

    // And back: the recovery point restored as a new database on the same server.
    const restored = uniqueName("hosted_restored");
    const restore = await call("POST", `/api/backupInstances/${instanceName}/restore`, {
      recoveryPointId: job.recoveryPointId,
      target: { type: "database", host: cluster().host, port: cluster().port, database: restored, secretRef: `env:${superuserSetting}` },
    });
    expect(restore.status).toBe(202);
    const restoreJob = await jobReaches((restore.json as { jobId: string }).jobId, "Succeeded");
    expect(restoreJob).toMatchObject({ operation: "Restore", recoveryPointId: job.recoveryPointId });
    expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(database));
  });

  test("when a route is unknown, then 404; when a body is malformed, then 400 with the spec's error shape", async () => {
    const unknown = await call("GET", "/api/no/such/route");
    expect(unknown.status).toBe(404);
    const malformed = await call("PUT", "/api/backupPolicies/bad-body", "{ not json");
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ error: { code: "InvalidRequest", details: [{ path: "$" }] } });
  });

  test("when the host is killed in the middle of a backup and started again, then the orchestration resumes and the backup succeeds", async () => {
    // Hold a lock so the dump waits at a known point, kill the host there, then let go and restart it.
    const blocker = await (async () => {
      const pg = await import("pg");
      const c = new pg.default.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database });
      await c.connect();
      await c.query("BEGIN");
      await c.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
      return c;
    })();
    const accepted = await call("POST", `/api/backupInstances/${instanceName}/backup`);
    const jobId = (accepted.json as { jobId: string }).jobId;
    await waitUntil(
      () =>
        withAdmin(database, async (c) => {
          const { rows } = await c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgvault' AND wait_event_type = 'Lock'`, [database]);
          return rows.length ? true : undefined;
        }),
      30_000,
      "pg_dump waiting on the lock",
    );
    expect((await call("GET", `/api/jobs/${jobId}`)).json).toMatchObject({ status: "InProgress", phase: "Uploading" });
    await host.kill("SIGKILL");
    await blocker.query("ROLLBACK");
    await blocker.end();

    host = await startHostProcess(repoRoot, env);
    const job = await jobReaches(jobId, "Succeeded", 90_000);
    const rp = (await call("GET", `/api/backupInstances/${instanceName}/recoveryPoints/${job.recoveryPointId}`)).json as unknown as RecoveryPoint;
    expect(rp.status).toBe("Available");
    expect((await durableCompleted(jobId)).json).toMatchObject({ runtimeStatus: "Completed" });
  });
});
