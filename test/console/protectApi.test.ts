/**
 * `POST /api/discoverDatabases` and `POST /api/protectDatabases` (issue 27, "Protect databases") through the real
 * handlers against the suite's PostgreSQL and Azurite: sizes, the protected flag, a failing access check whose
 * grant script, run as an admin, makes the check pass; per-database outcomes of a bulk protect; refusals of bad
 * bodies, of a secret for another server, of a wrong password and of a server that is not there; and the route's
 * role in `appServiceRoles` mode on a host process.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getBackupInstance } from "../../functions/backupInstances";
import { discoverDatabases, protectDatabases } from "../../functions/protectDatabases";
import { putPolicy } from "../../shared/catalog/catalog";
import type { Discovery, ProtectAnswer } from "../../shared/protect/answers";
import { handled, type HttpHandler } from "../../shared/http";
import type { InstanceView } from "../../shared/instanceView";
import { freePort } from "../../local-host/embedded/ports";
import { dailyPolicy, envSecret } from "../support/backupFixture";
import { bodyOf, invocation, request } from "../support/http";
import { callHost, startAppHost, type HostProcess } from "../support/localHost";
import { principalHeader } from "../support/principal";
import { cluster, createBackupRole, createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const call = (handler: HttpHandler, req: ReturnType<typeof request>) => handled(handler)(req, invocation("test"));
const discover = (body: unknown) => call(discoverDatabases, request("POST", "discoverDatabases", { body: body as object }));
const protect = (body: unknown) => call(protectDatabases, request("POST", "protectDatabases", { body: body as object }));

const password = "pw-Disc0very-s3cret";
const role = uniqueName("disc_role");
const ready = uniqueName("disc_ready");
/** Needs grants; its schema name needs quoting. */
const needs = uniqueName("disc_needs");
const oddSchema = 'Odd "schema"; DROP';
const policyName = uniqueName("disc-pol").replaceAll("_", "-");
let secretRef: string;

async function sizeOf(database: string): Promise<number> {
  return withAdmin("postgres", async (c) => Number((await c.query<{ size: string }>(`SELECT pg_database_size($1)::text AS size`, [database])).rows[0]!.size));
}

beforeAll(async () => {
  await createDatabase(ready);
  await createDatabase(needs);
  await withAdmin(ready, (c) => c.query(`CREATE TABLE public.orders (id serial PRIMARY KEY, total numeric); INSERT INTO public.orders (total) SELECT g FROM generate_series(1, 500) g`));
  await createBackupRole(ready, role, password);
  await withAdmin(needs, async (c) => {
    const schema = `"${oddSchema.replaceAll('"', '""')}"`;
    await c.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}."Line items" (id bigserial PRIMARY KEY, qty int); CREATE TABLE public.notes (id int)`);
  });
  secretRef = envSecret(`PGVAULT_SECRET_DISC_${role.toUpperCase()}`, role, password);
  await putPolicy(dailyPolicy(policyName));
});
afterAll(() => dropDatabasesAndRoles([ready, needs], [role]));

describe("discovery", () => {
  test("when a server is discovered, then each database has its size, protected flag and access check, and a failing one its grant script, which run as an admin makes the check pass", async () => {
    const response = await discover({ secretRef });
    expect(response.status).toBe(200);
    const answer = bodyOf<Discovery>(response);
    expect(answer.server).toEqual({ host: cluster().host, port: cluster().port });
    expect(answer.user).toBe(role);
    const names = answer.value.map((d) => d.name);
    expect(names).toContain("postgres");
    expect(names).not.toContain("template0");
    expect(names).not.toContain("template1");

    const readyRow = answer.value.find((d) => d.name === ready)!;
    expect(readyRow).toEqual({ name: ready, sizeBytes: await sizeOf(ready), protected: false, instanceNames: [], access: { ok: true } });

    const needsRow = answer.value.find((d) => d.name === needs)!;
    expect(needsRow.sizeBytes).toBe(await sizeOf(needs));
    expect(needsRow.access).toMatchObject({ ok: false, code: "UserErrorMissingDBPermissions", missingCount: 4 });
    if (needsRow.access.ok) throw new Error("the check passed without grants");
    // public's USAGE is PUBLIC's by default: not missing.
    expect(needsRow.access.missing).toEqual([
      'USAGE on schema "Odd ""schema""; DROP"',
      'SELECT on table "Odd ""schema""; DROP"."Line items"',
      'SELECT on sequence "Odd ""schema""; DROP"."Line items_id_seq"',
      "SELECT on table public.notes",
    ]);
    const q = `"${role}"`;
    const s = '"Odd ""schema""; DROP"';
    expect(needsRow.access.grantScript).toBe(
      [
        "-- pgvault backup access: run as the owner of these objects (or an admin), connected to the database below.",
        `GRANT CONNECT ON DATABASE "${needs}" TO ${q};`,
        ...[s, "\"public\""].flatMap((schema) => [
          `GRANT USAGE ON SCHEMA ${schema} TO ${q};`,
          `GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${q};`,
          `GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${q};`,
          `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT ON TABLES TO ${q};`,
          `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT ON SEQUENCES TO ${q};`,
        ]),
      ].join("\n") + "\n",
    );
    // Nothing of the secret: not its value, not its password.
    expect(JSON.stringify(answer)).not.toContain(password);

    const script = needsRow.access.grantScript!;
    await withAdmin(needs, (c) => c.query(script));
    const again = bodyOf<Discovery>(await discover({ secretRef }));
    expect(again.value.find((d) => d.name === needs)!.access).toEqual({ ok: true });
  });

  test("when a body is wrong, then 400 names each field; a secret for another server, a wrong password or no server there are 422 with their codes, and no secret is repeated", async () => {
    expect(bodyOf(await discover({}))).toMatchObject({ error: { code: "InvalidRequest", details: [{ path: "secretRef" }] } });
    const both = await discover({ secretRef, auth: { type: "entra", user: "x" }, host: cluster().host });
    expect(both.status).toBe(400);
    expect(bodyOf<{ error: { details: { path: string }[] } }>(both).error.details.map((d) => d.path)).toEqual(["auth"]);
    expect((await discover({ secretRef, port: 0, database: "x" })).status).toBe(400);
    expect((await discover({ secretRef: "env:HOME" })).status).toBe(400);

    const elsewhere = await discover({ secretRef, port: cluster().port + 1 });
    expect(elsewhere.status).toBe(422);
    expect(bodyOf(elsewhere)).toMatchObject({ error: { code: "UserErrorSecretServerMismatch" } });

    const wrong = envSecret(`PGVAULT_SECRET_DISC_WRONG_${role.toUpperCase()}`, role, "not-the-password");
    const refused = await discover({ secretRef: wrong });
    expect(refused.status).toBe(422);
    expect(bodyOf(refused)).toMatchObject({ error: { code: "UserErrorDBUserAuthFailed" } });
    expect(JSON.stringify(bodyOf(refused))).not.toContain("not-the-password");

    const nowhere = envSecret(`PGVAULT_SECRET_DISC_NOWHERE_${role.toUpperCase()}`, role, password, { ...cluster(), port: await freePort() });
    const unreachable = await discover({ secretRef: nowhere });
    expect(unreachable.status).toBe(422);
    expect(bodyOf(unreachable)).toMatchObject({ error: { code: "UserErrorServerUnreachable" } });
  });
});

describe("protecting several databases", () => {
  test("when databases are protected in one request, then each is answered on its own: created, refused by its access check, not found, or a name in use", async () => {
    const fresh = uniqueName("disc_fresh");
    await createDatabase(fresh);
    await withAdmin(fresh, (c) => c.query(`CREATE TABLE public.secret_stuff (id int)`));
    const ours = uniqueName("disc-ok").replaceAll("_", "-");
    const refusedName = uniqueName("disc-no").replaceAll("_", "-");
    const response = await protect({
      policyName,
      server: { host: cluster().host, port: cluster().port, secretRef },
      databases: [
        { database: ready, instanceName: ours },
        { database: fresh, instanceName: refusedName },
        { database: "disc_no_such_database", instanceName: uniqueName("disc-gone").replaceAll("_", "-") },
      ],
    });
    expect(response.status).toBe(200);
    const answer = bodyOf<ProtectAnswer<InstanceView>>(response);
    expect(answer.protected).toBe(1);
    expect(answer.failed).toBe(2);
    expect(answer.value.map((o) => [o.database, o.result, o.status])).toEqual([
      [ready, "created", 201],
      [fresh, "failed", 422],
      ["disc_no_such_database", "failed", 422],
    ]);
    const [created, noGrants, gone] = answer.value;
    if (!created || created.result === "failed" || noGrants?.result !== "failed" || gone?.result !== "failed") throw new Error("unexpected outcomes");
    expect(created.instance).toMatchObject({ name: ours, policyName, protectionState: "ProtectionConfigured", datasource: { type: "database", database: ready, secretRef } });
    expect(noGrants.error).toMatchObject({ code: "UserErrorMissingDBPermissions", message: expect.stringContaining("SELECT on table public.secret_stuff") });
    expect(gone.error.code).toBe("UserErrorDBNotFound");
    expect(JSON.stringify(answer)).not.toContain(password);
    const stored = await call(getBackupInstance, request("GET", `backupInstances/${ours}`, { params: { name: ours } }));
    expect(stored.status).toBe(200);
    expect((await call(getBackupInstance, request("GET", `backupInstances/${refusedName}`, { params: { name: refusedName } }))).status).toBe(404);

    // Discovery now shows it protected; the same name for another database is refused, and the instance kept.
    const discovered = bodyOf<Discovery>(await discover({ secretRef }));
    expect(discovered.value.find((d) => d.name === ready)).toMatchObject({ protected: true, instanceNames: [ours] });
    const again = bodyOf<ProtectAnswer<InstanceView>>(await protect({ policyName, server: { secretRef }, databases: [{ database: ready, instanceName: ours }, { database: needs, instanceName: ours.replace("disc-ok", "disc-ok2") }] }));
    expect(again.value.map((o) => o.result)).toEqual(["updated", "created"]);
    const clash = bodyOf<ProtectAnswer<InstanceView>>(await protect({ policyName, server: { secretRef }, databases: [{ database: fresh, instanceName: ours }] }));
    expect(clash.value[0]).toMatchObject({ result: "failed", status: 409, error: { code: "Conflict" } });
    expect(bodyOf<InstanceView>(await call(getBackupInstance, request("GET", `backupInstances/${ours}`, { params: { name: ours } }))).datasource).toMatchObject({ database: ready });
    await dropDatabasesAndRoles([fresh], []);
  });

  test("when the body is wrong or the policy is missing or of the other kind, then 400 before anything is checked", async () => {
    const server = { secretRef };
    const duplicate = await protect({ policyName, server, databases: [{ database: "a", instanceName: "same-name" }, { database: "b", instanceName: "same-name" }] });
    expect(duplicate.status).toBe(400);
    expect(bodyOf<{ error: { details: { path: string }[] } }>(duplicate).error.details.map((d) => d.path)).toEqual(["databases[1].instanceName"]);
    const empty = await protect({ policyName, server, databases: [] });
    expect(bodyOf<{ error: { details: { path: string }[] } }>(empty).error.details.map((d) => d.path)).toEqual(["databases"]);
    const badName = await protect({ policyName, server: {}, databases: [{ database: "a", instanceName: "A_B" }] });
    expect(bodyOf<{ error: { details: { path: string }[] } }>(badName).error.details.map((d) => d.path)).toEqual(["server.secretRef", "databases[0].instanceName"]);
    const missing = await protect({ policyName: "disc-no-such-policy", server, databases: [{ database: ready, instanceName: "disc-never" }] });
    expect(missing.status).toBe(400);
    expect(bodyOf(missing)).toMatchObject({ error: { details: [{ path: "policyName", message: "backup policy 'disc-no-such-policy' does not exist" }] } });
    const flexPolicy = uniqueName("disc-flex").replaceAll("_", "-");
    await putPolicy({ ...dailyPolicy(flexPolicy), datasourceType: "flexibleServer" });
    expect(bodyOf(await protect({ policyName: flexPolicy, server, databases: [{ database: ready, instanceName: "disc-never" }] }))).toMatchObject({ error: { details: [{ path: "policyName" }] } });
  });
});

describe("roles", () => {
  let host: HostProcess;
  beforeAll(async () => {
    host = await startAppHost({ AUTH_MODE: "appServiceRoles" });
  });
  afterAll(() => host?.kill("SIGTERM"));

  test.each(["discoverDatabases", "protectDatabases"])("when a Reader or an Operator calls %s, then 403; an Admin gets past to the body check (400)", async (route) => {
    const as = async (roles: string[]) => {
      const response = await fetch(`${host.origin}/api/${route}`, { method: "POST", headers: { "content-type": "application/json", "x-ms-client-principal": principalHeader(roles) }, body: "{}" });
      return { status: response.status, json: (await response.json()) as { error: { code: string } } };
    };
    for (const roles of [["Backup.Reader"], ["Backup.Operator"]]) {
      const answer = await as(roles);
      expect(answer.status).toBe(403);
      expect(answer.json.error.code).toBe("Forbidden");
    }
    expect((await as(["Backup.Admin"])).status).toBe(400);
    expect((await callHost(host.origin, "POST", `/api/${route}`, {})).status).toBe(401);
  });
});
