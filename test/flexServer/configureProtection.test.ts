/**
 * Configure protection and the other HTTP calls for Flexible Servers (SPEC sections 2 and 5), through the real
 * handlers, with the real ARM client against the ARM stand-in: the access check runs before anything is stored,
 * and each ARM refusal comes back as 422 with its spec code and a recommended action.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { getBackupInstance, putBackupInstance } from "../../functions/backupInstances";
import { putBackupPolicy } from "../../functions/backupPolicies";
import { startOnDemandBackup } from "../../functions/onDemandBackup";
import { startRestore } from "../../functions/restore";
import { handled, type HttpHandler } from "../../shared/http";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { asLtrPoint, runFlexBackup } from "../support/flexFixture";
import { bodyOf, invocation, request } from "../support/http";
import { cluster, uniqueName, withAdmin } from "../support/testDatabase";
import { envSecret } from "../support/backupFixture";
import { getInstance } from "../../shared/catalog/catalog";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";

const subscriptionId = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const call = (handler: HttpHandler, req: ReturnType<typeof request>) => handled(handler)(req, invocation("test"));

let arm: ArmTestServer;
let durable: DurableClientStandIn;
const policyName = uniqueName("flex-weekly").replaceAll("_", "-");

beforeAll(async () => {
  ({ arm } = await useArmStandIn(inject("tls")));
  durable = await startDurableClientStandIn();
  const policy = {
    datasourceType: "flexibleServer",
    schedule: { repeatingIntervals: ["R/2026-01-04T03:00:00+00:00/P1W"], timeZone: "Europe/Berlin" },
    retention: { default: { duration: "P12W" }, rules: [{ tag: "Yearly", criteria: "FirstOfYear", duration: "P10Y" }] },
  };
  const created = await call(putBackupPolicy, request("PUT", `backupPolicies/${policyName}`, { body: policy, params: { name: policyName } }));
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await Promise.all([arm.close(), durable.close()]);
});

const serverName = () => uniqueName("pg").replaceAll("_", "-");

async function configure(name: string, resourceId: string, verification?: object) {
  const body = { policyName, datasource: { type: "flexibleServer", resourceId }, ...(verification ? { verification } : {}) };
  return call(putBackupInstance, request("PUT", `backupInstances/${name}`, { body, params: { name } }));
}

describe("a Flexible Server policy", () => {
  test("when it would run more than once a week, then PUT answers 400 explaining Azure's weekly limit", async () => {
    const name = uniqueName("flex-daily").replaceAll("_", "-");
    const daily = { datasourceType: "flexibleServer", schedule: { repeatingIntervals: ["R/2026-01-04T03:00:00+00:00/P1D"], timeZone: "UTC" }, retention: { default: { duration: "P12W" } } };
    const response = await call(putBackupPolicy, request("PUT", `backupPolicies/${name}`, { body: daily, params: { name } }));
    expect(response.status).toBe(400);
    const details = bodyOf<{ error: { details: { path: string; message: string }[] } }>(response).error.details;
    expect(details).toEqual([{ path: "schedule.repeatingIntervals[0]", message: expect.stringMatching(/week/i) }]);
  });
});

describe("configuring protection of a Flexible Server", () => {
  test("when the identity may read the server and run its pre-check, then 201 and the instance is stored", async () => {
    const resourceId = arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: serverName() });
    const name = uniqueName("flex").replaceAll("_", "-");
    const response = await configure(name, resourceId);
    expect(response.status).toBe(201);
    expect(bodyOf(response)).toMatchObject({ name, policyName, datasource: { type: "flexibleServer", resourceId }, protectionState: "ProtectionConfigured" });
    const calls = arm.requests.filter((r) => r.path.toLowerCase().startsWith(resourceId.toLowerCase())).map((r) => r.operation);
    expect(calls).toEqual(["getServer", "ltrPreBackup"]);
  });

  test.each([
    ["no LTR backup role on the server", { roles: { ltrBackup: false } }, "UserErrorMSIMissingPermissions", "PostgreSQL Flexible Server Long Term Retention Backup"],
    ["no Reader on the resource group", { roles: { reader: false } }, "UserErrorMSIMissingPermissions", "Reader"],
    ["a stopped server", { state: "Stopped" }, "UserErrorFlexServerNotReady", "Ready"],
    // Azure's long-term retention fails servers over 1 TB (support matrix); refused before the pre-check.
    ["2 TB of storage", { storageSizeGB: 2048 }, "UserErrorFlexServerNotReady", "'database' instances"],
  ] as const)("when the server has %s, then 422 %s names what to do, and nothing is stored", async (_what, setup, code, advice) => {
    const resourceId = arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: serverName(), ...setup });
    const name = uniqueName("flex").replaceAll("_", "-");
    const response = await configure(name, resourceId);
    expect(response.status).toBe(422);
    const error = bodyOf<{ error: { code: string; message: string; recommendedAction: string } }>(response).error;
    expect(error.code).toBe(code);
    expect(error.recommendedAction).toContain(advice);
    expect(await getInstance(name)).toBeUndefined();
  });

  test("when the server does not exist, then 422 UserErrorFlexServerNotFound", async () => {
    const resourceId = `/subscriptions/${subscriptionId}/resourceGroups/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/${serverName()}`;
    const response = await configure(uniqueName("flex").replaceAll("_", "-"), resourceId);
    expect(response.status).toBe(422);
    expect(bodyOf<{ error: { code: string } }>(response).error.code).toBe("UserErrorFlexServerNotFound");
  });

  test("when the instance's type does not match the policy's, then 400 names the type", async () => {
    const name = uniqueName("flex").replaceAll("_", "-");
    const body = { policyName, datasource: { type: "database", host: "pg.example.com", port: 5432, database: "sales", secretRef: "env:PGVAULT_SECRET_PG" } };
    const response = await call(putBackupInstance, request("PUT", `backupInstances/${name}`, { body, params: { name } }));
    expect(response.status).toBe(400);
    expect(JSON.stringify(bodyOf(response))).toContain("datasource.type");
  });
});

describe("the drill server of a Flexible Server instance (verification)", () => {
  /** A login role on the test cluster (the drill server), with CREATEDB or without, and its `env:` secret reference. */
  async function drillRole(createdb: boolean): Promise<{ role: string; secretRef: string }> {
    const role = uniqueName(createdb ? "flex_drill" : "flex_nodrill");
    await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${role} LOGIN ${createdb ? "CREATEDB" : ""} PASSWORD 'pw-${role}'`));
    return { role, secretRef: envSecret(`PGVAULT_SECRET_${role}`, role, `pw-${role}`) };
  }
  const errorOf = (response: Awaited<ReturnType<typeof configure>>) => bodyOf<{ error: { code: string; message: string; details?: unknown[] } }>(response).error;

  test("when its user may create databases, then 201 and the instance keeps it with the server the secret named, shown by GET; never a password", async () => {
    const { role, secretRef } = await drillRole(true);
    const resourceId = arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: serverName() });
    const name = uniqueName("flex").replaceAll("_", "-");
    const response = await configure(name, resourceId, { secretRef });
    expect(response.status).toBe(201);
    const verification = { host: cluster().host, port: cluster().port, secretRef };
    expect(bodyOf(response)).toMatchObject({ name, datasource: { type: "flexibleServer", resourceId }, verification });
    expect((await getInstance(name))?.verification).toEqual(verification);
    const shown = await call(getBackupInstance, request("GET", `backupInstances/${name}`, { params: { name } }));
    expect(bodyOf(shown)).toMatchObject({ verification });
    expect(JSON.stringify(bodyOf(shown))).not.toContain(`pw-${role}`);
  });

  test("when its user lacks CREATEDB, then 422 UserErrorMissingRestorePermissions names the user, and nothing is stored", async () => {
    const { role, secretRef } = await drillRole(false);
    const resourceId = arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: serverName() });
    const name = uniqueName("flex").replaceAll("_", "-");
    const response = await configure(name, resourceId, { host: cluster().host, port: cluster().port, secretRef });
    expect(response.status).toBe(422);
    expect(errorOf(response)).toMatchObject({ code: "UserErrorMissingRestorePermissions", message: expect.stringContaining(`User '${role}' lacks CREATEDB on ${cluster().host}:${cluster().port}`) });
    expect(await getInstance(name)).toBeUndefined();
  });

  test("when it names another server than its secret, then 422 UserErrorSecretServerMismatch before anything connects, and nothing is stored", async () => {
    const { secretRef } = await drillRole(true);
    const resourceId = arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: serverName() });
    const name = uniqueName("flex").replaceAll("_", "-");
    const response = await configure(name, resourceId, { host: "drill.example.com", secretRef });
    expect(response.status).toBe(422);
    expect(errorOf(response).code).toBe("UserErrorSecretServerMismatch");
    expect(await getInstance(name)).toBeUndefined();
  });

  test("when it is given for a database instance, then 400 on verification: such an instance drills on its own server", async () => {
    const name = uniqueName("db").replaceAll("_", "-");
    const body = { policyName, datasource: { type: "database", host: "pg.example.com", database: "sales", secretRef: "env:PGVAULT_SECRET_PG" }, verification: { secretRef: "env:PGVAULT_SECRET_PG" } };
    const response = await call(putBackupInstance, request("PUT", `backupInstances/${name}`, { body, params: { name } }));
    expect(response.status).toBe(400);
    expect(errorOf(response).details).toEqual([{ path: "verification", message: expect.stringContaining("'flexibleServer' instances only") }]);
  });
});

describe("backup and restore calls for a Flexible Server instance", () => {
  test("when an on-demand backup is asked for, then 202 starts the backup orchestration with the resource id only", async () => {
    const resourceId = arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: serverName() });
    const name = uniqueName("flex").replaceAll("_", "-");
    expect((await configure(name, resourceId)).status).toBe(201);
    const { client, context } = durable.client("startOnDemandBackup");
    const response = await startOnDemandBackup(request("POST", `backupInstances/${name}/backup`, { params: { name } }), client, context);
    expect(response.status).toBe(202);
    expect(durable.started.at(-1)).toMatchObject({ name: "backup", input: { instanceName: name, datasource: { type: "flexibleServer", resourceId }, trigger: "OnDemand" } });
  });

  test("when a Flexible Server point is restored to one database, or to a server with a database it lacks, then 400 says what fits and what it holds", async () => {
    const resourceId = arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: serverName() });
    const name = uniqueName("flex").replaceAll("_", "-");
    expect((await configure(name, resourceId)).status).toBe(201);
    const instance = (await getInstance(name))!;
    await runFlexBackup(instance);
    const rp = asLtrPoint((await listRecoveryPoints(name))[0]);
    const { client, context } = durable.client("startRestore");
    const restore = (target: Record<string, unknown>) =>
      startRestore(request("POST", `backupInstances/${name}/restore`, { body: { recoveryPointId: rp.id, target }, params: { name } }), client, context);

    const toDatabase = await restore({ type: "database", host: "127.0.0.1", port: 5432, database: "restored", secretRef: "env:PGVAULT_SECRET_PG" });
    expect(toDatabase.status).toBe(400);
    expect(bodyOf(toDatabase)).toMatchObject({ error: { code: "InvalidRequest", details: [{ path: "target.type", message: expect.stringContaining("type 'server'") }] } });

    // The stand-in's placeholder point holds one database, appdb.
    const unknown = await restore({ type: "server", host: "127.0.0.1", port: 5432, secretRef: "env:PGVAULT_SECRET_PG", databases: [{ name: "appdb" }, { name: "nosuchdb" }] });
    expect(unknown.status).toBe(400);
    expect(bodyOf(unknown)).toMatchObject({ error: { details: [{ path: "target.databases[1].name", message: `is not in recovery point ${rp.id}; it holds appdb` }] } });
    expect(durable.started.filter((s) => s.name === "restore")).toEqual([]);
  });
});
