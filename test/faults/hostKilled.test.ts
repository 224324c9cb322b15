/**
 * The host process dies (SIGKILL) in the middle of a backup's upload and of a restore's pg_restore, and is started
 * again on the same storage: the durable engine finds the activity it had dispatched and runs it again, and the job
 * ends (Succeeded here) instead of staying `InProgress`; nothing is left behind: no uncommitted blocks under the
 * point's blob, no temporary database. And an orchestration that ends without finishing its job (terminated
 * outside the cancel API) has its job failed by the next retention run, through the host's own durable client.
 *
 * A separate host process serving the compiled app, with real PostgreSQL and this file's own Azurite (task hub and
 * vault): a host started on a shared hub would pick up other files' orchestrations. Tests run in order: the
 * restore uses the point the first test made.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { getRecoveryPoint } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { DumpRecoveryPoint, Job } from "../../shared/domain";
import { temporaryDatabaseName } from "../../shared/restore/databaseRestore";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { asDumpPoint } from "../support/backupFixture";
import { backupBlob, createLargeDatabase, downloadedDigest, uncommittedBlockCount } from "../support/faultFixture";
import { callHost, configureHostedDatabase, type HostProcess, repoRoot, startHostProcess, waitUntil } from "../support/localHost";
import { cluster, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const database = uniqueName("killed");
const role = uniqueName("killed_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const superuserSetting = "PGVAULT_SECRET_KILLED_SUPERUSER";
const instanceName = uniqueName("killed").replaceAll("_", "-");
let vault: AzuriteInstance;
let env: Record<string, string>;
let host: HostProcess | undefined;
let recoveryPoint: DumpRecoveryPoint;

beforeAll(async () => {
  vault = await startAzurite();
  // Before any app module reads its configuration: this file's vault is its own (the host's too).
  process.env.VaultStorage = vault.connectionString;
  await createLargeDatabase(database, role, "pw-killed", cluster(), 300_000);
  const { host: pgHost, port } = cluster();
  env = {
    AzureWebJobsStorage: vault.connectionString,
    VaultStorage: vault.connectionString,
    PG_BIN_DIR: cluster().binDir,
    [secretSetting]: `postgres://${role}:pw-killed@${pgHost}:${port}/x?sslmode=disable`,
    [superuserSetting]: `postgres://${cluster().user}:${encodeURIComponent(cluster().password)}@${pgHost}:${port}/x?sslmode=disable`,
  };
  host = await startHostProcess(repoRoot, env);
  await configureHostedDatabase(host.origin, { policyName: `${instanceName}-policy`, instanceName }, { host: pgHost, port, database, secretRef: `env:${secretSetting}` });
});
afterAll(async () => {
  await host?.kill("SIGTERM");
  await vault?.stop();
});

const call = (method: string, route: string, body?: unknown) => callHost(host!.origin, method, route, body);

const jobEnds = (jobId: string, timeoutMs = 90_000) =>
  waitUntil(async () => {
    const job = (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job | undefined;
    return job && ["Succeeded", "Failed", "Cancelled"].includes(job.status) ? job : undefined;
  }, timeoutMs, `job ${jobId} to end`);

const orchestrationEnds = (instanceId: string) =>
  waitUntil(async () => {
    const answer = await call("GET", `/runtime/webhooks/durabletask/instances/${instanceId}`);
    return answer.status === 200 ? answer.json! : undefined;
  }, 60_000, `orchestration ${instanceId} to end`);

async function killHost(): Promise<void> {
  await host!.kill("SIGKILL");
  host = undefined;
}

test("when the host is killed mid-upload and started again, then the dump runs again, the backup succeeds, and no uncommitted block is left", async () => {
  const accepted = await call("POST", `/api/backupInstances/${instanceName}/backup`);
  const jobId = (accepted.json as { jobId: string }).jobId;
  const blobName = await waitUntil(
    async () => {
      const rpId = (await getJob(jobId))?.recoveryPointId;
      const name = rpId && `${instanceName}/${rpId}/${database}.dump`;
      return name && (await uncommittedBlockCount(name)) > 0 ? name : undefined;
    },
    30_000,
    "a staged block",
  );

  await killHost();
  expect(await backupBlob(blobName).exists()).toBe(false);
  expect(await getJob(jobId)).toMatchObject({ status: "InProgress", phase: "Uploading" });
  host = await startHostProcess(repoRoot, env);

  const job = await jobEnds(jobId);
  expect(job).toMatchObject({ status: "Succeeded" });
  recoveryPoint = asDumpPoint(await getRecoveryPoint(instanceName, job.recoveryPointId!));
  expect(recoveryPoint.blobs).toEqual([`backups/${blobName}`]);
  expect(await downloadedDigest(blobName)).toEqual({ sha256: recoveryPoint.sha256, sizeBytes: recoveryPoint.sizeBytes });
  expect(await uncommittedBlockCount(blobName)).toBe(0);
  expect(await orchestrationEnds(jobId)).toMatchObject({ runtimeStatus: "Completed" });
});

test("when the host is killed mid-restore and started again, then the restore runs again and succeeds, and no temporary database is left", async () => {
  const target = uniqueName("killed_restored");
  const accepted = await call("POST", `/api/backupInstances/${instanceName}/restore`, {
    recoveryPointId: recoveryPoint.id,
    target: { type: "database", host: cluster().host, port: cluster().port, database: target, secretRef: `env:${superuserSetting}` },
  });
  expect(accepted.status).toBe(202);
  const jobId = (accepted.json as { jobId: string }).jobId;
  // Every attempt restores into a database of its own, named after the job's stem.
  const temporary = temporaryDatabaseName(jobId);
  // pg_restore is copying rows into the temporary database.
  await waitUntil(
    () =>
      withAdmin("postgres", async (c) => {
        const { rows } = await c.query(`SELECT 1 FROM pg_stat_activity WHERE left(datname, length($1)) = $1 AND query ILIKE 'COPY%'`, [temporary]);
        return rows.length ? true : undefined;
      }),
    30_000,
    "pg_restore copying",
  );

  await killHost();
  expect(await getJob(jobId)).toMatchObject({ status: "InProgress", phase: "Restoring" });
  const databasesNamed = (prefix: string) =>
    withAdmin("postgres", async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${prefix}%`])).rows.map((r) => r.datname));
  // The killed attempt's half-restored database is still there.
  expect(await databasesNamed(temporary)).toEqual([expect.stringMatching(new RegExp(`^${temporary}_[0-9a-f]{8}$`))]);
  host = await startHostProcess(repoRoot, env);

  const job = await jobEnds(jobId);
  expect(job).toMatchObject({ status: "Succeeded", recoveryPointId: recoveryPoint.id });
  expect(await databasesNamed(temporary)).toEqual([]);
  const summary = (db: string) => withAdmin(db, async (c) => (await c.query(`SELECT count(*)::int AS n, sum(hashtext(payload)::bigint)::text AS h FROM events`)).rows[0]);
  expect(await summary(target)).toEqual(await summary(database));
  expect(await orchestrationEnds(jobId)).toMatchObject({ runtimeStatus: "Completed" });
});

test("when a backup's orchestration is terminated outside the cancel API, then the next retention run fails its job and keeps the dump it left until it is a day old", async () => {
  // A small database whose dump waits on a lock, so the orchestration can be terminated while it runs.
  const small = uniqueName("terminated");
  await createDatabase(small);
  await seedRichDatabase(small);
  const smallInstance = uniqueName("terminated").replaceAll("_", "-");
  const pg = await import("pg");
  const blocker = new pg.default.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database: small });
  await blocker.connect();
  await blocker.query("BEGIN");
  await blocker.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
  // The host read its settings at start: the superuser's setting serves as this instance's secret.
  await configureHostedDatabase(host!.origin, { policyName: `${smallInstance}-policy`, instanceName: smallInstance }, { host: cluster().host, port: cluster().port, database: small, secretRef: `env:${superuserSetting}` });
  const jobId = ((await call("POST", `/api/backupInstances/${smallInstance}/backup`)).json as { jobId: string }).jobId;
  await waitUntil(
    () =>
      withAdmin(small, async (c) => {
        const { rows } = await c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgvault' AND wait_event_type = 'Lock'`, [small]);
        return rows.length ? true : undefined;
      }),
    30_000,
    "pg_dump waiting on the lock",
  );

  expect((await call("POST", `/runtime/webhooks/durabletask/instances/${jobId}/terminate?reason=operator`)).status).toBe(202);
  await blocker.query("ROLLBACK");
  await blocker.end();
  // The dump goes on without its orchestration and commits a blob no recovery point will name.
  const rpId = (await getJob(jobId))!.recoveryPointId!;
  const orphan = `${smallInstance}/${rpId}/${small}.dump`;
  await waitUntil(async () => ((await backupBlob(orphan).exists()) ? true : undefined), 30_000, "the orphan dump");
  expect(await getJob(jobId)).toMatchObject({ status: "InProgress" });

  const runId = `retention-faults-${Date.now()}`;
  expect((await call("POST", `/runtime/webhooks/durabletask/orchestrators/retention/${runId}`)).status).toBe(202);
  const run = await orchestrationEnds(runId);

  expect(run).toMatchObject({ runtimeStatus: "Completed", output: { reconciliation: { jobsFailed: 1, orphansDeleted: 0, failed: 0 } } });
  expect(await getJob(jobId)).toMatchObject({
    status: "Failed",
    error: { code: "SystemErrorUnexpected", message: "The job's orchestration ended (Terminated) without finishing the job." },
  });
  expect(await backupBlob(orphan).exists()).toBe(true);
});
