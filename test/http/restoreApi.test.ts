/** POST /api/backupInstances/{name}/restore through the real handler: validation, 404s, and a job that runs. */
import { afterAll, beforeAll, expect, test } from "vitest";
import { getJobById } from "../../functions/jobs";
import { startRestore } from "../../functions/restore";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import type { Job, RecoveryPoint } from "../../shared/domain";
import { handled } from "../../shared/http";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, invocation, request } from "../support/http";
import { restoreActivities } from "../support/restoreFixture";
import { runOrchestration } from "../support/replayDriver";
import { restoreOrchestrationName, restoreOrchestrator } from "../../orchestrators/restore";
import { cluster, contentFingerprint, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let durable: DurableClientStandIn;
let instanceName: string;
let rp: RecoveryPoint;
let source: string;
let targetSecret: string;

beforeAll(async () => {
  durable = await startDurableClientStandIn();
  source = uniqueName("api_restore");
  await createDatabase(source);
  await seedRichDatabase(source);
  const role = uniqueName("backup_user");
  await createBackupRole(source, role, "pw-api");
  instanceName = uniqueName("apirestore").replaceAll("_", "-");
  const instance = await protect(instanceName, databaseSource(source, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-api")));
  await runBackup(instance);
  rp = (await listRecoveryPoints(instanceName))[0]!;
  const restorer = uniqueName("restorer");
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${restorer} LOGIN CREATEDB PASSWORD 'pw-r'`));
  targetSecret = envSecret(`PGVAULT_SECRET_${restorer}`, restorer, "pw-r");
});
afterAll(() => durable.close());

function post(name: string, body: unknown) {
  const { client, context } = durable.client("startRestore");
  return startRestore(request("POST", `backupInstances/${name}/restore`, { body: body as object, params: { name } }), client, context);
}

const databaseTarget = (database: string) => ({ type: "database", host: cluster().host, port: cluster().port, database, secretRef: targetSecret });

test("when the request is valid, then 202 with a job that restores, and GET /api/jobs/{id} shows the Restore job", async () => {
  const database = uniqueName("api_restored");
  const accepted = await post(instanceName, { recoveryPointId: rp.id, target: databaseTarget(database) });
  expect(accepted.status).toBe(202);
  const { jobId } = bodyOf<{ jobId: string }>(accepted);
  expect((accepted.headers as Record<string, string>).Location).toBe(`/api/jobs/${jobId}`);
  const start = durable.started.find((s) => s.instanceId === jobId)!;
  expect(start.name).toBe("restore");
  expect(JSON.stringify(start.input)).not.toContain("pw-r");

  const run = await runOrchestration(restoreOrchestrator, { name: restoreOrchestrationName, instanceId: jobId, input: start.input, activities: restoreActivities });
  expect(run.state.error).toBeUndefined();
  const job = bodyOf<Job>(await handled(getJobById)(request("GET", "", { params: { id: jobId } }), invocation("getJob")));
  expect(job).toMatchObject({ id: jobId, operation: "Restore", status: "Succeeded", phase: "Done", instanceName, recoveryPointId: rp.id, bytes: rp.sizeBytes });
  expect(Date.parse(job.endTime!)).toBeGreaterThanOrEqual(Date.parse(job.startTime));
  expect(await contentFingerprint(database)).toEqual(await contentFingerprint(source));
});

test("when the recovery point or instance does not exist, then 404 with its code, and nothing starts", async () => {
  const before = durable.started.length;
  const unknownRp = await post(instanceName, { recoveryPointId: "rp-20200101T000000Z-00000000", target: databaseTarget("x_restored") });
  expect(unknownRp.status).toBe(404);
  expect(bodyOf<{ error: { code: string; recommendedAction: string } }>(unknownRp).error).toMatchObject({ code: "UserErrorRecoveryPointNotFound" });
  const unknownInstance = await post("no-such-instance", { recoveryPointId: rp.id, target: databaseTarget("x_restored") });
  expect(unknownInstance.status).toBe(404);
  expect(bodyOf<{ error: { code: string } }>(unknownInstance).error.code).toBe("NotFound");
  expect(durable.started.length).toBe(before);
});

test("when target fields are missing or invalid, then 400 names each of them", async () => {
  const missing = await post(instanceName, { recoveryPointId: rp.id, target: { type: "database" } });
  expect(missing.status).toBe(400);
  expect(bodyOf<{ error: { details: { path: string }[] } }>(missing).error.details.map((d) => d.path)).toEqual(["target.database", "target.secretRef"]);
  const longName = await post(instanceName, { recoveryPointId: rp.id, target: databaseTarget("d".repeat(64)) });
  expect(bodyOf<{ error: { details: { path: string; message: string }[] } }>(longName).error.details).toEqual([{ path: "target.database", message: "must be at most 63 bytes" }]);
  const badId = await post(instanceName, { recoveryPointId: "latest", target: { type: "blob", containerUrl: "https://acct.blob.core.windows.net/c?sv=secret" } });
  expect(bodyOf<{ error: { details: { path: string }[] } }>(badId).error.details.map((d) => d.path)).toEqual(["recoveryPointId", "target.containerUrl"]);
  const foreignHost = await post(instanceName, { recoveryPointId: rp.id, target: { type: "blob", containerUrl: "https://attacker.example/c" } });
  expect(bodyOf<{ error: { details: { path: string }[] } }>(foreignHost).error.details.map((d) => d.path)).toEqual(["target.containerUrl"]);
  const plainHttp = await post(instanceName, { recoveryPointId: rp.id, target: { type: "blob", containerUrl: "http://acct.blob.core.windows.net/c" } });
  expect(plainHttp.status).toBe(400);
  const mixed = await post(instanceName, { recoveryPointId: rp.id, target: { type: "blob", containerUrl: "https://acct.blob.core.windows.net/restores", database: "x" } });
  expect(bodyOf<{ error: { details: { path: string }[] } }>(mixed).error.details.map((d) => d.path)).toEqual(["target.database"]);
});

test("when a database dump is to be restored as a server, then 400 says to use a database target, and nothing starts", async () => {
  const before = durable.started.length;
  const response = await post(instanceName, { recoveryPointId: rp.id, target: { type: "server", host: cluster().host, port: cluster().port, secretRef: targetSecret } });
  expect(response.status).toBe(400);
  expect(bodyOf<{ error: { details: { path: string; message: string }[] } }>(response).error.details).toEqual([
    { path: "target.type", message: "'server' restores Flexible Server recovery points; this point is one database's dump: use type 'database'" },
  ]);
  expect(durable.started.length).toBe(before);
});

test("when include names a table or schema the point does not hold, then 422 UserErrorDBNotFound names only those, and nothing starts; names it holds start the job", async () => {
  const before = durable.started.length;
  const include = { tables: ["sales.orders", "sales.refunds", '"Ünïcødé Schéma"."Größe ""quoted"" table"'], schemas: ["nowhere"] };
  const refused = await post(instanceName, { recoveryPointId: rp.id, target: { ...databaseTarget(uniqueName("api_subset")), include } });
  expect(refused.status).toBe(422);
  const { error } = bodyOf<{ error: { code: string; message: string } }>(refused);
  expect(error.code).toBe("UserErrorDBNotFound");
  expect(error.message).toContain("holds no 'nowhere', 'sales.refunds'");
  expect(error.message).not.toContain("Größe");
  expect(durable.started.length).toBe(before);
  const view = { tables: ["sales.big_orders"], schemas: ['"Ünïcødé Schéma"'] };
  const accepted = await post(instanceName, { recoveryPointId: rp.id, target: { ...databaseTarget(uniqueName("api_subset")), include: view } });
  expect(accepted.status).toBe(202);
});
