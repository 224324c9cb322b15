/** POST /api/backupInstances/{name}/verify through the real handler: the point it picks, refusals, and a job that runs. */
import { afterAll, beforeAll, expect, test } from "vitest";
import { getJobById } from "../../functions/jobs";
import { getInstanceRecoveryPoint } from "../../functions/recoveryPoints";
import { startVerify } from "../../functions/verify";
import { verifyOrchestrationName, verifyOrchestrator, type VerifyInput } from "../../orchestrators/verify";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import type { BackupInstance, DatabaseDatasource, DumpRecoveryPoint, Job, LtrRecoveryPoint } from "../../shared/domain";
import { handled } from "../../shared/http";
import { softDeleteRecoveryPoint } from "../../shared/retention/softDelete";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { protectFlexServer } from "../support/flexFixture";
import { bodyOf, invocation, request } from "../support/http";
import { runOrchestration } from "../support/replayDriver";
import { createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";
import { scratchExists, verifyActivities } from "../support/verifyFixture";

let durable: DurableClientStandIn;
let instance: BackupInstance;
/** Oldest first. */
let points: DumpRecoveryPoint[];

beforeAll(async () => {
  durable = await startDurableClientStandIn();
  const source = uniqueName("api_verify");
  await createDatabase(source);
  await seedRichDatabase(source);
  const role = uniqueName("drill_user");
  await createBackupRole(source, role, "pw-api-drill");
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${role} CREATEDB`));
  instance = await protect(uniqueName("apiverify").replaceAll("_", "-"), databaseSource(source, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-api-drill")));
  await runBackup(instance);
  await runBackup(instance);
  points = (await listRecoveryPoints(instance.name)).map(asDumpPoint).reverse();
  expect(points).toHaveLength(2);
});
afterAll(() => durable.close());

function post(name: string, body?: unknown) {
  const { client, context } = durable.client("startVerify");
  return startVerify(request("POST", `backupInstances/${name}/verify`, { ...(body === undefined ? {} : { body: body as object }), params: { name } }), client, context);
}

const errorOf = (response: Awaited<ReturnType<typeof post>>) => bodyOf<{ error: { code: string; message: string; details?: { path: string; message: string }[] } }>(response).error;

test("when no body is sent, then 202 with a Location, the job verifies the latest Available point, and the point shows the verification", async () => {
  const accepted = await post(instance.name);
  expect(accepted.status).toBe(202);
  const { jobId } = bodyOf<{ jobId: string }>(accepted);
  expect((accepted.headers as Record<string, string>).Location).toBe(`/api/jobs/${jobId}`);
  const start = durable.started.find((s) => s.instanceId === jobId)!;
  expect(start.name).toBe("verify");
  const input = start.input as VerifyInput;
  // Ids and references only: the drill's steps read the point from the catalog.
  expect(input).toEqual({ instanceName: instance.name, datasource: instance.datasource, trigger: "OnDemand", recoveryPointId: points[1]!.id });
  expect(JSON.stringify(input)).not.toContain("pw-api-drill");
  const queued = bodyOf<Job>(await handled(getJobById)(request("GET", "", { params: { id: jobId } }), invocation("getJob")));
  expect(queued).toMatchObject({ operation: "Verify", trigger: "OnDemand", status: "Queued", recoveryPointId: points[1]!.id });

  const run = await runOrchestration(verifyOrchestrator, { name: verifyOrchestrationName, instanceId: jobId, input, activities: verifyActivities });
  expect(run.state.error).toBeUndefined();
  const job = bodyOf<Job>(await handled(getJobById)(request("GET", "", { params: { id: jobId } }), invocation("getJob")));
  expect(job).toMatchObject({ operation: "Verify", status: "Succeeded", phase: "Done", bytes: points[1]!.sizeBytes });
  const params = { name: instance.name, rpId: points[1]!.id };
  const rp = bodyOf<DumpRecoveryPoint>(await handled(getInstanceRecoveryPoint)(request("GET", "", { params }), invocation("getRecoveryPoint")));
  expect(rp.verification).toMatchObject({ outcome: "Succeeded", jobId, tablesChecked: 3, rowsChecked: 2502, rowCountsRecorded: true });
  expect(await scratchExists(jobId)).toBe(false);
});

test("when a recovery point is named, then that one is verified; a SoftDeleted one too, since it restores until purged", async () => {
  const older = points[0]!;
  const named = await post(instance.name, { recoveryPointId: older.id });
  expect(named.status).toBe(202);
  expect((durable.started.find((s) => s.instanceId === bodyOf<{ jobId: string }>(named).jobId)!.input as VerifyInput).recoveryPointId).toBe(older.id);

  await softDeleteRecoveryPoint(instance.name, older.id, new Date(), 14);
  const softDeleted = await post(instance.name, { recoveryPointId: older.id });
  expect(softDeleted.status).toBe(202);
  expect((durable.started.find((s) => s.instanceId === bodyOf<{ jobId: string }>(softDeleted).jobId)!.input as VerifyInput).recoveryPointId).toBe(older.id);
});

test("when the instance or the point does not exist, then 404 with its code, and nothing starts", async () => {
  const before = durable.started.length;
  const noInstance = await post("no-such-instance");
  expect(noInstance.status).toBe(404);
  expect(errorOf(noInstance).code).toBe("NotFound");
  const noPoint = await post(instance.name, { recoveryPointId: "rp-20200101T000000Z-00000000" });
  expect(noPoint.status).toBe(404);
  expect(errorOf(noPoint).code).toBe("UserErrorRecoveryPointNotFound");
  const empty = await protect(uniqueName("nopoints").replaceAll("_", "-"), instance.datasource as DatabaseDatasource);
  const nothingToVerify = await post(empty.name);
  expect(nothingToVerify.status).toBe(404);
  expect(errorOf(nothingToVerify)).toMatchObject({ code: "UserErrorRecoveryPointNotFound", message: `Backup instance '${empty.name}' has no Available recovery point to verify.` });
  expect(durable.started.length).toBe(before);
});

test("when the body is malformed, then 400 names what is wrong", async () => {
  expect(errorOf(await post(instance.name, { recoveryPointId: "latest" })).details).toEqual([{ path: "recoveryPointId", message: "must look like rp-YYYYMMDDTHHMMSSZ-<8 hex>" }]);
  expect(errorOf(await post(instance.name, { recoveryPointId: points[0]!.id, target: {} })).details).toEqual([{ path: "target", message: "is not a known property" }]);
  expect((await post(instance.name, "[1, 2]")).status).toBe(400);
});

test("when the instance is a Flexible Server that names no drill server, then 400 tells to set verification on it, for any of its points", async () => {
  const flex = await protectFlexServer(uniqueName("flexverify").replaceAll("_", "-"), "/subscriptions/3f2b8c1e-7d4a-4e5b-9c6f-0a1b2c3d4e5f/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1");
  const container = "ltr-20260104t030012z-1a2b3c4d-0";
  const ltr: LtrRecoveryPoint = {
    id: "rp-20260104T030012Z-1a2b3c4d",
    instanceName: flex.name,
    time: "2026-01-04T03:00:12Z",
    tag: "Default",
    expiresAt: "2099-03-29T03:00:12Z",
    status: "Available",
    sizeBytes: 1,
    blobs: [`${container}/appdb_database.sql`],
    format: "flexibleServer-ltr",
    serverResourceId: "/subscriptions/3f2b8c1e-7d4a-4e5b-9c6f-0a1b2c3d4e5f/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1",
    serverVersion: "16",
    containers: [container],
    ltr: { backupName: "pgvault-rp-20260104t030012z-1a2b3c4d", datasourceSizeInBytes: 1, dataTransferredInBytes: 1, startTime: "2026-01-04T03:00:14Z", endTime: "2026-01-04T03:41:09Z" },
  };
  await putRecoveryPoint(ltr);
  const before = durable.started.length;
  for (const body of [{ recoveryPointId: ltr.id }, undefined]) {
    const refused = await post(flex.name, body);
    expect(refused.status).toBe(400);
    expect(errorOf(refused).details).toEqual([{ path: "name", message: expect.stringContaining(`names no drill server`) }]);
    expect(errorOf(refused).details?.[0]?.message).toContain(`Set "verification": { "host", "port"?, "secretRef" | "auth" } on the instance (PUT /api/backupInstances/${flex.name})`);
  }
  expect(durable.started.length).toBe(before);
});
