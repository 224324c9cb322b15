/**
 * A restore to a database without preserveOwnership keeps the grants whose grantees exist on the target and lists
 * the others on the job (restoreReport), through the restore orchestration with the real activities, a non-superuser
 * restoring user, real pg_dump, pg_restore, PostgreSQL and Azurite.
 */
import { afterAll, describe, expect, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint } from "../../shared/domain";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { restoringRole, runRestore } from "../support/restoreFixture";
import { cluster, createBackupRole, createDatabase, databasesUnder, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";
import { temporaryDatabaseName } from "../../shared/restore/databaseRestore";

const databases: string[] = [];
const roles: string[] = [];

afterAll(() => dropDatabasesAndRoles(databases, roles));

/** A new database set up by `sql` (`$present`, `$absent` stand for the roles), backed up; then `absent` is dropped. */
async function backedUp(sql: string, present: string, absent: string): Promise<RecoveryPoint> {
  const source = uniqueName("grants_src");
  const backupUser = uniqueName("grants_backup");
  databases.push(source);
  roles.push(present, absent, backupUser);
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${present}; CREATE ROLE ${absent}`));
  await createDatabase(source);
  await withAdmin(source, (c) => c.query(sql.replaceAll("$present", present).replaceAll("$absent", absent)));
  await createBackupRole(source, backupUser, "pw-backup");
  const instance = await protect(uniqueName("grants").replaceAll("_", "-"), databaseSource(source, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-backup")));
  await runBackup(instance);
  await withAdmin(source, (c) => c.query(`DROP OWNED BY ${absent}`));
  await withAdmin("postgres", (c) => c.query(`DROP ROLE ${absent}`));
  return (await listRecoveryPoints(instance.name))[0]!;
}

async function restoreTarget(): Promise<DatabaseRestoreTarget> {
  const restorer = await restoringRole("grants_restorer");
  roles.push(restorer.role);
  const database = uniqueName("grants_restored");
  databases.push(database);
  return { type: "database", host: cluster().host, port: cluster().port, database, secretRef: restorer.secretRef, overwrite: false, preserveOwnership: false };
}

describe("grants in a restore to a database", () => {
  test("when the source grants to a role the target has and to one it lacks, then the first grant is there, the second is listed on the job, and the restore succeeds", async () => {
    const present = uniqueName("present");
    const absent = uniqueName("absent");
    const rp = await backedUp(
      `CREATE SCHEMA sales;
       CREATE TABLE sales.orders (id int, note text);
       INSERT INTO sales.orders VALUES (1, 'one');
       GRANT USAGE ON SCHEMA sales TO $present, $absent;
       GRANT SELECT ON sales.orders TO $present;
       GRANT UPDATE (note) ON sales.orders TO $present;
       GRANT SELECT, UPDATE ON sales.orders TO $absent;
       -- For the present role's own future tables: the restoring user is not a member of it, so may not.
       ALTER DEFAULT PRIVILEGES FOR ROLE $present IN SCHEMA sales GRANT SELECT ON TABLES TO $present;
       -- A system function the restoring user does not own: the server only warns that nothing was granted.
       GRANT EXECUTE ON FUNCTION pg_catalog.lower(text) TO $present WITH GRANT OPTION;`,
      present,
      absent,
    );
    const target = await restoreTarget();

    const run = await runRestore(rp, target);

    expect(run.state.error).toBeUndefined();
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Succeeded");
    const [granted] = await withAdmin(target.database, async (c) =>
      (
        await c.query<Record<string, boolean>>(
          `SELECT has_schema_privilege($1, 'sales', 'USAGE') AS schema_usage, has_table_privilege($1, 'sales.orders', 'SELECT') AS reads,
                  has_column_privilege($1, 'sales.orders', 'note', 'UPDATE') AS updates_note, has_column_privilege($1, 'sales.orders', 'id', 'UPDATE') AS updates_id,
                  EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2) AS absent_exists`,
          [present, absent],
        )
      ).rows,
    );
    expect(granted).toEqual({ schema_usage: true, reads: true, updates_note: true, updates_id: false, absent_exists: false });
    expect(job?.restoreReport).toEqual({
      rolesCreated: [],
      rolesSkipped: [],
      grantsSkipped: [
        { role: absent, database: target.database, count: 2, example: `GRANT USAGE ON SCHEMA sales TO ${absent}` },
        // The warned grant on lower() (first in the archive) and the default privileges.
        { role: present, database: target.database, count: 2, example: `GRANT ALL ON FUNCTION pg_catalog.lower(text) TO ${present} WITH GRANT OPTION` },
      ],
      ownershipSkipped: [],
    });
  });

  test("when a grant is on an object the restoring user has no privilege on, then the restore fails with UserErrorMissingRestorePermissions naming it, and leaves nothing", async () => {
    const present = uniqueName("present");
    const absent = uniqueName("absent");
    const rp = await backedUp(`CREATE TABLE t (v int); GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text) TO $present;`, present, absent);
    const target = await restoreTarget();

    const run = await runRestore(rp, target);

    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorMissingRestorePermissions");
    expect(job?.error?.message).toContain("FUNCTION pg_catalog.pg_ls_dir(text)");
    expect(job?.error?.recommendedAction).toMatch(/may grant on that object/);
    expect(await databasesUnder(temporaryDatabaseName(run.jobId))).toEqual([]);
    expect(await databasesUnder(target.database)).toEqual([]);
  });
});
