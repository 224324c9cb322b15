/**
 * Two copies of `restoreScratchDatabase` at once, as Durable Functions allows (a worker that lost its lease keeps
 * running while another runs the same step), with the real `checkScratchDatabase` and `dropScratchDatabase`. The
 * interleavings are forced at the steps: a copy's dump download is held at a gate (test/support/gatedBlobProxy.ts),
 * and the check's count is held by a lock on a table of the database it counts. The drill must judge only a
 * complete restore of the point, and no copy may drop the database another step is counting. Real PostgreSQL,
 * Azurite and pg_restore.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { checkScratchDatabaseActivity } from "../../activities/checkScratchDatabase";
import { dropScratchDatabaseActivity } from "../../activities/dropScratchDatabase";
import { restoreScratchDatabaseActivity, type RestoreScratchDatabaseInput } from "../../activities/restoreScratchDatabase";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { updateJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, DatabaseDatasource, JobPhase, RecoveryPoint } from "../../shared/domain";
import { isoSeconds } from "../../shared/time/isoTime";
import { scratchDatabaseName } from "../../shared/verify/restoreDrill";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { isDumpDownload, startGatedBlobProxy, type GatedBlobProxy } from "../support/gatedBlobProxy";
import { invocation } from "../support/http";
import { waitUntil } from "../support/localHost";
import { blobEndpointOf, withBlobEndpoint } from "../support/recordingBlobProxy";
import { cluster, createBackupRole, createDatabase, databasesUnder, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let proxy: GatedBlobProxy;
/** The instance's backup role, which a drill restores and counts with. */
const role = uniqueName("drill_copies_user");
let instance: BackupInstance;
let rp: RecoveryPoint;

beforeAll(async () => {
  proxy = await startGatedBlobProxy(blobEndpointOf(inject("vaultConnectionString")), ["app"]);
  // Before any app module reads its configuration: this process's vault blob endpoint is the proxy.
  process.env.VaultStorage = withBlobEndpoint(inject("vaultConnectionString"), proxy.endpoint("app"));
  const source = uniqueName("drill_copies");
  await createDatabase(source);
  await seedRichDatabase(source);
  await createBackupRole(source, role, "pw-drill");
  // A drill restores with the instance's own credentials: its role needs CREATEDB.
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${role} CREATEDB`));
  instance = await protect(uniqueName("drill-copies").replaceAll("_", "-"), databaseSource(source, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-drill")));
  await runBackup(instance);
  rp = (await listRecoveryPoints(instance.name))[0]!;
});
afterAll(() => proxy?.close());

async function drillJob(phase: JobPhase): Promise<RestoreScratchDatabaseInput> {
  const jobId = uniqueName("verify-copies");
  await updateJob(jobId, { operation: "Verify", trigger: "OnDemand", instanceName: instance.name, status: "InProgress", phase, startTime: isoSeconds(new Date()), bytes: 0, recoveryPointId: rp.id });
  return { jobId, instanceName: instance.name, datasource: instance.datasource as DatabaseDatasource, scratchDatabase: scratchDatabaseName(jobId), recoveryPointId: rp.id };
}

/** One copy of the restore step: its outcome, or what it threw. */
const copyOf = (input: RestoreScratchDatabaseInput) =>
  restoreScratchDatabaseActivity(input, invocation("restoreScratchDatabase")).catch((err: unknown) => ({ ok: false as const, thrown: err }));

/** The check of the scratch database a restore handed over, as the orchestration calls it. */
const check = (input: RestoreScratchDatabaseInput, scratchDatabase: string) =>
  checkScratchDatabaseActivity({ ...input, scratchDatabase }, invocation("checkScratchDatabase")).catch((err: unknown) => ({ ok: false as const, thrown: err }));

/**
 * The verdict the drill must reach (the point restored completely: every table and row as recorded), then the
 * drill's drop: no scratch database of any attempt is left.
 */
async function expectSucceededAndNothingLeft(input: RestoreScratchDatabaseInput, report: Awaited<ReturnType<typeof check>>): Promise<void> {
  expect(report).toMatchObject({ ok: true, value: { tablesChecked: 3, rowsChecked: 2502 } });
  expect(report.ok && report.value.problem).toBeUndefined();
  await updateJob(input.jobId, { phase: "CleaningUp" });
  await dropScratchDatabaseActivity(input);
  expect(await databasesUnder(scratchDatabaseName(input.jobId))).toEqual([]);
}

describe("two copies of restoreScratchDatabase", () => {
  test("when a second copy has created its database and is held before its pg_restore reads a byte, then the check judges the first copy's complete restore: Succeeded, and nothing is left after the drop", async () => {
    const input = await drillJob("Restoring");
    const first = await copyOf(input);
    if (!first.ok) throw new Error(`the first copy failed: ${JSON.stringify(first)}`);
    const gate = proxy.hold(isDumpDownload, 1);
    const second = copyOf(input);
    await gate.next();

    await updateJob(input.jobId, { phase: "Verifying" });
    const report = await check(input, first.value.scratchDatabase);
    void gate.open();
    await second;

    await expectSucceededAndNothingLeft(input, report);
  });

  test("when a copy starts while the check is counting the first copy's database, then it does not end the count or drop that database, and the verdict is Succeeded", async () => {
    const input = await drillJob("Restoring");
    const first = await copyOf(input);
    if (!first.ok) throw new Error(`the first copy failed: ${JSON.stringify(first)}`);
    await updateJob(input.jobId, { phase: "Verifying" });
    // The count waits on this lock in the database it counts, taken by the drill's own role (which owns what it
    // restored), so nothing but the lock stands in the way of whatever a copy does to that database.
    const blocker = new pg.Client({ host: cluster().host, port: cluster().port, user: role, password: "pw-drill", database: first.value.scratchDatabase });
    await blocker.connect();
    blocker.on("error", () => undefined);
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
    const counting = check(input, first.value.scratchDatabase);
    const waiting = () =>
      withAdmin("postgres", async (c) => Number((await c.query(`SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [first.value.scratchDatabase])).rows[0]!.count));
    await waitUntil(async () => ((await waiting()) === 1 ? true : undefined), 30_000, "the count waiting on the lock");

    // A late copy of the restore step; it is held at its dump if it gets that far.
    const gate = proxy.hold(isDumpDownload, 1);
    const second = copyOf(input);
    await Promise.race([gate.next(), second]);
    await blocker.query("ROLLBACK").catch(() => undefined);
    await blocker.end().catch(() => undefined);
    let report = await counting;
    // A count that lost its session is retried by the orchestration; whatever it then counts must be a complete restore.
    if (!report.ok) report = await check(input, first.value.scratchDatabase);
    void gate.open();
    await second;

    await expectSucceededAndNothingLeft(input, report);
  });
});
