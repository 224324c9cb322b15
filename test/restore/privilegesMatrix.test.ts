/**
 * Privileges kept by default (issue 23, point 3): a database whose schemas, tables, sequences, functions and the
 * `public` schema itself carry non-default grants and revokes, with default privileges changed, backed up with the
 * real pg_dump and restored through the restore orchestration (real activities, a non-superuser restoring user) onto
 * a target where one grantee exists and one does not. By default every grant and revoke whose role exists comes
 * back and the others are listed on the job; `privileges: "none"` restores none, as pgvault did before.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint } from "../../shared/domain";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { restoringRole, runRestore } from "../support/restoreFixture";
import { cluster, createBackupRole, createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const databases: string[] = [];
const owner = uniqueName("mx_owner");
const present = uniqueName("mx_present");
const absent = uniqueName("mx_absent");
const roles = [owner, present, absent];
let rp: RecoveryPoint;
let restorer: { role: string; secretRef: string };

/** Run as the source's owner where objects are made, as an application's migration role would. */
const sourceSql = `
  CREATE SCHEMA app AUTHORIZATION ${owner};
  GRANT CREATE ON DATABASE current_db_placeholder TO ${owner};
  SET ROLE ${owner};
  CREATE TABLE app.orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
  INSERT INTO app.orders (note) VALUES ('one'), ('two');
  CREATE SEQUENCE app.tickets;
  CREATE FUNCTION app.total() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM app.orders';
  GRANT USAGE ON SCHEMA app TO ${present}, ${absent};
  GRANT SELECT, INSERT ON app.orders TO ${present};
  GRANT UPDATE (note) ON app.orders TO ${present};
  GRANT SELECT ON app.orders TO ${absent};
  GRANT USAGE ON SEQUENCE app.tickets TO ${present};
  REVOKE EXECUTE ON FUNCTION app.total() FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION app.total() TO ${present};
  ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO ${present};
  ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
  ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT USAGE ON SEQUENCES TO ${absent};
  RESET ROLE;
  REVOKE USAGE ON SCHEMA public FROM PUBLIC;
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;
  GRANT USAGE, CREATE ON SCHEMA public TO ${present};`;

beforeAll(async () => {
  const source = uniqueName("mx_src");
  const backupUser = uniqueName("mx_backup");
  databases.push(source);
  roles.push(backupUser);
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${owner}; CREATE ROLE ${present}; CREATE ROLE ${absent}`));
  await createDatabase(source);
  await withAdmin(source, (c) => c.query(sourceSql.replace("current_db_placeholder", source)));
  await createBackupRole(source, backupUser, "pw-backup");
  const instance = await protect(uniqueName("mx").replaceAll("_", "-"), databaseSource(source, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-backup")));
  expect((await runBackup(instance)).state.error).toBeUndefined();
  rp = (await listRecoveryPoints(instance.name))[0]!;
  await withAdmin(source, (c) => c.query(`DROP OWNED BY ${absent}`));
  await withAdmin("postgres", (c) => c.query(`DROP ROLE ${absent}`));
  restorer = await restoringRole("mx_restorer");
  roles.push(restorer.role);
  // The restoring user may act for the owner (change its default privileges), not for the others.
  await withAdmin("postgres", (c) => c.query(`GRANT ${owner} TO ${restorer.role}`));
}, 120_000);

afterAll(() => dropDatabasesAndRoles(databases, roles));

function target(change: Pick<DatabaseRestoreTarget, "privileges" | "roles"> = {}): DatabaseRestoreTarget {
  const database = uniqueName("mx_restored");
  databases.push(database);
  return { type: "database", host: cluster().host, port: cluster().port, database, secretRef: restorer.secretRef, overwrite: false, preserveOwnership: false, ...change };
}

/** What each role may do in the restored database (`public` is PUBLIC for the has_*_privilege functions). */
async function privilegesIn(database: string) {
  return withAdmin(database, async (c) => {
    const { rows } = await c.query<Record<string, boolean>>(
      `SELECT has_schema_privilege($1, 'app', 'USAGE') AS app_usage,
              has_table_privilege($1, 'app.orders', 'SELECT') AS orders_select,
              has_table_privilege($1, 'app.orders', 'INSERT') AS orders_insert,
              has_column_privilege($1, 'app.orders', 'note', 'UPDATE') AS note_update,
              has_table_privilege($1, 'app.orders', 'DELETE') AS orders_delete,
              has_sequence_privilege($1, 'app.tickets', 'USAGE') AS tickets_usage,
              has_function_privilege($1, 'app.total()', 'EXECUTE') AS total_execute,
              has_function_privilege('public', 'app.total()', 'EXECUTE') AS total_execute_by_public,
              has_schema_privilege($1, 'public', 'CREATE') AS public_create,
              has_schema_privilege('public', 'public', 'USAGE') AS public_usage_by_public,
              has_schema_privilege('public', 'public', 'CREATE') AS public_create_by_public`,
      [present],
    );
    const defaults = await c.query<{ role: string; schema: string | null; kind: string; acl: string }>(
      `SELECT pg_get_userbyid(d.defaclrole) AS role, n.nspname AS schema, d.defaclobjtype AS kind, d.defaclacl::text AS acl
       FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace ORDER BY 3, 2`,
    );
    return { ...rows[0], defaults: defaults.rows };
  });
}

describe("privileges in a restore to a database (issue 23)", () => {
  test("when nothing is said, then every grant and revoke whose role exists is restored, the public schema's included, and those of the missing role are listed", async () => {
    const restoreTo = target();

    const run = await runRestore(rp, restoreTo);

    expect(run.state.error).toBeUndefined();
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Succeeded");
    const { defaults, ...granted } = await privilegesIn(restoreTo.database);
    expect(granted).toEqual({
      app_usage: true,
      orders_select: true,
      orders_insert: true,
      note_update: true,
      orders_delete: false,
      tickets_usage: true,
      total_execute: true,
      total_execute_by_public: false,
      public_create: true,
      public_usage_by_public: false,
      public_create_by_public: false,
    });
    // The owner's default privileges (the restoring user may act for it); the one for the missing grantee is not there.
    // The global entry keeps only the owner's own EXECUTE: PUBLIC's is revoked.
    expect(defaults).toEqual([
      { role: owner, schema: null, kind: "f", acl: `{${owner}=X/${owner}}` },
      { role: owner, schema: "app", kind: "r", acl: `{${present}=r/${owner}}` },
    ]);
    expect(job?.restoreReport).toEqual({
      rolesCreated: [],
      rolesSkipped: [],
      grantsSkipped: [{ role: absent, database: restoreTo.database, count: 3, example: `GRANT USAGE ON SCHEMA app TO ${absent}` }],
      ownershipSkipped: [],
    });
  }, 120_000);

  test("when privileges none is asked for, then no grant or revoke is restored and nothing is listed", async () => {
    const restoreTo = target({ privileges: "none" });

    const run = await runRestore(rp, restoreTo);

    expect(run.state.error).toBeUndefined();
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Succeeded");
    const { defaults, ...granted } = await privilegesIn(restoreTo.database);
    expect(granted).toEqual({
      app_usage: false,
      orders_select: false,
      orders_insert: false,
      note_update: false,
      orders_delete: false,
      tickets_usage: false,
      total_execute: true, // PUBLIC's default, not revoked
      total_execute_by_public: true,
      public_create: false,
      public_usage_by_public: true,
      public_create_by_public: false,
    });
    expect(defaults).toEqual([]);
    expect(job?.restoreReport).toEqual({ rolesCreated: [], rolesSkipped: [], grantsSkipped: [], ownershipSkipped: [] });
    // The data is there all the same.
    const rows = await withAdmin(restoreTo.database, async (c) => (await c.query("SELECT note FROM app.orders ORDER BY id")).rows);
    expect(rows).toEqual([{ note: "one" }, { note: "two" }]);
  }, 120_000);
});
