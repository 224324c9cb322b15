/**
 * One backup or restore per instance, over HTTP on the local host as `npm start` runs the app: a backup held at a
 * known point (its pg_dump waits on a table lock) makes a second backup and a restore answer 409
 * `UserErrorOperationInProgress` naming it; cancelling it frees the instance; an orchestration terminated from
 * outside pgvault (its job row still says InProgress) does not block the instance; two requests at the same
 * moment end with exactly one backup.
 */
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Job, RecoveryPoint } from "../../shared/domain";
import { callHost, configureHostedDatabase, type HostProcess, startAppHost, waitUntil } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const database = uniqueName("conflict");
const role = uniqueName("conflict_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const superuserSetting = `PGVAULT_SECRET_${uniqueName("conflict_admin").toUpperCase()}`;
const policyName = uniqueName("conflictpol").replaceAll("_", "-");
const instanceName = uniqueName("conflictinst").replaceAll("_", "-");
let host: HostProcess;

beforeAll(async () => {
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-conflict");
  const { host: pgHost, port, user, password } = cluster();
  host = await startAppHost({
    [secretSetting]: `postgres://${role}:pw-conflict@${pgHost}:${port}/x?sslmode=disable`,
    [superuserSetting]: `postgres://${user}:${encodeURIComponent(password)}@${pgHost}:${port}/x?sslmode=disable`,
  });
  await configureHostedDatabase(host.origin, { policyName, instanceName }, { host: pgHost, port, database, secretRef: `env:${secretSetting}` });
});
afterAll(() => host?.kill("SIGTERM"));

const call = (method: string, route: string, body?: unknown) => callHost(host.origin, method, route, body);
const jobOf = async (jobId: string) => (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job;
const jobEnds = (jobId: string) =>
  waitUntil(async () => {
    const job = await jobOf(jobId);
    return ["Succeeded", "Failed", "Cancelled"].includes(job.status) ? job : undefined;
  }, 60_000, `job ${jobId} finished`);
const backUp = async () => {
  const answer = await call("POST", `/api/backupInstances/${instanceName}/backup`);
  return { status: answer.status, jobId: (answer.json as { jobId?: string }).jobId, answer };
};
const recoveryPoints = async () => ((await call("GET", `/api/backupInstances/${instanceName}/recoveryPoints`)).json as unknown as { value: RecoveryPoint[] }).value;

/** Runs `work` while a transaction holds an exclusive lock on a table pg_dump reads, so a dump waits there. */
async function withDumpHeld<T>(work: (released: () => Promise<void>) => Promise<T>): Promise<T> {
  const blocker = new pg.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database });
  await blocker.connect();
  await blocker.query("BEGIN");
  await blocker.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
  let open = true;
  const release = async () => {
    if (open) await blocker.query("ROLLBACK");
    open = false;
  };
  try {
    return await work(release);
  } finally {
    await release();
    await blocker.end();
  }
}

const dumpWaitsOnLock = () =>
  waitUntil(async () => {
    const found = await withAdmin(database, async (c) => {
      const { rowCount } = await c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND wait_event_type = 'Lock'`, [database, role]);
      return (rowCount ?? 0) > 0;
    });
    return found ? true : undefined;
  }, 30_000, "pg_dump waiting on the table lock");

test("when a backup runs, then another backup and a restore answer 409 naming it; once it is cancelled the instance takes backups again", async () => {
  const first = await backUp();
  expect((await jobEnds(first.jobId!)).status).toBe("Succeeded");
  const rp = (await recoveryPoints())[0]!;

  await withDumpHeld(async (release) => {
    const running = await backUp();
    expect(running.status).toBe(202);
    await dumpWaitsOnLock();

    const again = await backUp();
    const restore = await call("POST", `/api/backupInstances/${instanceName}/restore`, {
      recoveryPointId: rp.id,
      target: { type: "database", host: cluster().host, port: cluster().port, database: uniqueName("not_now"), secretRef: `env:${superuserSetting}` },
    });

    for (const refused of [again.answer, restore]) {
      expect(refused.status).toBe(409);
      expect(refused.json).toEqual({
        error: {
          code: "UserErrorOperationInProgress",
          message: `Backup instance '${instanceName}' is busy: Backup job '${running.jobId}' is running.`,
          recommendedAction: expect.stringContaining(`GET /api/jobs/${running.jobId}) or cancel it (POST /api/jobs/${running.jobId}/cancel)`),
        },
      });
    }
    // Nothing was started for them.
    const jobs = ((await call("GET", `/api/jobs?instanceName=${instanceName}`)).json as unknown as { value: Job[] }).value;
    expect(jobs.map((job) => job.id).sort()).toEqual([first.jobId, running.jobId].sort());

    expect((await call("POST", `/api/jobs/${running.jobId}/cancel`)).status).toBe(202);
    expect((await jobEnds(running.jobId!)).status).toBe("Cancelled");
    await release();
  });

  const after = await backUp();
  expect(after.status).toBe(202);
  expect((await jobEnds(after.jobId!)).status).toBe("Succeeded");
});

test("when a backup's orchestration was terminated outside pgvault (its job row still says InProgress), then it does not block the instance", async () => {
  await withDumpHeld(async (release) => {
    const orphaned = await backUp();
    await dumpWaitsOnLock();
    const terminated = await call("POST", `/runtime/webhooks/durabletask/instances/${orphaned.jobId}/terminate?reason=operator`);
    expect(terminated.status).toBe(202);
    expect(await jobOf(orphaned.jobId!)).toMatchObject({ status: "InProgress" });

    const next = await backUp();
    expect(next.status).toBe(202);
    await release();
    expect((await jobEnds(next.jobId!)).status).toBe("Succeeded");
    expect(host.output()).toContain(`[job=${next.jobId} instance=${instanceName} operation=Backup] took the instance over from Backup job ${orphaned.jobId}, which is over`);
  });
});

test("when two backups are requested at the same moment, then exactly one runs: the other is refused (409) or its job fails naming the first", async () => {
  const before = (await recoveryPoints()).length;

  const answers = await Promise.all([backUp(), backUp()]);

  const accepted = answers.filter((a) => a.status === 202);
  expect(accepted.length).toBeGreaterThanOrEqual(1);
  for (const refused of answers.filter((a) => a.status !== 202)) expect(refused.answer.json).toMatchObject({ error: { code: "UserErrorOperationInProgress" } });
  const jobs = await Promise.all(accepted.map((a) => jobEnds(a.jobId!)));
  const succeeded = jobs.filter((job) => job.status === "Succeeded");
  expect(succeeded).toHaveLength(1);
  for (const lost of jobs.filter((job) => job.status !== "Succeeded")) {
    expect(lost).toMatchObject({ status: "Failed", error: { code: "UserErrorOperationInProgress", message: expect.stringContaining(`Backup job '${succeeded[0]!.id}'`) } });
  }
  expect((await recoveryPoints()).length).toBe(before + 1);
});
