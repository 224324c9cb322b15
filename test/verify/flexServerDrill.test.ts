/**
 * Restore drills of Flexible Server recovery points: the ARM stand-in backs up two real databases of the test
 * cluster (pg_dump archives written into the point's own Azurite containers), and the verify orchestration (replayed
 * by durable-functions, real activities) restores each into a scratch database of its own on the instance's drill
 * server, counts it there and drops it. Also: a damaged archive, a drill server without CREATEDB, a cancelled drill,
 * and POST .../verify through the real handler. Real PostgreSQL, Azurite, pg_dump and pg_restore throughout.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { checkScratchDatabaseActivity } from "../../activities/checkScratchDatabase";
import { dropScratchDatabaseActivity } from "../../activities/dropScratchDatabase";
import { restoreScratchDatabaseActivity, type RestoreScratchDatabaseInput } from "../../activities/restoreScratchDatabase";
import { startVerify } from "../../functions/verify";
import { verifyOrchestrationName, verifyOrchestrator, type VerifyInput } from "../../orchestrators/verify";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putInstance } from "../../shared/catalog/catalog";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, LtrRecoveryPoint, ServerEndpoint } from "../../shared/domain";
import { ltrDatabaseFiles } from "../../shared/flexServer/ltrFiles";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { drillEndpoint, drillSubjectOf } from "../../shared/verify/drillServer";
import { isoSeconds } from "../../shared/time/isoTime";
import { databaseScratchStem, scratchDatabaseName } from "../../shared/verify/restoreDrill";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { envSecret } from "../support/backupFixture";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { EventType } from "../support/durableTesting";
import { asLtrPoint, protectFlexServer, runFlexBackup } from "../support/flexFixture";
import { bodyOf, invocation, request } from "../support/http";
import { runOrchestration } from "../support/replayDriver";
import { cluster, createDatabase, databasesUnder, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";
import { runVerify, scratchExists, verifyActivities } from "../support/verifyFixture";

const subscriptionId = "5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f";
const vault = () => BlobServiceClient.fromConnectionString(inject("vaultConnectionString"));

let arm: ArmTestServer;
let durable: DurableClientStandIn;
/** The two databases "on" the Flexible Server, in name order: a rich one (3 tables, 2502 rows) and a small one (2 tables, 35 rows). */
let databases: [string, string];
/** The drill server: the test cluster, signed in to as a role with CREATEDB only. */
let drillServer: { host: string; port: number; secretRef: string };
const drillPassword = "pw-flex-drill";

beforeAll(async () => {
  ({ arm } = await useArmStandIn(inject("tls")));
  durable = await startDurableClientStandIn();
  const stem = uniqueName("fdrill");
  databases = [`${stem}_a`, `${stem}_b`];
  await createDatabase(databases[0]);
  await seedRichDatabase(databases[0]);
  await createDatabase(databases[1]);
  await withAdmin(databases[1], (c) =>
    c.query(`
      CREATE SCHEMA ledger;
      CREATE TABLE public.notes (id int PRIMARY KEY, body text);
      CREATE TABLE ledger.entries (id bigserial PRIMARY KEY, amount numeric(10,2) NOT NULL);
      INSERT INTO public.notes SELECT g, 'note ' || g FROM generate_series(1, 10) g;
      INSERT INTO ledger.entries (amount) SELECT g * 1.5 FROM generate_series(1, 25) g;
    `),
  );
  const role = uniqueName("flex_drill");
  // Nothing on the source databases: the drill server's user needs only to create (and own) scratch databases.
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB PASSWORD '${drillPassword}'`));
  drillServer = { host: cluster().host, port: cluster().port, secretRef: envSecret(`PGVAULT_SECRET_${role}`, role, drillPassword) };
});
afterAll(async () => {
  await Promise.all([arm.close(), durable.close()]);
});

/** A Flexible Server "behind" which are the two test databases, protected by a new instance that drills on `verification` (null: none). */
async function flexInstance(verification: ServerEndpoint | null = drillServer): Promise<BackupInstance> {
  const resourceId = arm.addServer({
    subscriptionId,
    resourceGroup: "rg-drill",
    name: uniqueName("pg").replaceAll("_", "-"),
    backup: { outcome: "Succeeded", cluster: { server: cluster(), databases } },
  });
  const instance = await protectFlexServer(uniqueName("flexdrill").replaceAll("_", "-"), resourceId);
  const withDrillServer: BackupInstance = { ...instance, ...(verification ? { verification } : {}) };
  await putInstance(withDrillServer);
  return withDrillServer;
}

/** A new instance with one backup of the server; its recovery point. */
async function backedUp(verification: ServerEndpoint | null = drillServer): Promise<{ instance: BackupInstance; rp: LtrRecoveryPoint }> {
  const instance = await flexInstance(verification);
  const run = await runFlexBackup(instance);
  expect(run.state.error).toBeUndefined();
  const rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
  expect(ltrDatabaseFiles(rp).map((f) => f.database)).toEqual(databases);
  return { instance, rp };
}

const blobOf = (blobPath: string) => {
  const [container = "", ...name] = blobPath.split("/");
  return vault().getContainerClient(container).getBlockBlobClient(name.join("/"));
};

const storedPoint = async (rp: LtrRecoveryPoint) => asLtrPoint(await getRecoveryPoint(rp.instanceName, rp.id));
const scheduledNames = (history: { EventType: number }[]) => history.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => (e as { Name?: string }).Name);

describe("the restore drill of a Flexible Server point", () => {
  test("when both databases restore, then the verdict is Succeeded with their tables and rows, and no scratch database is left", async () => {
    const { instance, rp } = await backedUp();
    const run = await runVerify(instance, rp);
    const { state } = run;

    expect(state.error).toBeUndefined();
    expect(state.output).toEqual({ recoveryPointId: rp.id, outcome: "Succeeded", tablesChecked: 5, rowsChecked: 2537, rowCountsRecorded: false });
    expect((await storedPoint(rp)).verification).toEqual({ verifiedAt: expect.any(String), outcome: "Succeeded", jobId: run.jobId, tablesChecked: 5, rowsChecked: 2537, rowCountsRecorded: false });
    // Each database went into a scratch database of its own, under its own stem, and all of them are gone.
    const logLines = run.logs.join("\n");
    expect(logLines).toContain(`restored database '${databases[0]}' of ${rp.id}`);
    expect(logLines).toMatch(new RegExp(`${scratchDatabaseName(run.jobId)}_d0x_[0-9a-f]{8}: 3 tables, 2502 rows`));
    expect(logLines).toMatch(new RegExp(`${scratchDatabaseName(run.jobId)}_d1x_[0-9a-f]{8}: 2 tables, 35 rows`));
    expect(await scratchExists(run.jobId)).toBe(false);
    // The job read both archives whole.
    const archiveBytes = await Promise.all(ltrDatabaseFiles(rp).map(async (f) => (await blobOf(f.blobPath).getProperties()).contentLength ?? 0));
    expect(await getJob(run.jobId)).toMatchObject({ operation: "Verify", status: "Succeeded", phase: "Done", recoveryPointId: rp.id, bytes: archiveBytes[0]! + archiveBytes[1]! });
    // One database at a time: each is dropped once counted, and the final drop sweeps the job's whole stem.
    expect(scheduledNames(run.history)).toEqual([
      "acquireInstanceLock", "updateJob", "resolveSecret", "updateJob", "checkVerifyAccess", "listPointDatabases",
      "updateJob", "restoreScratchDatabase", "updateJob", "checkScratchDatabase", "dropScratchDatabase",
      "updateJob", "restoreScratchDatabase", "updateJob", "checkScratchDatabase", "dropScratchDatabase",
      "updateJob", "dropScratchDatabase", "updateJob", "recordVerification", "updateJob", "releaseInstanceLock", "publishEvents",
    ]);
    // Names and references only: no password, no row of the databases.
    const historyText = JSON.stringify(run.history);
    expect(historyText).not.toContain(drillPassword);
    expect(historyText).toContain(databases[1]);
  });

  test.each([
    ["cut short", (archive: Buffer) => archive.subarray(0, Math.floor(archive.length * 0.6)), "could not read from input file: end of file"],
    ["overwritten with garbage", (archive: Buffer) => Buffer.alloc(archive.length, 0x5a), "input file does not appear to be a valid archive"],
  ])("when one database's archive is %s, then the verdict is Failed naming that database and pg_restore's error, and no scratch database is left", async (_how, damage, pgRestoreSays) => {
    const { instance, rp } = await backedUp();
    const damaged = ltrDatabaseFiles(rp).find((f) => f.database === databases[1])!;
    const blob = blobOf(damaged.blobPath);
    // Azurite has no immutability: the vault's own guard against this is not in the way here.
    await blob.uploadData(damage(await blob.downloadToBuffer()));

    const run = await runVerify(instance, rp);
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorRecoveryPointCorrupted" } });
    expect(job?.error?.message).toBe(`Recovery point ${rp.id}: database '${databases[1]}' does not restore: pg_restore exited with code 1: ${pgRestoreSays}`);
    expect(job?.error?.recommendedAction).toContain("drill server");
    // The first database was restored and counted before the second failed: that is what was checked.
    expect((await storedPoint(rp)).verification).toEqual({
      verifiedAt: expect.any(String), outcome: "Failed", jobId: run.jobId, tablesChecked: 3, rowsChecked: 2502, rowCountsRecorded: false, error: job?.error,
    });
    expect(await scratchExists(run.jobId)).toBe(false);
    // A verdict, not a transient failure: the archive was restored once.
    expect(run.attempts.filter((a) => a.name === "restoreScratchDatabase")).toHaveLength(2);
  });

  test("when an archive the point lists is gone from the vault, then the verdict is Failed naming the file", async () => {
    const { instance, rp } = await backedUp();
    const gone = ltrDatabaseFiles(rp)[0]!;
    await blobOf(gone.blobPath).delete();
    const run = await runVerify(instance, rp);
    expect((await getJob(run.jobId))?.error).toMatchObject({ code: "UserErrorRecoveryPointCorrupted", message: expect.stringContaining(gone.blobPath) });
    expect((await storedPoint(rp)).verification).toMatchObject({ outcome: "Failed", tablesChecked: 0, rowsChecked: 0 });
    expect(await scratchExists(run.jobId)).toBe(false);
  });

  test("when the drill server's user lacks CREATEDB, then UserErrorMissingRestorePermissions, nothing is recorded on the point, and nothing is created", async () => {
    const role = uniqueName("flex_nocreatedb");
    await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw-plain'`));
    const { instance, rp } = await backedUp({ ...drillServer, secretRef: envSecret(`PGVAULT_SECRET_${role}`, role, "pw-plain") });
    const run = await runVerify(instance, rp);
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Failed", phase: "CheckingAccess", error: { code: "UserErrorMissingRestorePermissions" } });
    expect(job?.error?.message).toContain(`User '${role}' lacks CREATEDB on ${cluster().host}:${cluster().port}`);
    expect((await storedPoint(rp)).verification).toBeUndefined();
    expect(run.attempts.some((a) => ["listPointDatabases", "restoreScratchDatabase", "dropScratchDatabase"].includes(a.name))).toBe(false);
  });

  test("when a drill is cancelled, then its cleanup drops every database's scratch databases on the drill server", async () => {
    const instance = await flexInstance();
    const jobId = `verify-${instance.name}-cancelled`;
    const role = drillServer.secretRef.replace("env:PGVAULT_SECRET_", "");
    // What a terminated drill leaves: a scratch database of its second database, owned by the drill server's user.
    const left = `${scratchDatabaseName(jobId)}_d1x_0a1b2c3d`;
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(left)} OWNER ${pg.escapeIdentifier(role)}`));
    // The plan the cancel route makes of the orchestration's input.
    const input: VerifyInput = { instanceName: instance.name, recoveryPointId: "rp-20260104T030012Z-1a2b3c4d", trigger: "OnDemand", ...drillSubjectOf(instance)! };
    expect(await cleanUpCancelledJob(jobId, { kind: "verify", datasource: drillEndpoint(input) }, new Date())).toBe("cancelled");
    expect(await databasesUnder(scratchDatabaseName(jobId))).toEqual([]);
  });
});

describe("two copies of a database's restore step", () => {
  test("when a late copy of the first database's restore finishes after that database was dropped, then the final drop sweeps what it left", async () => {
    const { instance, rp } = await backedUp();
    const jobId = uniqueName("verify-flex-copies");
    await updateJob(jobId, { operation: "Verify", trigger: "OnDemand", instanceName: instance.name, status: "InProgress", phase: "Restoring", startTime: isoSeconds(new Date()), bytes: 0, recoveryPointId: rp.id });
    const target = { jobId, instanceName: instance.name, datasource: drillEndpoint(drillSubjectOf(instance)!), scratchDatabase: scratchDatabaseName(jobId) };
    const first: RestoreScratchDatabaseInput = { ...target, recoveryPointId: rp.id, database: databases[0], scratchDatabase: databaseScratchStem(target.scratchDatabase, 0) };
    const restore = (input: RestoreScratchDatabaseInput) => restoreScratchDatabaseActivity(input, invocation("restoreScratchDatabase"));

    // The orchestration's copy restores, is counted and dropped, as the drill does it.
    const restored = await restore(first);
    if (!restored.ok) throw new Error(`the restore failed: ${JSON.stringify(restored)}`);
    await updateJob(jobId, { phase: "Verifying" });
    expect(await checkScratchDatabaseActivity({ ...first, scratchDatabase: restored.value.scratchDatabase }, invocation("checkScratchDatabase"))).toMatchObject({ ok: true, value: { tablesChecked: 3, rowsChecked: 2502 } });
    await dropScratchDatabaseActivity(first);
    expect(await databasesUnder(first.scratchDatabase)).toEqual([]);

    // The drill has gone back to Restoring for the next database: a late copy of the first database's step is still
    // wanted by the row's phase, so it completes and leaves its database.
    await updateJob(jobId, { phase: "Restoring" });
    const late = await restore(first);
    expect(late).toMatchObject({ ok: true });
    expect(await databasesUnder(first.scratchDatabase)).toHaveLength(1);

    // The final drop runs in CleaningUp over the job's whole stem; a copy that starts after it stops and drops its own.
    await updateJob(jobId, { phase: "CleaningUp" });
    await dropScratchDatabaseActivity(target);
    expect(await databasesUnder(scratchDatabaseName(jobId))).toEqual([]);
    expect(await restore(first)).toMatchObject({ ok: false, error: { message: expect.stringContaining("no longer waits for this step") } });
    expect(await databasesUnder(scratchDatabaseName(jobId))).toEqual([]);
  });
});

describe("POST /backupInstances/{name}/verify of a Flexible Server instance", () => {
  function post(name: string) {
    const { client, context } = durable.client("startVerify");
    return startVerify(request("POST", `backupInstances/${name}/verify`, { params: { name } }), client, context);
  }

  test("when the instance names a drill server, then 202 starts a drill with the resource id and the drill server's reference, which succeeds", async () => {
    const { instance, rp } = await backedUp();
    const accepted = await post(instance.name);
    expect(accepted.status).toBe(202);
    const { jobId } = bodyOf<{ jobId: string }>(accepted);
    const input = durable.started.find((s) => s.instanceId === jobId)!.input as VerifyInput;
    expect(input).toEqual({ instanceName: instance.name, recoveryPointId: rp.id, trigger: "OnDemand", datasource: instance.datasource, drillServer });

    const run = await runOrchestration(verifyOrchestrator, { name: verifyOrchestrationName, instanceId: jobId, input, activities: verifyActivities });
    expect(run.state.error).toBeUndefined();
    expect((await storedPoint(rp)).verification).toMatchObject({ outcome: "Succeeded", jobId, tablesChecked: 5, rowsChecked: 2537, rowCountsRecorded: false });
  });

  test("when the instance names no drill server, then 400 tells to set verification on the instance, and nothing starts", async () => {
    const { instance } = await backedUp(null);
    const before = durable.started.length;
    const refused = await post(instance.name);
    expect(refused.status).toBe(400);
    const error = bodyOf<{ error: { code: string; details: { path: string; message: string }[] } }>(refused).error;
    expect(error.code).toBe("InvalidRequest");
    expect(error.details).toEqual([{ path: "name", message: expect.stringContaining(`Set "verification"`) }]);
    expect(durable.started.length).toBe(before);
  });
});
