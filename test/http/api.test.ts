/**
 * The HTTP contract (SPEC section 2) through the real handlers, with real HttpRequest/InvocationContext objects,
 * real Azurite and PostgreSQL, and the durable client talking to a stand-in of the extension's start endpoint.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { putBackupInstance, getBackupInstance, listBackupInstances } from "../../functions/backupInstances";
import { deleteBackupPolicy, getBackupPolicy, listBackupPolicies, putBackupPolicy } from "../../functions/backupPolicies";
import { health } from "../../functions/health";
import { getJobById } from "../../functions/jobs";
import { startOnDemandBackup } from "../../functions/onDemandBackup";
import { getInstanceRecoveryPoint, listInstanceRecoveryPoints } from "../../functions/recoveryPoints";
import { backupOrchestrationName, backupOrchestrator } from "../../orchestrators/backup";
import { handled, type HttpHandler } from "../../shared/http";
import type { Job, RecoveryPoint } from "../../shared/domain";
import { backupActivities, envSecret } from "../support/backupFixture";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, invocation, request } from "../support/http";
import { runOrchestration } from "../support/replayDriver";
import { specExamplePolicy } from "../support/specExamples";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

const policyBody = specExamplePolicy();

const call = (handler: HttpHandler, req: ReturnType<typeof request>) => handled(handler)(req, invocation("test"));

let durable: DurableClientStandIn;
beforeAll(async () => {
  durable = await startDurableClientStandIn();
});
afterAll(() => durable.close());

describe("backup policies", () => {
  test("when a policy is PUT twice, then it is created (201) and then replaced (200), and reads back as stored", async () => {
    const name = uniqueName("pol").replaceAll("_", "-");
    const created = await call(putBackupPolicy, request("PUT", `backupPolicies/${name}`, { body: policyBody, params: { name } }));
    expect(created.status).toBe(201);
    expect(bodyOf(created)).toEqual({ name, ...policyBody });
    const replaced = await call(putBackupPolicy, request("PUT", `backupPolicies/${name}`, { body: policyBody, params: { name } }));
    expect(replaced.status).toBe(200);
    const read = await call(getBackupPolicy, request("GET", `backupPolicies/${name}`, { params: { name } }));
    expect(bodyOf(read)).toEqual({ name, ...policyBody });
    const list = bodyOf<{ value: { name: string }[] }>(await call(listBackupPolicies, request("GET", "backupPolicies")));
    expect(list.value.map((p) => p.name)).toContain(name);
  });

  test("when the body is not JSON, then 400 InvalidRequest", async () => {
    const response = await call(putBackupPolicy, request("PUT", "backupPolicies/abc", { body: "{not json", params: { name: "abc" } }));
    expect(response.status).toBe(400);
    expect(bodyOf(response)).toEqual({ error: { code: "InvalidRequest", message: "The request is not valid.", details: [{ path: "$", message: "body is not valid JSON" }] } });
  });

  test("when the body has several mistakes, then 400 lists each with its JSON path", async () => {
    const body = { ...policyBody, schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00Z/PT5H"], timeZone: "Mars/Olympus" }, retention: { rules: [] } };
    const response = await call(putBackupPolicy, request("PUT", "backupPolicies/abc", { body, params: { name: "abc" } }));
    expect(response.status).toBe(400);
    const paths = bodyOf<{ error: { details: { path: string }[] } }>(response).error.details.map((d) => d.path);
    expect(paths).toEqual(["schedule.repeatingIntervals[0]", "schedule.timeZone", "retention.default", "retention.default.duration"]);
  });

  test("when the name breaks the naming rule, then 400 names the route parameter", async () => {
    const response = await call(getBackupPolicy, request("GET", "backupPolicies/Bad_Name", { params: { name: "Bad_Name" } }));
    expect(response.status).toBe(400);
    expect(bodyOf<{ error: { details: { path: string }[] } }>(response).error.details[0]!.path).toBe("name");
  });

  test("when a policy does not exist, then GET answers 404 NotFound", async () => {
    const response = await call(getBackupPolicy, request("GET", "backupPolicies/missing-policy", { params: { name: "missing-policy" } }));
    expect(response.status).toBe(404);
    expect(bodyOf<{ error: { code: string } }>(response).error.code).toBe("NotFound");
  });
});

describe("configure protection, on-demand backup, jobs and recovery points", () => {
  const database = uniqueName("api");
  const role = uniqueName("api_user");
  const password = `pw-${uniqueName("api")}`;
  const policyName = uniqueName("apipol").replaceAll("_", "-");
  const instanceName = uniqueName("apiinst").replaceAll("_", "-");
  let secretRef: string;
  const datasource = () => ({ type: "database", host: cluster().host, port: cluster().port, database, secretRef });

  beforeAll(async () => {
    await createDatabase(database);
    await seedRichDatabase(database);
    await createBackupRole(database, role, password);
    secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, password);
    await call(putBackupPolicy, request("PUT", `backupPolicies/${policyName}`, { body: policyBody, params: { name: policyName } }));
  });

  test("when the policy named does not exist, then 400 points at policyName", async () => {
    const response = await call(putBackupInstance, request("PUT", "backupInstances/x-instance", { body: { policyName: "no-such-policy", datasource: datasource() }, params: { name: "x-instance" } }));
    expect(response.status).toBe(400);
    expect(bodyOf<{ error: { details: unknown[] } }>(response).error.details).toEqual([{ path: "policyName", message: "backup policy 'no-such-policy' does not exist" }]);
  });

  test.each([
    ["a wrong password", () => ({ secretRef: envSecret("PGVAULT_SECRET_API_WRONG", role, "not-the-password") }), "UserErrorDBUserAuthFailed"],
    ["an unknown database", () => ({ database: "no_such_database" }), "UserErrorDBNotFound"],
    ["an unreachable server", () => ({ port: undefined, secretRef: envSecret("PGVAULT_SECRET_API_PORT_ONE", role, password, { ...cluster(), port: 1 }) }), "UserErrorServerUnreachable"],
    ["a port other than the secret's", () => ({ port: 1 }), "UserErrorSecretServerMismatch"],
    ["a missing secret", () => ({ secretRef: "env:PGVAULT_SECRET_NOT_SET_ANYWHERE" }), "UserErrorSecretNotFound"],
  ])("when configuring protection with %s, then 422 carries %s and a recommended action, and nothing is stored", async (_what, change, code) => {
    const name = uniqueName("bad").replaceAll("_", "-");
    const body = { policyName, datasource: { ...datasource(), ...change() } };
    const response = await call(putBackupInstance, request("PUT", `backupInstances/${name}`, { body, params: { name } }));
    expect(response.status).toBe(422);
    const error = bodyOf<{ error: { code: string; message: string; recommendedAction: string } }>(response).error;
    expect(error.code).toBe(code);
    expect(error.recommendedAction.length).toBeGreaterThan(10);
    expect(JSON.stringify(response.jsonBody)).not.toContain(password);
    const read = await call(getBackupInstance, request("GET", `backupInstances/${name}`, { params: { name } }));
    expect(read.status).toBe(404);
  });

  test("when the secret reference is malformed or names a setting outside PGVAULT_SECRET_, then 400 on datasource.secretRef, and nothing is stored", async () => {
    for (const secretRef of ["https://evil.example.com/secrets/x", "env:AzureWebJobsStorage"]) {
      const name = uniqueName("badref").replaceAll("_", "-");
      const response = await call(putBackupInstance, request("PUT", `backupInstances/${name}`, { body: { policyName, datasource: { ...datasource(), secretRef } }, params: { name } }));
      expect(response.status).toBe(400);
      const details = bodyOf<{ error: { details: { path: string; message: string }[] } }>(response).error.details;
      expect(details).toEqual([{ path: "datasource.secretRef", message: expect.stringContaining("(UserErrorInvalidSecret)") }]);
      expect((await call(getBackupInstance, request("GET", `backupInstances/${name}`, { params: { name } }))).status).toBe(404);
    }
  });

  test("when host and port are left out, then the instance is configured with the secret's server, which GET shows", async () => {
    const name = uniqueName("fromsecret").replaceAll("_", "-");
    const response = await call(putBackupInstance, request("PUT", `backupInstances/${name}`, { body: { policyName, datasource: { type: "database", database, secretRef } }, params: { name } }));
    expect(response.status).toBe(201);
    expect(bodyOf<{ datasource: unknown }>(response).datasource).toEqual({ type: "database", host: cluster().host, port: cluster().port, database, secretRef });
    expect(bodyOf<{ datasource: unknown }>(await call(getBackupInstance, request("GET", `backupInstances/${name}`, { params: { name } }))).datasource).toEqual({
      type: "database", host: cluster().host, port: cluster().port, database, secretRef,
    });
  });

  test("when a backup is requested, then 202 with a job whose orchestration backs up, and the RP is listed", async () => {
    const configured = await call(putBackupInstance, request("PUT", `backupInstances/${instanceName}`, { body: { policyName, datasource: datasource() }, params: { name: instanceName } }));
    expect(configured.status).toBe(201);
    expect(bodyOf(configured)).toMatchObject({ name: instanceName, policyName, protectionState: "ProtectionConfigured", lastBackup: null });
    expect(bodyOf<{ nextScheduledBackup: string }>(configured).nextScheduledBackup).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:30:00\.000Z$/);

    const { client, context } = durable.client("startOnDemandBackup");
    const accepted = await startOnDemandBackup(request("POST", `backupInstances/${instanceName}/backup`, { body: { retentionTag: "Monthly" }, params: { name: instanceName } }), client, context);
    expect(accepted.status).toBe(202);
    const { jobId } = bodyOf<{ jobId: string }>(accepted);
    expect((accepted.headers as Record<string, string>).Location).toBe(`/api/jobs/${jobId}`);
    const queued = bodyOf<Job>(await call(getJobById, request("GET", `jobs/${jobId}`, { params: { id: jobId } })));
    expect(queued).toMatchObject({ id: jobId, status: "Queued", operation: "Backup", trigger: "OnDemand", instanceName });

    const start = durable.started.find((s) => s.instanceId === jobId)!;
    expect(start).toMatchObject({ name: "backup", input: { instanceName, retentionTag: "Monthly", trigger: "OnDemand" } });
    const run = await runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input: start.input, activities: backupActivities });
    expect(run.state.error).toBeUndefined();

    const job = bodyOf<Job>(await call(getJobById, request("GET", `jobs/${jobId}`, { params: { id: jobId } })));
    expect(job).toMatchObject({ status: "Succeeded", phase: "Done" });
    const list = bodyOf<{ value: RecoveryPoint[] }>(await call(listInstanceRecoveryPoints, request("GET", "", { params: { name: instanceName } })));
    expect(list.value).toHaveLength(1);
    expect(list.value[0]).toMatchObject({ id: job.recoveryPointId, tag: "Monthly", status: "Available" });
    const rp = await call(getInstanceRecoveryPoint, request("GET", "", { params: { name: instanceName, rpId: job.recoveryPointId! } }));
    expect(bodyOf(rp)).toEqual(list.value[0]);
    const instance = bodyOf<{ lastBackup: unknown }>(await call(getBackupInstance, request("GET", "", { params: { name: instanceName } })));
    expect(instance.lastBackup).toEqual({ time: list.value[0]!.time, recoveryPointId: job.recoveryPointId, sizeBytes: list.value[0]!.sizeBytes });
    const all = bodyOf<{ value: { name: string }[] }>(await call(listBackupInstances, request("GET", "backupInstances")));
    expect(all.value.map((i) => i.name)).toContain(instanceName);
  });

  test("when the policy is in use, then DELETE answers 409 PolicyInUse", async () => {
    const response = await call(deleteBackupPolicy, request("DELETE", "", { params: { name: policyName } }));
    expect(response.status).toBe(409);
    expect(bodyOf<{ error: { code: string } }>(response).error.code).toBe("PolicyInUse");
  });

  test("when the backup request is malformed or names a missing thing, then 400 / 404 and no orchestration starts", async () => {
    const before = durable.started.length;
    const { client, context } = durable.client("startOnDemandBackup");
    const bad = await startOnDemandBackup(request("POST", "", { body: { retentionTag: "Hourly" }, params: { name: instanceName } }), client, context);
    expect(bad.status).toBe(400);
    const extra = await startOnDemandBackup(request("POST", "", { body: { retentionTag: "Weekly", extra: 1 }, params: { name: instanceName } }), client, context);
    expect(bodyOf<{ error: { details: { path: string }[] } }>(extra).error.details.map((d) => d.path)).toEqual(["extra"]);
    const missing = await startOnDemandBackup(request("POST", "", { params: { name: "no-such-instance" } }), client, context);
    expect(missing.status).toBe(404);
    expect(durable.started.length).toBe(before);
  });

  test("when a job or recovery point does not exist, then 404; when its id is malformed, then 400", async () => {
    expect((await call(getJobById, request("GET", "", { params: { id: "backup-none-1" } }))).status).toBe(404);
    expect((await call(getJobById, request("GET", "", { params: { id: "../etc" } }))).status).toBe(400);
    expect((await call(getInstanceRecoveryPoint, request("GET", "", { params: { name: instanceName, rpId: "rp-20260101T000000Z-00000000" } }))).status).toBe(404);
    expect((await call(getInstanceRecoveryPoint, request("GET", "", { params: { name: instanceName, rpId: "nope" } }))).status).toBe(400);
  });
});

test("when the vault is reachable, then health answers ok", async () => {
  const response = await health(undefined, invocation("health"));
  expect(response).toMatchObject({ status: 200, jsonBody: { status: "ok" } });
});
