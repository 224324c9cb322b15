/**
 * The ARM stand-in (test/support/armServer.ts) against the real `PostgreSQLManagementFlexibleServerClient` and
 * `DefaultAzureCredential`: proves the stand-in speaks the protocol the SDK expects (token audience, paths, bodies,
 * errors, throttling, the asynchronous-operation LRO), and that an LTR backup really writes through Azurite SAS
 * URIs. Also pins down the SDK's LRO behaviour the app relies on (what a poller polls, what it serializes).
 */
import { randomUUID } from "node:crypto";
import { PostgreSQLManagementFlexibleServerClient } from "@azure/arm-postgresql-flexible";
import { DefaultAzureCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { BlobServiceClient, ContainerSASPermissions } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { ltrSasPermissions } from "../../shared/flexServer/ltrContainers";
import { armApiVersion, useArmStandIn, type ArmLoggedRequest, type ArmTestServer } from "../support/armServer";
import type { IdentityEndpoint } from "../support/identityEndpoint";
import { keyVaultResource, startKeyVaultServer } from "../support/keyVaultServer";

const subscriptionId = randomUUID();
const resourceGroup = "pgvault-test-rg";
const run = randomUUID().slice(0, 8);

let arm: ArmTestServer;
let identity: IdentityEndpoint;
let client: PostgreSQLManagementFlexibleServerClient;
let serverId: string;
const sasUrls: string[] = [];

const blobService = () => BlobServiceClient.fromConnectionString(inject("vaultConnectionString"));

/** A fresh Azurite container and a SAS URL for it with `permissions`: by default the rights the app grants the server. */
async function sasContainer(suffix: string, permissions = ltrSasPermissions): Promise<string> {
  const container = blobService().getContainerClient(`ltr-${run}-${suffix}`);
  await container.createIfNotExists();
  const url = await container.generateSasUrl({
    permissions: ContainerSASPermissions.parse(permissions),
    expiresOn: new Date(Date.now() + 3600_000),
  });
  sasUrls.push(url);
  return url;
}

async function blobSizes(suffix: string): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for await (const blob of blobService().getContainerClient(`ltr-${run}-${suffix}`).listBlobsFlat()) {
    sizes[blob.name] = blob.properties.contentLength ?? -1;
  }
  return sizes;
}

/** Requests logged while `action` ran, as "operation status" strings. */
async function requestsDuring(action: () => Promise<unknown>): Promise<string[]> {
  const mark = arm.requests.length;
  await action();
  return arm.requests.slice(mark).map((r: ArmLoggedRequest) => `${r.operation} ${r.status}`);
}

/** The error `promise` rejects with, whatever it is. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("expected a rejection"),
    (error: unknown) => error,
  );
}

function addServer(name: string, setup: Partial<Parameters<ArmTestServer["addServer"]>[0]> = {}): string {
  return arm.addServer({ subscriptionId, resourceGroup, name, ...setup });
}

beforeAll(async () => {
  ({ arm, identity } = await useArmStandIn(inject("tls")));
  serverId = addServer("pg-ready");
  client = new PostgreSQLManagementFlexibleServerClient(new DefaultAzureCredential(), subscriptionId, {
    endpoint: arm.endpoint,
    credentialScopes: [`${arm.endpoint}/.default`],
  });
});

afterAll(async () => {
  await arm?.close();
  for (const name of ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "ARM_ENDPOINT"]) delete process.env[name];
  // The log holds shapes only: no SAS (signature) may appear in it.
  const log = JSON.stringify([arm?.requests ?? [], identity?.requests ?? []]);
  expect(log).not.toContain("sig=");
  for (const url of sasUrls) expect(log).not.toContain(new URL(url).search);
});

describe("reads", () => {
  test("when the app gets a server, then the managed-identity token is for the ARM endpoint and the resource comes back", async () => {
    const server = await client.servers.get(resourceGroup, "pg-ready");
    expect(server).toMatchObject({
      id: serverId,
      name: "pg-ready",
      type: "Microsoft.DBforPostgreSQL/flexibleServers",
      location: "westeurope",
      state: "Ready",
      version: "16",
      fullyQualifiedDomainName: "pg-ready.postgres.database.azure.com",
    });
    expect(identity.requests.map((r) => ({ status: r.status, resource: r.resource }))).toEqual([{ status: 200, resource: arm.endpoint }]);
    expect(arm.requests.at(-1)).toMatchObject({ operation: "getServer", status: 200, bearer: true, path: serverId });
  });

  test("when paths differ in case from the resource id, then they still address the same server (ARM is case-insensitive)", async () => {
    const server = await client.servers.get(resourceGroup.toUpperCase(), "PG-READY");
    expect(server.id).toBe(serverId);
  });

  test("when the app checks prerequisites, then numberOfContainers comes back", async () => {
    addServer("pg-three", { numberOfContainers: 3 });
    expect(await client.backupsLongTermRetention.checkPrerequisites(resourceGroup, "pg-ready", { backupSettings: { backupName: "x" } })).toMatchObject({
      numberOfContainers: 2,
    });
    expect(await client.backupsLongTermRetention.checkPrerequisites(resourceGroup, "pg-three", { backupSettings: { backupName: "x" } })).toMatchObject({
      numberOfContainers: 3,
    });
  });
});

describe("errors surface as RestError with ARM's status and code", () => {
  test("when the identity lacks the reader role, then 403 AuthorizationFailed naming the action and scope", async () => {
    const id = addServer("pg-no-reader", { roles: { reader: false } });
    const error = await rejection(client.servers.get(resourceGroup, "pg-no-reader"));
    expect(error).toMatchObject({ name: "RestError", statusCode: 403, code: "AuthorizationFailed" });
    expect((error as Error).message).toContain(`perform action 'Microsoft.DBforPostgreSQL/flexibleServers/read' over scope '${id}'`);
    expect((error as Error).message).toContain(identity.clientId);
  });

  test("when the identity lacks the LTR role, then ltrPreBackup answers 403 while the server itself is readable", async () => {
    addServer("pg-no-ltr", { roles: { ltrBackup: false } });
    await client.servers.get(resourceGroup, "pg-no-ltr");
    const error = await rejection(client.backupsLongTermRetention.checkPrerequisites(resourceGroup, "pg-no-ltr", { backupSettings: { backupName: "x" } }));
    expect(error).toMatchObject({ statusCode: 403, code: "AuthorizationFailed" });
    expect((error as Error).message).toContain("ltrPreBackup/action");
  });

  test("when the server, resource group or subscription does not exist, then 404 with ARM's codes", async () => {
    expect(await rejection(client.servers.get(resourceGroup, "pg-missing"))).toMatchObject({
      name: "RestError",
      statusCode: 404,
      code: "ResourceNotFound",
      message: expect.stringContaining("'Microsoft.DBforPostgreSQL/flexibleServers/pg-missing' under resource group 'pgvault-test-rg' was not found"),
    });
    expect(await rejection(client.servers.get("other-rg", "pg-ready"))).toMatchObject({ statusCode: 404, code: "ResourceGroupNotFound" });
    const otherSubscription = new PostgreSQLManagementFlexibleServerClient(new DefaultAzureCredential(), randomUUID(), {
      endpoint: arm.endpoint,
      credentialScopes: [`${arm.endpoint}/.default`],
    });
    expect(await rejection(otherSubscription.servers.get(resourceGroup, "pg-ready"))).toMatchObject({ statusCode: 404, code: "SubscriptionNotFound" });
  });

  test("when the server is not Ready, then 409 PostgreSQLFlexOperationFailedUserError with inner ServerNotReadyForLongTermBackup names the state", async () => {
    addServer("pg-stopped", { state: "Stopped" });
    expect(
      await rejection(client.backupsLongTermRetention.checkPrerequisites(resourceGroup, "pg-stopped", { backupSettings: { backupName: "x" } })),
    ).toMatchObject({
      statusCode: 409,
      code: "PostgreSQLFlexOperationFailedUserError",
      message: expect.stringContaining("'Stopped'"),
      details: { error: { details: [expect.objectContaining({ code: "ServerNotReadyForLongTermBackup" })] } },
    });
  });

  test("when the token is for another audience (credentialScopes left at public ARM), then 401 and no retry", async () => {
    const wrongAudience = new PostgreSQLManagementFlexibleServerClient(new DefaultAzureCredential(), subscriptionId, {
      endpoint: arm.endpoint,
      credentialScopes: ["https://management.azure.com/.default"],
    });
    let error: unknown;
    const log = await requestsDuring(async () => {
      error = await rejection(wrongAudience.servers.get(resourceGroup, "pg-ready"));
    });
    expect(error).toMatchObject({ statusCode: 401, code: "InvalidAuthenticationToken", message: expect.stringContaining("wrong audience") });
    expect(log).toEqual(["getServer 401"]);
  });

  test("when a request has no token or the wrong api-version, then 401 AuthenticationFailed / 400, with ARM's headers", async () => {
    const path = `${arm.endpoint}${serverId}`;
    const anonymous = await fetch(`${path}?api-version=${armApiVersion}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("x-ms-error-code")).toBe("AuthenticationFailed");
    expect(anonymous.headers.get("x-ms-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await anonymous.json()).toMatchObject({ error: { code: "AuthenticationFailed" } });

    const token = await new DefaultAzureCredential().getToken(`${arm.endpoint}/.default`);
    const headers = { authorization: `Bearer ${token.token}` };
    const oldVersion = await fetch(`${path}?api-version=2022-12-01`, { headers });
    expect(oldVersion.status).toBe(400);
    expect(await oldVersion.json()).toMatchObject({ error: { code: "InvalidApiVersionParameter" } });
    expect((await fetch(path, { headers })).status).toBe(400);
    const ok = await fetch(`${path}?api-version=${armApiVersion}`, { headers });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-ms-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("throttling and transient failures", () => {
  test("when ARM throttles once, then the SDK waits Retry-After and the call succeeds", async () => {
    arm.throttleNext(1);
    const started = Date.now();
    const log = await requestsDuring(async () => {
      expect(await client.backupsLongTermRetention.checkPrerequisites(resourceGroup, "pg-ready", { backupSettings: { backupName: "x" } })).toMatchObject({
        numberOfContainers: 2,
      });
    });
    expect(log).toEqual(["ltrPreBackup 429", "ltrPreBackup 200"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  test("when ARM answers 503 once, then the SDK retries and the call succeeds", async () => {
    arm.failNext(1, 503);
    const log = await requestsDuring(() => client.servers.get(resourceGroup, "pg-ready"));
    expect(log).toEqual(["getServer 503", "getServer 200"]);
  });
});

describe("an LTR backup", () => {
  test("when started and waited for, then it succeeds and every container holds the files with their sizes", async () => {
    const sasUriList = [await sasContainer("ok-a"), await sasContainer("ok-b")];
    let result: Awaited<ReturnType<typeof client.backupsLongTermRetention.beginStartAndWait>> | undefined;
    const log = await requestsDuring(async () => {
      result = await client.backupsLongTermRetention.beginStartAndWait(
        resourceGroup,
        "pg-ready",
        { backupSettings: { backupName: "ltr-ok" }, targetDetails: { sasUriList } },
        // The poller ignores `Retry-After: 0` (it only adopts a non-zero value) and would wait 2 s between polls.
        { updateIntervalInMs: 10 },
      );
    });
    // The poller polls Azure-AsyncOperation (2 x InProgress, then Succeeded), then GETs Location once for the result.
    expect(log).toEqual(["startLtrBackup 202", "asyncOperation 200", "asyncOperation 200", "asyncOperation 200", "operationResult 200"]);
    expect(result).toMatchObject({ backupName: "ltr-ok", status: "Succeeded", percentComplete: 100, dataTransferredInBytes: 2 * 218_944 });
    const expected = { "appdb_database.sql": 200_000, "roles.sql": 2_048, "tablespace.sql": 512, "schema.sql": 16_384 };
    expect(await blobSizes("ok-a")).toEqual(expected);
    expect(await blobSizes("ok-b")).toEqual(expected);
    expect(arm.operations(serverId)).toEqual([
      { backupName: "ltr-ok", status: "Succeeded", sasUriCount: 2, containersWritten: [`ltr-${run}-ok-a`, `ltr-${run}-ok-b`], startRequests: 1 },
    ]);

    const operation = await client.backupsLongTermRetention.get(resourceGroup, "pg-ready", "ltr-ok");
    expect(operation).toMatchObject({
      id: `${serverId}/ltrBackupOperations/ltr-ok`,
      name: "ltr-ok",
      type: "Microsoft.DBforPostgreSQL/flexibleServers/ltrBackupOperations",
      backupName: "ltr-ok",
      status: "Succeeded",
      datasourceSizeInBytes: 3 * 2 * 218_944,
      backupMetadata: JSON.stringify({ dataFormat: "pg_dump", serverVersion: "16" }),
    });
    expect(operation.startTime).toBeInstanceOf(Date);
    expect(operation.endTime).toBeInstanceOf(Date);
    const listed = [];
    for await (const item of client.backupsLongTermRetention.listByServer(resourceGroup, "pg-ready")) listed.push(item.backupName);
    expect(listed).toEqual(["ltr-ok"]);
  });

  test("when the SAS lacks write permission, then the operation fails with StorageAccessFailed naming the status, not the SAS", async () => {
    const id = addServer("pg-readonly-sas", { numberOfContainers: 1 });
    const sasUriList = [await sasContainer("ro", "rl")];
    const error = await rejection(
      client.backupsLongTermRetention.beginStartAndWait(
        resourceGroup,
        "pg-readonly-sas",
        { backupSettings: { backupName: "ltr-ro" }, targetDetails: { sasUriList } },
        { updateIntervalInMs: 10 },
      ),
    );
    // core-lro's own Error, not a RestError: "The long-running operation has failed. <code>. <message>".
    expect(String(error)).toContain("StorageAccessFailed");
    expect(String(error)).toContain("HTTP 403 (AuthorizationPermissionMismatch)");
    expect(JSON.stringify(error) + String(error)).not.toContain("sig=");
    const operation = await client.backupsLongTermRetention.get(resourceGroup, "pg-readonly-sas", "ltr-ro");
    expect(operation).toMatchObject({ status: "Failed", errorCode: "StorageAccessFailed", errorMessage: expect.stringContaining("HTTP 403") });
    expect(operation.errorMessage).not.toContain("sig=");
    expect(arm.operations(id)).toMatchObject([{ status: "Failed", containersWritten: [] }]);
    expect(await blobSizes("ro")).toEqual({});
  });

  test("when a backup is configured to fail, then the poller rejects with its code and a partial file is left behind", async () => {
    const id = addServer("pg-failing", { numberOfContainers: 1, backup: { outcome: "Failed", pollsUntilDone: 1, errorCode: "DiskFull", errorMessage: "No space left." } });
    const sasUriList = [await sasContainer("fail")];
    const error = await rejection(
      client.backupsLongTermRetention.beginStartAndWait(resourceGroup, "pg-failing", { backupSettings: { backupName: "ltr-fail" }, targetDetails: { sasUriList } }),
    );
    expect(String(error)).toContain("No space left.");
    expect(await blobSizes("fail")).toEqual({ "appdb_database.sql.partial": 100_000 });
    expect(arm.operations(id)).toMatchObject([{ status: "Failed", containersWritten: [`ltr-${run}-fail`] }]);
    expect(await client.backupsLongTermRetention.get(resourceGroup, "pg-failing", "ltr-fail")).toMatchObject({
      status: "Failed",
      errorCode: "DiskFull",
      errorMessage: "No space left.",
    });
  });

  test("when a backup runs, then another name is refused with UserErrorMaxConcurrentOperationLimitReached, the same name with BackupNameAlreadyExists", async () => {
    const id = addServer("pg-running", { numberOfContainers: 1, backup: { outcome: "Running" } });
    const sasUriList = [await sasContainer("run")];
    const poller = await client.backupsLongTermRetention.beginStart(resourceGroup, "pg-running", {
      backupSettings: { backupName: "ltr-run" },
      targetDetails: { sasUriList },
    });
    expect(poller.isDone()).toBe(false);
    // The first poll left a partial file, so a test of cleanup has something to clean.
    expect(await blobSizes("run")).toEqual({ "appdb_database.sql.partial": 100_000 });

    const start = (backupName: string, list = sasUriList) =>
      rejection(client.backupsLongTermRetention.beginStart(resourceGroup, "pg-running", { backupSettings: { backupName }, targetDetails: { sasUriList: list } }));
    expect(await start("ltr-other")).toMatchObject({ statusCode: 409, code: "UserErrorMaxConcurrentOperationLimitReached" });
    expect(await start("ltr-run")).toMatchObject({ statusCode: 409, code: "BackupNameAlreadyExists" });
    expect(await start("ltr-run", [])).toMatchObject({ statusCode: 400, code: "InvalidParameter" });
    expect(await start("ltr-bad", ["not a url"])).toMatchObject({ statusCode: 400, code: "InvalidParameter" });
    expect(arm.operations(id)).toEqual([{ backupName: "ltr-run", status: "Running", sasUriCount: 1, containersWritten: [`ltr-${run}-run`], startRequests: 3 }]);

    // What a client polling by hand sees: the Azure-AsyncOperation status, and 202 + Location from the Location URL.
    const { operationLocation, resourceLocation } = (JSON.parse(poller.toString()) as { state: { config: Record<string, string> } }).state.config;
    const token = await new DefaultAzureCredential().getToken(`${arm.endpoint}/.default`);
    const headers = { authorization: `Bearer ${token.token}` };
    const status = await fetch(operationLocation!, { headers });
    expect(await status.json()).toMatchObject({ name: operationLocation!.split("/").at(-1)!.split("?")[0], status: "InProgress" });
    const location = await fetch(resourceLocation!, { headers });
    expect(location.status).toBe(202);
    expect(location.headers.get("location")).toBe(resourceLocation);
    expect(location.headers.get("retry-after")).toBe("0");
    expect(await location.text()).toBe("");

    // Polling the operation resource also moves it on: with the outcome changed, the next poll completes it.
    arm.updateServer(id, { backup: { outcome: "Succeeded", pollsUntilDone: 0 } });
    expect(await client.backupsLongTermRetention.get(resourceGroup, "pg-running", "ltr-run")).toMatchObject({ status: "Succeeded" });
    expect(await poller.pollUntilDone()).toMatchObject({ status: "Succeeded", backupName: "ltr-run" });
  });
});

const dayMs = 24 * 3600_000;

describe("one backup per server per week (support matrix, Limitation)", () => {
  const startAndWait = (server: string, backupName: string, sasUriList: string[]) =>
    client.backupsLongTermRetention.beginStartAndWait(resourceGroup, server, { backupSettings: { backupName }, targetDetails: { sasUriList } }, { updateIntervalInMs: 10 });

  test("when the server ran a backup less than 7 days ago, then a start is refused with 409 UserErrorMaxConcurrentOperationLimitReached; 7 days after it, one is accepted", async () => {
    const id = addServer("pg-weekly", { numberOfContainers: 1, backup: { outcome: "Succeeded", pollsUntilDone: 0 } });
    const sasUriList = [await sasContainer("weekly")];
    expect(await startAndWait("pg-weekly", "week-1", sasUriList)).toMatchObject({ status: "Succeeded" });
    arm.advanceClock(7 * dayMs - 60_000);
    try {
      expect(await rejection(startAndWait("pg-weekly", "week-1-again", sasUriList))).toMatchObject({
        statusCode: 409,
        code: "UserErrorMaxConcurrentOperationLimitReached",
        message: expect.stringContaining("one long term retention backup per week"),
        details: { error: { details: [expect.objectContaining({ code: "UserErrorMaxConcurrentOperationLimitReached" })] } },
      });
      arm.advanceClock(60_000);
      expect(await startAndWait("pg-weekly", "week-2", sasUriList)).toMatchObject({ status: "Succeeded" });
    } finally {
      arm.advanceClock(-7 * dayMs);
    }
    // The refused start made no operation, so it does not count as the week's backup either.
    expect(arm.operations(id).map((op) => `${op.backupName} ${op.status}`)).toEqual(["week-1 Succeeded", "week-2 Succeeded"]);
  });

  test("when the limit fails the operation instead, then the start is accepted and the operation ends Failed with the code, writing nothing; with the limit off, a second backup runs", async () => {
    const id = addServer("pg-weekly-op", { numberOfContainers: 1, weeklyLimit: "operation", earlierBackupAt: new Date(Date.now() - dayMs) });
    const sasUriList = [await sasContainer("weekly-op")];
    expect(String(await rejection(startAndWait("pg-weekly-op", "refused", sasUriList)))).toContain("UserErrorMaxConcurrentOperationLimitReached");
    expect(await client.backupsLongTermRetention.get(resourceGroup, "pg-weekly-op", "refused")).toMatchObject({
      status: "Failed",
      errorCode: "UserErrorMaxConcurrentOperationLimitReached",
      errorMessage: expect.stringContaining("per week"),
    });
    expect(await blobSizes("weekly-op")).toEqual({});

    arm.updateServer(id, { weeklyLimit: "off" });
    expect(await startAndWait("pg-weekly-op", "unlimited", sasUriList)).toMatchObject({ status: "Succeeded" });
    expect(arm.operations(id).map((op) => `${op.backupName} ${op.status}`)).toEqual(["earlier-backup Succeeded", "refused Failed", "unlimited Succeeded"]);
  });
});

describe("what changes under the app", () => {
  const begin = (server: string, backupName: string, sasUriList: string[]) =>
    client.backupsLongTermRetention.beginStart(resourceGroup, server, { backupSettings: { backupName }, targetDetails: { sasUriList } });

  test("when a server stops while its backup runs, then the operation ends Failed with the outer code and ServerNotReadyForLongTermBackup in its message", async () => {
    const id = addServer("pg-stops", { numberOfContainers: 1, backup: { outcome: "Running" } });
    await begin("pg-stops", "ltr-stops", [await sasContainer("stops")]);
    arm.updateServer(id, { state: "Stopped" });
    expect(await client.backupsLongTermRetention.get(resourceGroup, "pg-stops", "ltr-stops")).toMatchObject({
      status: "Failed",
      errorCode: "PostgreSQLFlexOperationFailedUserError",
      errorMessage: expect.stringMatching(/^ServerNotReadyForLongTermBackup: .*'Stopped'/),
    });
  });

  test("when a server is deleted while its backup runs, then requests under it answer 404 ResourceNotFound, and its operation's status URL says Failed", async () => {
    const id = addServer("pg-deleted", { numberOfContainers: 1, backup: { outcome: "Running" } });
    const poller = await begin("pg-deleted", "ltr-deleted", [await sasContainer("deleted")]);
    arm.deleteServer(id);
    for (const read of [client.servers.get(resourceGroup, "pg-deleted"), client.backupsLongTermRetention.get(resourceGroup, "pg-deleted", "ltr-deleted")]) {
      expect(await rejection(read)).toMatchObject({ statusCode: 404, code: "ResourceNotFound", message: expect.stringContaining("flexibleServers/pg-deleted'") });
    }
    const failure = String(await rejection(poller.pollUntilDone()));
    expect(failure).toContain("PostgreSQLFlexOperationFailedUserError");
    expect(failure).toContain("ResourceNotFound: the server 'pg-deleted' was deleted");
    expect(arm.operations(id)).toMatchObject([{ backupName: "ltr-deleted", status: "Failed" }]);
    // The group stays: its other servers are still there.
    expect((await client.servers.get(resourceGroup, "pg-ready")).id).toBe(serverId);
  });

  test("when a resource group is deleted, then its servers go with it and requests naming it answer 404 ResourceGroupNotFound", async () => {
    arm.addServer({ subscriptionId, resourceGroup: "rg-doomed", name: "pg-doomed-1" });
    arm.addServer({ subscriptionId, resourceGroup: "rg-doomed", name: "pg-doomed-2" });
    expect((await client.servers.get("rg-doomed", "pg-doomed-2")).state).toBe("Ready");
    arm.deleteResourceGroup(subscriptionId, "rg-doomed");
    for (const name of ["pg-doomed-1", "pg-doomed-2"]) {
      expect(await rejection(client.servers.get("rg-doomed", name))).toMatchObject({ statusCode: 404, code: "ResourceGroupNotFound" });
    }
  });

  test("when a change is set for after an operation's next answer, then it runs once, after that operation's next 2xx on that server only", async () => {
    const id = addServer("pg-hook");
    let runs = 0;
    arm.afterNextAnswer(id, "ltrPreBackup", () => {
      runs += 1;
      arm.updateServer(id, { state: "Updating" });
    });
    const preCheck = () => client.backupsLongTermRetention.checkPrerequisites(resourceGroup, "pg-hook", { backupSettings: { backupName: "x" } });
    await client.servers.get(resourceGroup, "pg-hook");
    await client.backupsLongTermRetention.checkPrerequisites(resourceGroup, "pg-ready", { backupSettings: { backupName: "x" } });
    expect(runs).toBe(0);
    // A throttled attempt is no answer to wait for: the change follows the 200 the SDK's retry gets.
    arm.throttleNext(1, 0);
    expect(await requestsDuring(preCheck)).toEqual(["ltrPreBackup 429", "ltrPreBackup 200"]);
    expect(runs).toBe(1);
    expect(await rejection(preCheck())).toMatchObject({ statusCode: 409, details: { error: { details: [expect.objectContaining({ code: "ServerNotReadyForLongTermBackup" })] } } });
    arm.updateServer(id, { state: "Ready" });
    await preCheck();
    expect(runs).toBe(1);
  });
});

describe("the SDK's LRO behaviour", () => {
  test("when a poller is serialized and resumed, then no new start is sent and polling continues the same operation", async () => {
    const id = addServer("pg-resume", { numberOfContainers: 1, backup: { outcome: "Succeeded", pollsUntilDone: 3 } });
    const sasUriList = [await sasContainer("resume")];
    let serialized = "";
    const beginLog = await requestsDuring(async () => {
      const poller = await client.backupsLongTermRetention.beginStart(resourceGroup, "pg-resume", {
        backupSettings: { backupName: "ltr-resume" },
        targetDetails: { sasUriList },
      });
      serialized = poller.toString();
    });
    // beginStart sends the start and polls once before it returns.
    expect(beginLog).toEqual(["startLtrBackup 202", "asyncOperation 200"]);
    // The serialized state is the two URLs the 202 named and the mode: nothing of the request body (no SAS, no
    // container, not even the backup name).
    const urls = arm.requests.filter((r) => r.operation === "asyncOperation").at(-1)!.path;
    expect(JSON.parse(serialized)).toEqual({
      state: {
        status: "running",
        config: {
          metadata: { mode: "OperationLocation" },
          operationLocation: `${arm.endpoint}${urls}?api-version=${armApiVersion}`,
          resourceLocation: `${arm.endpoint}${urls.replace("/azureAsyncOperation/", "/operationResults/")}?api-version=${armApiVersion}`,
        },
      },
    });
    expect(serialized).not.toContain("sig=");
    expect(serialized).not.toContain("ltr-resume");

    let resumed: Awaited<ReturnType<typeof client.backupsLongTermRetention.beginStart>> | undefined;
    const resumeLog = await requestsDuring(async () => {
      resumed = await client.backupsLongTermRetention.beginStart(
        resourceGroup,
        "pg-resume",
        { backupSettings: { backupName: "ignored" }, targetDetails: { sasUriList: [] } },
        { resumeFrom: serialized },
      );
    });
    // No start: the resumed beginStart only polls the stored Azure-AsyncOperation URL once, whatever the parameters.
    expect(resumeLog).toEqual(["asyncOperation 200"]);

    const pollLog: string[][] = [];
    while (!resumed!.isDone()) pollLog.push(await requestsDuring(() => resumed!.poll()));
    // pollsUntilDone 3: begin's poll and resume's poll were InProgress, so were the first poll(); the next succeeds
    // and fetches the result from the Location URL in the same poll().
    expect(pollLog).toEqual([["asyncOperation 200"], ["asyncOperation 200", "operationResult 200"]]);
    expect(resumed!.getResult()).toMatchObject({ backupName: "ltr-resume", status: "Succeeded" });
    expect(arm.operations(id)).toMatchObject([{ backupName: "ltr-resume", status: "Succeeded", startRequests: 1 }]);
  });
});

describe("one identity for Key Vault and ARM", () => {
  test("when the Key Vault stand-in shares the identity endpoint, then one credential gets a token for each, and closing the vault leaves ARM working", async () => {
    const kv = await startKeyVaultServer(inject("tls"), identity);
    const credential = new DefaultAzureCredential();
    try {
      kv.setSecret("shared", "value-1");
      // 127.0.0.1 is no Key Vault host, so the challenge's resource cannot match it (see the notes on the SDKs).
      const secrets = new SecretClient(kv.vaultUrl, credential, { disableChallengeResourceVerification: true });
      expect((await secrets.getSecret("shared")).value).toBe("value-1");
      expect(kv.identityEndpoint).toBe(identity.endpoint);
      expect(kv.requests.filter((r) => r.server === "identity").map((r) => r.resource)).toEqual([keyVaultResource]);
    } finally {
      await kv.close();
    }
    const viaSameCredential = new PostgreSQLManagementFlexibleServerClient(credential, subscriptionId, {
      endpoint: arm.endpoint,
      credentialScopes: [`${arm.endpoint}/.default`],
    });
    expect((await viaSameCredential.servers.get(resourceGroup, "pg-ready")).state).toBe("Ready");
    // Managed-identity tokens are cached per process, not per credential: the ARM token issued earlier was reused.
    expect(new Set(identity.requests.map((r) => r.resource))).toEqual(new Set([arm.endpoint, "https://management.azure.com", keyVaultResource]));
  });
});
