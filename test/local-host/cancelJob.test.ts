/**
 * POST /api/jobs/{id}/cancel on the local host, as `npm start` runs the app: a backup held at a known point (its
 * pg_dump waits on a lock) is cancelled. The orchestration is terminated, pg_dump stops, the job ends Cancelled,
 * and neither a recovery point nor a blob is left. The termination is delivered as late as Azure allows
 * (PGVAULT_LOCAL_TERMINATE=late): the orchestration still runs one more episode with the dump's outcome and may
 * start steps after the cancel. Finished and unknown jobs are refused.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Job } from "../../shared/domain";
import { callHost, configureHostedDatabase, type HostProcess, repoRoot, startHostProcess, waitUntil } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const database = uniqueName("cancel");
const role = uniqueName("cancel_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const policyName = uniqueName("cancelpol").replaceAll("_", "-");
const instanceName = uniqueName("cancelinst").replaceAll("_", "-");
let host: HostProcess;

beforeAll(async () => {
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-cancel");
  const storage = inject("vaultConnectionString");
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: storage,
    VaultStorage: storage,
    PG_BIN_DIR: cluster().binDir,
    // The termination waits for the dump's result, which the orchestration still processes: a late episode.
    PGVAULT_LOCAL_TERMINATE: "late",
    [secretSetting]: `postgres://${role}:pw-cancel@${cluster().host}:${cluster().port}/x?sslmode=disable`,
  });
  await configureHostedDatabase(host.origin, { policyName, instanceName }, { host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` });
});
afterAll(() => host?.kill("SIGTERM"));

const call = (method: string, route: string, body?: unknown) => callHost(host.origin, method, route, body);

const jobOf = async (jobId: string) => (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job & { durationSeconds: number };

const dumpSessions = () =>
  withAdmin(database, async (c) => {
    const { rows } = await c.query(`SELECT wait_event_type FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgvault' AND usename = $2`, [database, role]);
    return rows as { wait_event_type: string | null }[];
  });

async function vaultBlobs(prefix: string): Promise<string[]> {
  const names: string[] = [];
  const container = BlobServiceClient.fromConnectionString(inject("vaultConnectionString")).getContainerClient("backups");
  if (!(await container.exists())) return names;
  for await (const blob of container.listBlobsFlat({ prefix, includeUncommitedBlobs: true })) names.push(blob.name);
  return names;
}

test("when a running backup is cancelled, then its orchestration is terminated, pg_dump stops, and no recovery point or blob is left", async () => {
  const blocker = new pg.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database });
  await blocker.connect();
  await blocker.query("BEGIN");
  await blocker.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
  try {
    const accepted = await call("POST", `/api/backupInstances/${instanceName}/backup`);
    const jobId = (accepted.json as { jobId: string }).jobId;
    await waitUntil(async () => ((await dumpSessions()).some((s) => s.wait_event_type === "Lock") ? true : undefined), 30_000, "pg_dump waiting on the lock");
    const running = await jobOf(jobId);
    expect(running).toMatchObject({ status: "InProgress", phase: "Uploading" });
    expect(running.recoveryPointId).toMatch(/^rp-/);

    const cancel = await call("POST", `/api/jobs/${jobId}/cancel`);

    expect(cancel.status).toBe(202);
    expect(cancel.json).toEqual({ jobId });
    const cancelled = await waitUntil(async () => {
      const job = await jobOf(jobId);
      return job.status === "Cancelled" ? job : undefined;
    }, 30_000, "job Cancelled");
    expect(cancelled.endTime).toBeDefined();
    expect(cancelled.durationSeconds).toBeGreaterThanOrEqual(0);
    // pg_dump was stopped by the activity itself, while the lock is still held.
    await waitUntil(async () => ((await dumpSessions()).length === 0 ? true : undefined), 15_000, "pg_dump gone");
    const durable = await waitUntil(async () => {
      const answer = await call("GET", `/runtime/webhooks/durabletask/instances/${jobId}?showHistory=true`);
      return answer.json?.runtimeStatus === "Terminated" ? answer.json : undefined;
    }, 15_000, "orchestration Terminated");
    // The late episode ran: the dump's outcome reached the orchestration before the termination was taken.
    const history = durable.historyEvents as { EventType: number; EventId: number; Name?: string; TaskScheduledId?: number }[];
    const dumpTask = history.findLast((e) => e.EventType === 4 && e.Name === "dumpDatabase")!;
    const outcome = history.findIndex((e) => (e.EventType === 5 || e.EventType === 6) && e.TaskScheduledId === dumpTask.EventId);
    expect(outcome).toBeGreaterThan(-1);
    expect(outcome).toBeLessThan(history.findIndex((e) => e.EventType === 2));

    await blocker.query("ROLLBACK");
    // Nothing was recorded or committed for the point, then or later.
    await new Promise((r) => setTimeout(r, 3000));
    const rps = (await call("GET", `/api/backupInstances/${instanceName}/recoveryPoints`)).json as { value: unknown[] };
    expect(rps.value).toEqual([]);
    expect(await vaultBlobs(`${instanceName}/`)).toEqual([]);
    expect(await jobOf(jobId)).toMatchObject({ status: "Cancelled" });

    // Cancelling it again: it is finished.
    const again = await call("POST", `/api/jobs/${jobId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ error: { code: "Conflict" } });
  } finally {
    await blocker.end();
  }
});

test("when an unknown or malformed job id is cancelled, then 404 and 400", async () => {
  expect((await call("POST", "/api/jobs/no-such-job/cancel")).status).toBe(404);
  expect((await call("POST", `/api/jobs/${encodeURIComponent("bad id!")}/cancel`)).status).toBe(400);
});
