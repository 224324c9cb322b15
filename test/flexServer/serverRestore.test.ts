/**
 * A Flexible Server point restored to another PostgreSQL server (issue 21): the ARM stand-in backs up three
 * databases of the test cluster with the real pg_dump (one owned by a role the target lacks, one with grants to a
 * role the target lacks), and the restore orchestration, through durable-functions' replay with the real
 * activities, restores them into a second, separate cluster whose restoring user is not a superuser (as an Azure
 * server's administrator is not). Each restored database is compared with its source: schema dump and per-table
 * checksums. The tests run in order: the roles the source has are missing on the target until the createMissing test.
 */
import { BlockBlobClient, BlobServiceClient } from "@azure/storage-blob";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startPostgresCluster, type PostgresCluster } from "../../local-host/embedded/postgres";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putInstance } from "../../shared/catalog/catalog";
import { getJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, LtrRecoveryPoint, ServerRestoreTarget } from "../../shared/domain";
import { ltrDatabaseFiles } from "../../shared/flexServer/ltrFiles";
import { temporaryDatabaseName } from "../../shared/restore/databaseRestore";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { envSecret } from "../support/backupFixture";
import { asLtrPoint, protectFlexServer, runFlexBackup } from "../support/flexFixture";
import { runRestore } from "../support/restoreFixture";
import { startRestore } from "../../functions/restore";
import type { DryRunAnswer } from "../../shared/restore/preflight/dryRun";
import { startDurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, request } from "../support/http";
import { runVerify } from "../support/verifyFixture";
import { cluster, contentFingerprint, createDatabase, databasesUnder, schemaDump, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const subscriptionId = "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
const vault = () => BlobServiceClient.fromConnectionString(inject("vaultConnectionString"));
const ident = pg.escapeIdentifier;

let arm: ArmTestServer;
let target: PostgresCluster;
/** The target's restoring user: CREATEDB and CREATEROLE, not a superuser. */
let restorer: { role: string; secretRef: string };
/** Source roles that the target does not have. */
const owner = uniqueName("flex_owner");
const reader = uniqueName("flex_reader");
/** The three source databases: a rich one, one owned by `owner`, one with grants to `reader`. */
const databases = { rich: uniqueName("flex_rich"), owned: uniqueName("flex_owned"), granted: uniqueName("flex_granted") };
let rp: LtrRecoveryPoint;
let instance: BackupInstance;

beforeAll(async () => {
  ({ arm } = await useArmStandIn(inject("tls")));
  target = await startPostgresCluster();
  const role = uniqueName("flex_restorer");
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB CREATEROLE PASSWORD 'pw-target'`), target);
  restorer = { role, secretRef: envSecret(`PGVAULT_SECRET_${role}`, role, "pw-target", target) };

  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${owner} LOGIN CREATEDB PASSWORD 'owner-secret' VALID UNTIL 'infinity'; CREATE ROLE ${reader} NOLOGIN BYPASSRLS`));
  await createDatabase(databases.rich);
  await seedRichDatabase(databases.rich);
  await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${databases.owned} OWNER ${owner}`));
  await withAdmin(databases.owned, (c) =>
    c.query(`SET ROLE ${owner};
             CREATE SCHEMA app;
             CREATE TABLE app.accounts (id serial PRIMARY KEY, name text NOT NULL);
             INSERT INTO app.accounts (name) SELECT 'account ' || g FROM generate_series(1, 300) g;`),
  );
  await createDatabase(databases.granted);
  await withAdmin(databases.granted, (c) =>
    c.query(`CREATE TABLE public.reports (id int PRIMARY KEY, body text);
             INSERT INTO public.reports SELECT g, md5(g::text) FROM generate_series(1, 500) g;
             GRANT SELECT ON public.reports TO ${reader};
             GRANT SELECT (id) ON public.reports TO PUBLIC;`),
  );

  const resourceId = arm.addServer({
    subscriptionId,
    resourceGroup: "rg-data",
    name: uniqueName("pg").replaceAll("_", "-"),
    backup: { outcome: "Succeeded", cluster: { server: cluster(), databases: Object.values(databases) } },
  });
  instance = await protectFlexServer(uniqueName("flex").replaceAll("_", "-"), resourceId);
  const backup = await runFlexBackup(instance);
  expect(backup.state.error).toBeUndefined();
  rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
  expect(ltrDatabaseFiles(rp).map((file) => file.database).sort()).toEqual(Object.values(databases).sort());
}, 120_000);

afterAll(async () => {
  await target?.destroy();
  await arm?.close();
  await withAdmin("postgres", async (c) => {
    for (const database of Object.values(databases)) await c.query(`DROP DATABASE IF EXISTS ${ident(database)}`);
    await c.query(`DROP ROLE IF EXISTS ${owner}; DROP ROLE IF EXISTS ${reader}`);
  });
});

function serverTarget(change: Pick<Partial<ServerRestoreTarget>, "databases" | "roles" | "overwrite"> = {}): ServerRestoreTarget {
  return { type: "server", host: target.host, port: target.port, secretRef: restorer.secretRef, overwrite: false, roles: "skip", ...change };
}

/** Each source database under a new name of this run, so the runs on the one target never collide. */
function renamed(suffix: string) {
  return Object.values(databases).map((name) => ({ name, restoreAs: `${name}_${suffix}` }));
}

async function expectSameAsSource(mapping: { name: string; restoreAs: string }[]): Promise<void> {
  for (const { name, restoreAs } of mapping) {
    expect(await schemaDump(restoreAs, target), name).toEqual(await schemaDump(name));
    expect(await contentFingerprint(restoreAs, target), name).toEqual(await contentFingerprint(name));
  }
}

const roleExists = (role: string) => withAdmin("postgres", async (c) => (await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount === 1, target);

describe("a Flexible Server point restored to another server", () => {
  test("when roles are skipped, then every database arrives intact, owned by the restoring user, and the grants to missing roles are listed on the job", async () => {
    const mapping = renamed("skip");
    const run = await runRestore(rp, serverTarget({ databases: mapping }));

    expect(run.state.error).toBeUndefined();
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Succeeded", phase: "Done" });
    await expectSameAsSource(mapping);
    expect(await roleExists(owner)).toBe(false);
    const tableOwner = await withAdmin(`${databases.owned}_skip`, async (c) => (await c.query<{ o: string }>("SELECT tableowner AS o FROM pg_tables WHERE tablename = 'accounts'")).rows[0]!.o, target);
    expect(tableOwner).toBe(restorer.role);
    // The grant to PUBLIC is kept; the one to the missing role is listed, with an example.
    const publicGrant = await withAdmin(`${databases.granted}_skip`, async (c) => (await c.query("SELECT has_column_privilege('public', 'public.reports', 'id', 'SELECT') AS ok")).rows[0].ok, target);
    expect(publicGrant).toBe(true);
    expect(job?.restoreReport?.databases).toEqual(mapping);
    expect(job?.restoreReport?.rolesCreated).toEqual([]);
    expect(job?.restoreReport?.grantsSkipped).toContainEqual(expect.objectContaining({ role: reader, database: `${databases.granted}_skip`, count: 1, example: expect.stringContaining("reports") }));
    // No temporary database is left.
    expect(await databasesUnder(temporaryDatabaseName(run.jobId), target)).toEqual([]);
  }, 120_000);

  test("when a database entry includes one table, then only that table arrives on the other server, with its rows, key and the extension its column type needs", async () => {
    const restoreAs = `${databases.rich}_subset`;
    const run = await runRestore(rp, serverTarget({ databases: [{ name: databases.rich, restoreAs, include: { tables: ["sales.orders"] } }] }));

    expect(run.state.error).toBeUndefined();
    const tables = await withAdmin(restoreAs, async (c) => (await c.query<{ t: string }>("SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")).rows.map((r) => r.t), target);
    expect(tables).toEqual(["sales.orders"]);
    const table = '"sales"."orders"';
    expect((await contentFingerprint(restoreAs, target))[table]).toEqual((await contentFingerprint(databases.rich))[table]);
    const [facts] = await withAdmin(restoreAs, async (c) => (await c.query("SELECT (SELECT count(*)::int FROM pg_index WHERE indrelid = 'sales.orders'::regclass) AS indexes, (SELECT count(*)::int FROM pg_extension WHERE extname = 'hstore') AS hstore")).rows, target);
    expect(facts).toEqual({ indexes: 1, hstore: 1 });
    const job = await getJob(run.jobId);
    expect(job?.restoreReport?.databases).toEqual([{ name: databases.rich, restoreAs }]);
    expect(job?.restoreReport?.objectsLeftOut).toEqual([]);
  }, 120_000);

  test("when one database's archive is damaged, then the job fails, no database of the point is in place, and no temporary database or created role is left", async () => {
    const mapping = renamed("broken");
    // A copy of the point whose last archive is cut short; the catalog row is the point's own, the file is replaced.
    const files = ltrDatabaseFiles(rp);
    const last = files.at(-1)!;
    const [container, ...name] = last.blobPath.split("/");
    const blob = vault().getContainerClient(container!).getBlockBlobClient(name.join("/"));
    const original = await blob.downloadToBuffer();
    await (blob as BlockBlobClient).upload(original.subarray(0, Math.floor(original.length / 2)), Math.floor(original.length / 2));
    try {
      // Roles are created first (the target has neither yet), then the last archive fails.
      const run = await runRestore(rp, serverTarget({ databases: mapping, roles: "createMissing" }));
      expect(run.attempts.filter((a) => a.name === "createMissingRoles" && a.error === undefined)).toHaveLength(1);
      const job = await getJob(run.jobId);
      expect(job?.status).toBe("Failed");
      for (const { restoreAs } of mapping) expect(await databasesUnder(restoreAs, target)).toEqual([]);
      expect(await databasesUnder(temporaryDatabaseName(run.jobId), target)).toEqual([]);
      expect(await roleExists(owner)).toBe(false);
      expect(await roleExists(reader)).toBe(false);
    } finally {
      await blob.upload(original, original.length);
    }
  }, 120_000);

  test("when missing roles are created, then they come from the roles file without superuser-only attributes or passwords, own their objects and hold their grants", async () => {
    const mapping = renamed("create");
    const run = await runRestore(rp, serverTarget({ databases: mapping, roles: "createMissing" }));

    expect(run.state.error).toBeUndefined();
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Succeeded");
    await expectSameAsSource(mapping);
    expect(job?.restoreReport?.rolesCreated).toEqual(expect.arrayContaining([owner, reader]));
    const roles = await withAdmin("postgres", async (c) =>
      (await c.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolreplication: boolean; rolcanlogin: boolean; haspassword: boolean }>(
        "SELECT rolname, rolsuper, rolbypassrls, rolreplication, rolcanlogin, rolpassword IS NOT NULL AS haspassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname",
        [[owner, reader]],
      )).rows, target);
    expect(roles).toEqual([
      { rolname: owner, rolsuper: false, rolbypassrls: false, rolreplication: false, rolcanlogin: true, haspassword: false },
      { rolname: reader, rolsuper: false, rolbypassrls: false, rolreplication: false, rolcanlogin: false, haspassword: false },
    ].sort((a, b) => a.rolname.localeCompare(b.rolname)));
    const tableOwner = await withAdmin(`${databases.owned}_create`, async (c) => (await c.query<{ o: string }>("SELECT tableowner AS o FROM pg_tables WHERE tablename = 'accounts'")).rows[0]!.o, target);
    expect(tableOwner).toBe(owner);
    const readerGrant = await withAdmin(`${databases.granted}_create`, async (c) => (await c.query("SELECT has_table_privilege($1, 'public.reports', 'SELECT') AS ok", [reader])).rows[0].ok, target);
    expect(readerGrant).toBe(true);
    expect(job?.restoreReport?.grantsSkipped.filter((skipped) => skipped.role === reader)).toEqual([]);
  }, 120_000);

  test("when a target database exists and overwrite is off, then UserErrorDatabaseNameAlreadyInUse names it and nothing is created or touched", async () => {
    const mapping = renamed("taken");
    await createDatabase(mapping[1]!.restoreAs, target);
    const run = await runRestore(rp, serverTarget({ databases: mapping }));

    expect((await getJob(run.jobId))?.error?.code).toBe("UserErrorDatabaseNameAlreadyInUse");
    expect((await getJob(run.jobId))?.error?.message).toContain(mapping[1]!.restoreAs);
    expect(await databasesUnder(mapping[0]!.restoreAs, target)).toEqual([]);
    expect(await databasesUnder(temporaryDatabaseName(run.jobId), target)).toEqual([]);
  }, 60_000);

  test("when a target database exists and overwrite is on, then it is replaced by the point's database, and the others are created", async () => {
    const mapping = renamed("over");
    const taken = mapping[0]!.restoreAs;
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${ident(taken)} OWNER ${restorer.role}`), target);
    await withAdmin(taken, (c) => c.query("CREATE TABLE leftover (v int)"), target);
    const run = await runRestore(rp, serverTarget({ databases: mapping, overwrite: true }));

    expect(run.state.error).toBeUndefined();
    await expectSameAsSource(mapping);
    expect(await databasesUnder(temporaryDatabaseName(run.jobId), target)).toEqual([]);
  }, 120_000);

  test("when the point is drilled on the other server, then every database restores and the verdict counts their tables and rows", async () => {
    // The restoring user of the target is the instance's drill server user: CREATEDB is all a drill needs.
    const drilled: BackupInstance = { ...instance, verification: { host: target.host, port: target.port, secretRef: restorer.secretRef } };
    await putInstance(drilled);
    const run = await runVerify(drilled, rp);

    expect(run.state.error).toBeUndefined();
    // seedRichDatabase: 3 tables and 2,502 rows; accounts: 300 rows; reports: 500 rows.
    expect(run.state.output).toEqual({ recoveryPointId: rp.id, outcome: "Succeeded", tablesChecked: 5, rowsChecked: 3302, rowCountsRecorded: false });
    expect((await getRecoveryPoint(rp.instanceName, rp.id))?.verification).toMatchObject({ outcome: "Succeeded", jobId: run.jobId, tablesChecked: 5, rowsChecked: 3302 });
  }, 120_000);
});

test("when a dry run of a server restore meets a taken name and an extension the azure.extensions list lacks, then 200 names both per database, and nothing is created", async () => {
  const durable = await startDurableClientStandIn();
  try {
    // A restoring user as on Azure: the server's allow-list parameter shows in its sessions (a placeholder setting here).
    const azureUser = uniqueName("flex_azure");
    await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${azureUser} LOGIN CREATEDB CREATEROLE PASSWORD 'pw-az'; ALTER ROLE ${azureUser} SET azure.extensions = 'pg_trgm'`), target);
    const mapping = renamed("dry");
    await createDatabase(mapping[1]!.restoreAs, target);
    const body = { recoveryPointId: rp.id, dryRun: true, target: { ...serverTarget({ databases: mapping }), secretRef: envSecret(`PGVAULT_SECRET_${azureUser}`, azureUser, "pw-az", target) } };
    const { client, context } = durable.client("startRestore");
    const response = await startRestore(request("POST", `backupInstances/${instance.name}/restore`, { body, params: { name: instance.name } }), client, context);

    expect(response.status).toBe(200);
    const answer = bodyOf<DryRunAnswer>(response);
    expect(answer.passed).toBe(false);
    expect(answer.findings.map((f) => `${f.check} ${f.object}`)).toEqual([`databaseNameInUse database '${mapping[1]!.restoreAs}'`, "extensionAllowed extension 'hstore'"]);
    expect(answer.findings[1]!.message).toContain(`'${mapping[0]!.restoreAs}'`);
    expect(answer.findings[1]!.recommendedAction).toContain("--name azure.extensions --value pg_trgm,hstore");
    expect(durable.started).toEqual([]);
    expect(await databasesUnder(mapping[0]!.restoreAs, target)).toEqual([]);
    expect(await databasesUnder(mapping[2]!.restoreAs, target)).toEqual([]);
  } finally {
    await durable.close();
  }
}, 60_000);

test("when a database entry includes a table its archive lacks, then POST answers 422 naming it, and no job starts", async () => {
  const durable = await startDurableClientStandIn();
  try {
    const { client, context } = durable.client("startRestore");
    const entry = { name: databases.owned, restoreAs: `${databases.owned}_x`, include: { tables: ["app.accounts", "app.no_such_table"] } };
    const body = { recoveryPointId: rp.id, target: { ...serverTarget(), databases: [entry] } };
    const response = await startRestore(request("POST", `backupInstances/${instance.name}/restore`, { body, params: { name: instance.name } }), client, context);
    expect(response.status).toBe(422);
    const error = bodyOf<{ error: { code: string; message: string } }>(response).error;
    expect(error.code).toBe("UserErrorDBNotFound");
    expect(error.message).toContain("no_such_table");
    expect(error.message).not.toContain("accounts");
    expect(durable.started).toEqual([]);
  } finally {
    await durable.close();
  }
}, 60_000);
