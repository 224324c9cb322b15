/**
 * Hostile input (issue 8): every HTTP route, through its real handler with real HttpRequest objects, gets
 * property-based input (fast-check): route names, query strings, and bodies of every shape, with connection
 * strings, SAS URLs, resource ids, durations, intervals, time zones, unicode, huge numbers and `__proto__` keys in
 * every field. Whatever arrives: no 5xx, no thrown error, every failure in the spec's error shape, and no answer
 * quotes a password or SAS signature that was sent.
 *
 * The vault is a private Azurite (requests that pass validation write to it), seeded so that valid-looking
 * requests stay harmless: the one policy protects `database` sources (a Flexible Server body is refused before
 * any ARM call), the only resolvable secret names 127.0.0.1:1 (refused at once), and durable starts go to a
 * stand-in that only records them. Policies a run creates are deleted again.
 *
 * Where credentials may go (issue 20) is fuzzed too: bodies with and without host and port, with the secret of
 * 127.0.0.1:1 and a host or port of an attacker's listening socket, `auth: entra` on that socket's host and on Azure
 * PostgreSQL names and look-alikes, `env:` names inside and outside PGVAULT_SECRET_, and vaults KEY_VAULT_HOSTS
 * does not list. Whatever arrives, the socket never sees a connection, and the managed-identity stand-in is asked
 * for a token only for a body whose host is an Azure Database for PostgreSQL name (it refuses them all).
 */
import { HttpRequest, type HttpResponseInit } from "@azure/functions";
import type { DurableClient } from "durable-functions";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { backupCenter } from "../../functions/backupCenter";
import { deleteBackupInstance, getBackupInstance, listBackupInstances, putBackupInstance } from "../../functions/backupInstances";
import { deleteBackupPolicy, getBackupPolicy, listBackupPolicies, putBackupPolicy } from "../../functions/backupPolicies";
import { health } from "../../functions/health";
import { cancelJobHandler, getJobById, listJobsHandler } from "../../functions/jobs";
import { startOnDemandBackup } from "../../functions/onDemandBackup";
import { deleteInstanceRecoveryPoint, getInstanceRecoveryPoint, listInstanceRecoveryPoints, undeleteInstanceRecoveryPoint } from "../../functions/recoveryPoints";
import { startRestore } from "../../functions/restore";
import { startVerify } from "../../functions/verify";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { deletePolicy, getPolicy, putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { updateJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, BackupPolicy, DumpRecoveryPoint } from "../../shared/domain";
import { handled, type HttpHandler } from "../../shared/http";
import { startConnectionRecorder, type ConnectionRecorder } from "../support/connectionRecorder";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { startIdentityEndpoint, type IdentityEndpoint } from "../support/identityEndpoint";
import { invocation } from "../support/http";
import { hostileBody, hostileName, hostileQuery, hostileString, secretMarkers, secretSeeds } from "../support/hostileInput";
import { specExamplePolicy } from "../support/specExamples";
import { azurePostgresHostPatterns, postgresTokenScope } from "../../shared/postgres/entraSignIn";
import { matchesHostPattern } from "../../shared/network/hostNames";

const numRuns = Number(process.env.PGVAULT_FUZZ_RUNS ?? 60);
const fuzzSecretSetting = "PGVAULT_SECRET_FUZZ_PG";

const policy: BackupPolicy = {
  name: "fz-database-policy",
  datasourceType: "database",
  schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00+00:00/P1D"], timeZone: "Europe/Berlin" },
  retention: { default: { duration: "P30D" }, rules: [{ tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" }] },
};
const unreachable = { type: "database", host: "127.0.0.1", port: 1, database: "sales", secretRef: `env:${fuzzSecretSetting}` } as const;
const instance: BackupInstance = {
  name: "fz-instance",
  policyName: policy.name,
  datasource: unreachable,
  protectionState: "ProtectionConfigured",
  createdAt: "2026-01-01T00:00:00Z",
};
const recoveryPoint: DumpRecoveryPoint = {
  id: "rp-20260104T023007Z-1a2b3c4d",
  instanceName: instance.name,
  time: "2026-01-04T02:30:07Z",
  tag: "Default",
  expiresAt: "2036-01-04T02:30:07Z",
  status: "Available",
  sizeBytes: 1,
  sha256: "0".repeat(64),
  format: "pg_dump-custom",
  serverVersion: "15.18",
  toolVersion: "pg_dump 15.18",
  blobs: [`backups/${instance.name}/rp-20260104T023007Z-1a2b3c4d/sales.dump`],
};
const queuedJobId = "backup-fz-instance-20260104T023007Z-00000000";
/** Names of what the seeded catalog holds: read-only routes get them; routes that change or delete never do. */
const knownNames = [policy.name, instance.name];

let vault: AzuriteInstance;
let durable: DurableClientStandIn;
/** The attacker's server: a body may name it, but nothing may ever connect to it. */
let foreign: ConnectionRecorder;
let identity: IdentityEndpoint;

beforeAll(async () => {
  [vault, foreign, identity] = await Promise.all([startAzurite(), startConnectionRecorder(), startIdentityEndpoint()]);
  // Before any app module reads its configuration: this file's vault is its own, and so are its reference rules.
  process.env.VaultStorage = vault.connectionString;
  process.env.KEY_VAULT_HOSTS = "myvault.vault.azure.net";
  process.env[fuzzSecretSetting] = "postgres://backup:S3cr3tXYZ@127.0.0.1:1/sales?sslmode=disable";
  // A setting outside PGVAULT_SECRET_ that holds working-looking credentials for the attacker's server.
  process.env.FOREIGN_PG = `postgres://backup:S3cr3tXYZ@127.0.0.1:${foreign.port}/sales`;
  // Every token the app asks for is counted, and refused: an Azure PostgreSQL name is never looked up.
  identity.answerFor(postgresTokenScope.replace(/\/\.default$/, ""), { refuse: true });
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  durable = await startDurableClientStandIn();
  await putPolicy(policy);
  await putInstance(instance);
  await putRecoveryPoint(recoveryPoint);
  await updateJob(queuedJobId, { operation: "Backup", trigger: "OnDemand", instanceName: instance.name, status: "Queued", phase: "Queued", startTime: "2026-01-04T02:30:07Z", bytes: 0 });
});
afterAll(async () => {
  await durable?.close();
  await vault?.stop();
  await Promise.all([foreign?.close(), identity?.close()]);
  delete process.env.IDENTITY_ENDPOINT;
  delete process.env.IDENTITY_HEADER;
});

interface Call {
  params?: Record<string, string>;
  query?: [string, string][];
  body?: string;
}

function hostileRequest(method: string, route: string, call: Call): HttpRequest {
  const query = new URLSearchParams(call.query ?? []).toString();
  return new HttpRequest({
    method,
    url: `http://127.0.0.1:7071/api/${route}${query ? `?${query}` : ""}`,
    headers: call.body === undefined ? {} : { "content-type": "application/json" },
    params: call.params ?? {},
    body: call.body === undefined ? undefined : { string: call.body },
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `{ error: { code, message, details?: [{ path, message }], recommendedAction? } }` and nothing else. */
function isSpecError(body: unknown): boolean {
  if (!isRecord(body) || Object.keys(body).join() !== "error" || !isRecord(body.error)) return false;
  const { code, message, details, recommendedAction, ...rest } = body.error;
  return (
    Object.keys(rest).length === 0 &&
    typeof code === "string" &&
    /^[A-Za-z]+$/.test(code) &&
    typeof message === "string" &&
    message !== "" &&
    (recommendedAction === undefined || typeof recommendedAction === "string") &&
    (details === undefined ||
      (Array.isArray(details) &&
        details.length > 0 &&
        details.every((d) => isRecord(d) && Object.keys(d).sort().join() === "message,path" && typeof d.path === "string" && typeof d.message === "string")))
  );
}

/** What every answer to hostile input must be. */
function expectSafe(response: HttpResponseInit): void {
  const status = response.status ?? 200;
  const shown = JSON.stringify({ status, body: response.jsonBody ?? response.body ?? null, headers: response.headers ?? {} });
  expect(status, shown).toBeGreaterThanOrEqual(200);
  expect(status, shown).toBeLessThan(500);
  if (status >= 400) expect(isSpecError(response.jsonBody), shown).toBe(true);
  for (const marker of secretMarkers) expect(shown).not.toContain(marker);
}

type PlainHandler = HttpHandler;
type ClientHandler = (request: HttpRequest, client: DurableClient, context: ReturnType<typeof invocation>) => Promise<HttpResponseInit>;

const callPlain = (handler: PlainHandler, request: HttpRequest) => handled(handler)(request, invocation("fuzz"));
/** Wrapped in `handled` as deleteRecoveryPoint registers it (the others answer their errors themselves). */
function callClient(handler: ClientHandler, request: HttpRequest): Promise<HttpResponseInit> {
  const { client, context } = durable.client("fuzz");
  return handled(handler)(request, client, context);
}

interface CheckOptions {
  runs?: number;
  /** Calls tried first, as they are: valid ones that get past validation to the catalog and the durable client. */
  examples?: Call[];
  /** Statuses the run must have produced (the examples guarantee them): proof the fuzzing went past validation. */
  reaches?: number[];
}

/** Runs `run` on `arbitrary`'s calls: every answer must pass expectSafe. */
async function check(arbitrary: fc.Arbitrary<Call>, run: (call: Call) => Promise<HttpResponseInit>, options: CheckOptions = {}): Promise<void> {
  const seen = new Set<number>();
  await fc.assert(
    fc.asyncProperty(arbitrary, async (call) => {
      const response = await run(call);
      expectSafe(response);
      seen.add(response.status ?? 200);
    }),
    { numRuns: options.runs ?? numRuns, examples: (options.examples ?? []).map((call): [Call] => [call]) },
  );
  for (const status of options.reaches ?? []) expect([...seen]).toContain(status);
}

/** The spec's policy with a second, six-hourly interval, so fuzzed schedules start from a multi-interval shape. */
const policyTemplate = {
  ...specExamplePolicy(),
  schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00+00:00/P1D", "R/2026-01-05T14:00:00Z/PT6H"], timeZone: "Europe/Berlin" },
};
/** A datasource or target signing in as the app's Entra identity on `host`. */
const entraOn = (host: string) => ({ type: "database", host, port: 5432, database: "sales", auth: { type: "entra", user: "pgvault-prod-id" } });
/** The attacker's socket, named by templates built once it listens. */
const foreignHost = "127.0.0.1";
const instanceTemplates = () => [
  { policyName: policy.name, datasource: unreachable },
  { policyName: policy.name, datasource: { type: "database", database: "sales", secretRef: unreachable.secretRef } },
  { policyName: policy.name, datasource: { type: "database", host: foreignHost, port: foreign.port, database: "sales", secretRef: unreachable.secretRef } },
  { policyName: policy.name, datasource: { type: "database", host: foreignHost, port: foreign.port, database: "sales", secretRef: "env:FOREIGN_PG" } },
  { policyName: policy.name, datasource: entraOn(foreignHost) },
  { policyName: policy.name, datasource: entraOn("pg-sales.postgres.database.azure.com") },
  { policyName: policy.name, datasource: { type: "database", host: "pg.example.com", port: 5432, database: "sales", secretRef: "https://myvault.vault.azure.net/secrets/sales-backup?sig=SIGSECRETXYZ" } },
  {
    policyName: policy.name,
    datasource: { type: "flexibleServer", resourceId: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-sales-01" },
  },
];
const restoreTemplates = () => [
  {
    recoveryPointId: recoveryPoint.id,
    target: { type: "database", host: "127.0.0.1", port: 1, database: "sales_restored", secretRef: "env:PGVAULT_SECRET_TARGET_PG", overwrite: false, preserveOwnership: false },
  },
  { recoveryPointId: recoveryPoint.id, target: { type: "database", host: foreignHost, port: foreign.port, database: "sales_restored", secretRef: unreachable.secretRef } },
  { recoveryPointId: recoveryPoint.id, target: { ...entraOn(foreignHost), database: "sales_restored" } },
  { recoveryPointId: recoveryPoint.id, target: { type: "blob", containerUrl: "https://acct.blob.core.windows.net/restores", prefix: "sales/" } },
];

/** The host a body's datasource or target names, if it names one as text. */
function hostIn(body: string | undefined): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body ?? "");
    if (!isRecord(parsed)) return undefined;
    const endpoint = isRecord(parsed.datasource) ? parsed.datasource : parsed.target;
    return isRecord(endpoint) && typeof endpoint.host === "string" ? endpoint.host : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a call and holds it to where credentials may go: no connection to the attacker's socket, and a token asked
 * for only when the body named an Azure Database for PostgreSQL host (the only hosts Entra sign-in may reach here).
 */
async function credentialsStayHome(call: Call, run: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  const before = { connections: foreign.connections, tokens: identity.requests.length };
  const response = await run();
  expect(foreign.connections, call.body).toBe(before.connections);
  const host = hostIn(call.body);
  const mayAskForToken = host !== undefined && azurePostgresHostPatterns.some((pattern) => matchesHostPattern(host, pattern));
  if (!mayAskForToken) expect(identity.requests.length, call.body).toBe(before.tokens);
  return response;
}

const nameParam = (known: readonly string[] = []) => hostileName(known).map((name) => ({ name }));
const bodyOf = (templates: readonly unknown[]) => fc.oneof(...templates.map((template) => hostileBody(template)));

describe("when a route gets hostile input, then it answers within the spec and never echoes a secret", () => {
  const valid = (name: string, body?: unknown): Call => ({ params: { name }, body: body === undefined ? undefined : JSON.stringify(body), query: [] });

  test("PUT /backupPolicies/{name}", async () => {
    const encrypted = [
      { ...policyTemplate, encryption: { keyRef: "https://myvault.vault.azure.net/keys/backup-key" } },
      { ...policyTemplate, encryption: { keyRef: "env:PGVAULT_FUZZ_KEY" } },
    ];
    const arbitrary = fc.record({ params: nameParam(), body: bodyOf([policyTemplate, ...encrypted]), query: hostileQuery() });
    await check(
      arbitrary,
      async (call) => {
        const response = await callPlain(putBackupPolicy, hostileRequest("PUT", "backupPolicies/x", call));
        // A policy this run created goes again, so no later request can meet it.
        const name = call.params?.name;
        if ((response.status === 200 || response.status === 201) && name && !knownNames.includes(name)) await deletePolicy(name);
        return response;
      },
      { examples: [valid("fz-example-policy", policyTemplate), ...encrypted.map((body) => valid("fz-example-encrypted", body))], reaches: [201, 400] },
    );
    expect(await getPolicy(policy.name)).toEqual(policy);
  });

  test("GET and DELETE /backupPolicies/{name}, GET /backupPolicies", async () => {
    await check(fc.record({ params: nameParam(knownNames), query: hostileQuery() }), (call) => callPlain(getBackupPolicy, hostileRequest("GET", "backupPolicies/x", call)), {
      examples: [valid(policy.name)],
      reaches: [200, 404],
    });
    await check(fc.record({ params: nameParam(), query: hostileQuery() }), (call) => callPlain(deleteBackupPolicy, hostileRequest("DELETE", "backupPolicies/x", call)));
    await check(fc.record({ query: hostileQuery() }), (call) => callPlain(listBackupPolicies, hostileRequest("GET", "backupPolicies", call)), { runs: 10 });
  });

  test("PUT /backupInstances/{name}", async () => {
    // Whatever host a body names, the one resolvable secret names 127.0.0.1:1: nothing else is ever connected to.
    const templates = instanceTemplates();
    const arbitrary = fc.record({ params: nameParam(), body: bodyOf(templates), query: hostileQuery() });
    await check(arbitrary, (call) => credentialsStayHome(call, () => callPlain(putBackupInstance, hostileRequest("PUT", "backupInstances/x", call))), {
      examples: templates.map((body, i) => valid(`fz-example-instance-${i}`, body)),
      reaches: [400, 422],
    });
    // The Entra path was reached (the Azure-named example asked for a token, refused), and nothing ever reached the socket.
    expect(identity.requests.length).toBeGreaterThan(0);
    expect(foreign.connections).toBe(0);
  });

  test("GET and DELETE /backupInstances/{name}, GET /backupInstances", async () => {
    await check(fc.record({ params: nameParam(knownNames), query: hostileQuery() }), (call) => callPlain(getBackupInstance, hostileRequest("GET", "backupInstances/x", call)), {
      examples: [valid(instance.name)],
      reaches: [200, 404],
    });
    await check(fc.record({ params: nameParam(), query: hostileQuery(["deleteBackups"]) }), (call) =>
      callPlain(deleteBackupInstance, hostileRequest("DELETE", "backupInstances/x", call)),
    );
    await check(fc.record({ query: hostileQuery() }), (call) => callPlain(listBackupInstances, hostileRequest("GET", "backupInstances", call)), { runs: 10 });
  });

  test("POST /backupInstances/{name}/backup", async () => {
    const arbitrary = fc.record({ params: nameParam(knownNames), body: bodyOf([{ retentionTag: "Weekly" }, { retentionTag: "Default" }]), query: hostileQuery() });
    await check(arbitrary, (call) => callClient(startOnDemandBackup, hostileRequest("POST", "backupInstances/x/backup", call)), {
      examples: [valid(instance.name), valid(instance.name, { retentionTag: "Weekly" })],
      reaches: [202],
    });
  });

  test("POST /backupInstances/{name}/restore", async () => {
    const templates = restoreTemplates();
    const arbitrary = fc.record({ params: nameParam(knownNames), body: bodyOf(templates), query: hostileQuery() });
    await check(arbitrary, (call) => credentialsStayHome(call, () => callClient(startRestore, hostileRequest("POST", "backupInstances/x/restore", call))), {
      examples: templates.map((body) => valid(instance.name, body)),
      reaches: [202],
    });
  });

  test("POST /backupInstances/{name}/verify", async () => {
    const arbitrary = fc.record({ params: nameParam(knownNames), body: bodyOf([{ recoveryPointId: recoveryPoint.id }, {}]), query: hostileQuery() });
    await check(arbitrary, (call) => callClient(startVerify, hostileRequest("POST", "backupInstances/x/verify", call)), {
      examples: [valid(instance.name), valid(instance.name, { recoveryPointId: recoveryPoint.id })],
      reaches: [202],
    });
  });

  test("GET /backupInstances/{name}/recoveryPoints[/{rpId}], DELETE .../{rpId}, POST .../{rpId}/undelete", async () => {
    await check(fc.record({ params: nameParam(knownNames), query: hostileQuery() }), (call) =>
      callPlain(listInstanceRecoveryPoints, hostileRequest("GET", "backupInstances/x/recoveryPoints", call)),
    );
    const rpId = fc.oneof(fc.constant(recoveryPoint.id), fc.stringMatching(/^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$/), hostileString);
    const params = fc.record({ name: hostileName(knownNames), rpId });
    await check(fc.record({ params, query: hostileQuery() }), (call) => callPlain(getInstanceRecoveryPoint, hostileRequest("GET", "backupInstances/x/recoveryPoints/y", call)), {
      examples: [{ params: { name: instance.name, rpId: recoveryPoint.id } }],
      reaches: [200],
    });
    // The seeded point may be soft-deleted and brought back along the way; restore runs before, and takes both.
    await check(fc.record({ params, query: hostileQuery(), body: hostileBody({}) }), (call) =>
      callClient(deleteInstanceRecoveryPoint, hostileRequest("DELETE", "backupInstances/x/recoveryPoints/y", call)),
    { examples: [{ params: { name: instance.name, rpId: recoveryPoint.id } }], reaches: [204] });
    await check(fc.record({ params, query: hostileQuery(), body: hostileBody({}) }), (call) =>
      callPlain(undeleteInstanceRecoveryPoint, hostileRequest("POST", "backupInstances/x/recoveryPoints/y/undelete", call)),
    { examples: [{ params: { name: instance.name, rpId: recoveryPoint.id } }], reaches: [200] });
  });

  test("GET /jobs, GET /jobs/{id}, POST /jobs/{id}/cancel", async () => {
    const listQuery = hostileQuery(["instanceName", "operation", "status", "from", "to", "top", "skipToken", "code"]);
    await check(fc.record({ query: listQuery }), (call) => callPlain(listJobsHandler, hostileRequest("GET", "jobs", call)), {
      examples: [{ query: [["instanceName", instance.name], ["top", "1"]] }],
      reaches: [200],
    });
    const id = fc.oneof(fc.constant(queuedJobId), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}$/), hostileString);
    await check(fc.record({ params: fc.record({ id }), query: hostileQuery() }), (call) => callPlain(getJobById, hostileRequest("GET", "jobs/x", call)), {
      examples: [{ params: { id: queuedJobId } }],
      reaches: [200],
    });
    await check(fc.record({ params: fc.record({ id }), query: hostileQuery(), body: hostileBody({}) }), (call) => callClient(cancelJobHandler, hostileRequest("POST", "jobs/x/cancel", call)), {
      examples: [{ params: { id: queuedJobId } }],
      reaches: [202],
    });
  });

  test("GET /backup-center and GET /health", async () => {
    await check(
      fc.record({ query: hostileQuery(["code"]) }),
      async (call) => {
        const response = await handled(backupCenter)(hostileRequest("GET", "backup-center", call), invocation("fuzz"));
        expect(response.status).toBe(200);
        return response;
      },
      { runs: 10 },
    );
    await check(fc.record({ query: hostileQuery() }), (call) => health(hostileRequest("GET", "health", call), invocation("fuzz")), { runs: 5 });
  });
});

describe("the body cap", () => {
  const big = JSON.stringify({ ...policyTemplate, pad: "x".repeat(64 * 1024) });

  test("when a body is over 64 KiB, then it is refused with 413 before it is parsed or validated", async () => {
    const response = await callPlain(putBackupPolicy, hostileRequest("PUT", "backupPolicies/x", { params: { name: "big-policy" }, body: big }));
    expect(response.status).toBe(413);
    expect(response.jsonBody).toEqual({ error: { code: "InvalidRequest", message: "The request is not valid.", details: [{ path: "$", message: "the body is larger than 64 KiB" }] } });
    expect(await getPolicy("big-policy")).toBeUndefined();
  });

  test("when the declared length is over 64 KiB, then it is refused even if the body is small", async () => {
    const request = new HttpRequest({
      method: "POST",
      url: "http://127.0.0.1:7071/api/backupInstances/fz-instance/backup",
      headers: { "content-type": "application/json", "content-length": String(1024 * 1024) },
      params: { name: instance.name },
      body: { string: "{}" },
    });
    expect((await callClient(startOnDemandBackup, request)).status).toBe(413);
  });

  test("when a body is 64 KiB of multi-byte characters (fewer characters than bytes), then the byte count decides", async () => {
    const body = JSON.stringify({ retentionTag: "é".repeat(33 * 1024) });
    expect(body.length).toBeLessThan(64 * 1024);
    const response = await callClient(startOnDemandBackup, hostileRequest("POST", "backupInstances/x/backup", { params: { name: instance.name }, body }));
    expect(response.status).toBe(413);
  });
});

describe("secrets sent by mistake", () => {
  test.each(secretSeeds.filter((seed) => !seed.startsWith("/") && !seed.startsWith("R/")))(
    "when secretRef is %j, then the refusal names the problem without quoting the value",
    async (secretRef) => {
      const body = JSON.stringify({ policyName: policy.name, datasource: { ...unreachable, secretRef } });
      const response = await callPlain(putBackupInstance, hostileRequest("PUT", "backupInstances/x", { params: { name: "fz-mistake" }, body }));
      expect([400, 422]).toContain(response.status);
      expectSafe(response);
    },
  );
});

describe("bugs the fuzzing found", () => {
  const put = (body: unknown) => callPlain(putBackupPolicy, hostileRequest("PUT", "backupPolicies/x", { params: { name: "fz-found" }, body: JSON.stringify(body) }));
  const detailsOf = (response: HttpResponseInit) => (response.jsonBody as { error: { details: { path: string; message: string }[] } }).error.details;

  test("when an unknown property's name is a connection string, then the refusal reports it on its parent without the name", async () => {
    const response = await put({ ...policyTemplate, schedule: { ...policyTemplate.schedule, "postgres://u:S3cr3tXYZ@h/db": 1 } });
    expect(detailsOf(response)).toEqual([{ path: "schedule", message: "has a property that is not known (its name is not repeated here)" }]);
    const root = await put({ ...policyTemplate, "Password=S3cr3tXYZ": 1 });
    expect(detailsOf(root)).toEqual([{ path: "$", message: "has a property that is not known (its name is not repeated here)" }]);
  });

  test("when the time zone holds a connection string, then it is refused without being quoted; a plain wrong zone still is", async () => {
    const secret = await put({ ...policyTemplate, schedule: { ...policyTemplate.schedule, timeZone: "Server=h;Password=S3cr3tXYZ" } });
    expect(detailsOf(secret)).toEqual([{ path: "schedule.timeZone", message: "the value given is not an IANA time zone" }]);
    const plain = await put({ ...policyTemplate, schedule: { ...policyTemplate.schedule, timeZone: "Mars/Olympus" } });
    expect(detailsOf(plain)).toEqual([{ path: "schedule.timeZone", message: "'Mars/Olympus' is not an IANA time zone" }]);
  });

  test("when GET /jobs has more pages, then nextLink carries the filters only: no function key, nothing else that was sent", async () => {
    const query: [string, string][] = [["instanceName", instance.name], ["top", "1"], ["code", "function-key-SIGSECRETXYZ"], ["x", "postgres://u:S3cr3tXYZ@h/db"]];
    const response = await callPlain(listJobsHandler, hostileRequest("GET", "jobs", { query }));
    const nextLink = (response.jsonBody as { nextLink: string }).nextLink;
    expect([...new URL(nextLink, "http://x").searchParams.keys()]).toEqual(["instanceName", "top", "skipToken"]);
    expectSafe(response);
  });

  test("when GET /jobs names an instance no job can have, then 400 on instanceName; * (retention runs) is a name", async () => {
    const refused = await callPlain(listJobsHandler, hostileRequest("GET", "jobs", { query: [["instanceName", "\u0000'; x"]] }));
    expect(detailsOf(refused)).toEqual([{ path: "instanceName", message: "must be a backup instance name (or * for retention runs)" }]);
    expect((await callPlain(listJobsHandler, hostileRequest("GET", "jobs", { query: [["instanceName", "*"]] }))).status).toBe(200);
  });
});
