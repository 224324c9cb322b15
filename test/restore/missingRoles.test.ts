/**
 * `roles: "createMissing"` as the Flexible Server restore runs it: the roles a recovery point's archive names
 * (readArchivePrivileges, rolesNamed) are created from a roles file (real `pg_dumpall --roles-only` output plus
 * Flexible Server's lines) by a non-superuser with CREATEROLE, as on Azure, then the archive restores with its
 * owners where they can be given (restoreIntoTemporary with ownership "existing"). Into PostgreSQL 15 (the test
 * server) and 18 (whose CREATEROLE rules changed in 16).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newerPgBinDir, startPostgresCluster, type ClusterInfo, type PostgresCluster } from "../../local-host/embedded/postgres";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import type { DatabaseRestoreTarget, DumpRecoveryPoint } from "../../shared/domain";
import type { ConnectionParams } from "../../shared/postgres/connection";
import { rolesNamed } from "../../shared/restore/archivePrivileges";
import { attemptDatabaseName, readArchivePrivileges, restoreAttempt, restoreIntoTemporary, restoreSourceOf, temporaryDatabaseName } from "../../shared/restore/databaseRestore";
import { createMissingRoles, type RolesCreated } from "../../shared/restore/missingRoles";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { rolesFileOf } from "../support/ltrLogicalBackup";
import { cluster, createBackupRole, createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const suffix = uniqueName("mr").slice(3);
const role = (name: string) => `${name}_${suffix}`;
const owner = role("app_owner");
const group = role("Report Group");
const parent = role("all_readers");
const rogue = role("rogue");
const admin = role("flexadmin");
const maker = role("maker");
const existing = role("existing");
const notInFile = role("nobody");
const backupUser = role("backup_user");
const sourceRoles = [owner, group, parent, rogue, admin, maker];
const id = (name: string) => pg.escapeIdentifier(name);

let rp: DumpRecoveryPoint;
let rolesFile: string;
let newer: PostgresCluster;
const restorers: string[] = [];
/** Databases made on each server (keyed by port). */
const madeOn = new Map<number, string[]>();

async function superuserQuery<R extends pg.QueryResultRow>(server: ClusterInfo, database: string, sql: string, values: unknown[] = []): Promise<R[]> {
  return withAdmin(database, async (c) => (await c.query<R>(sql, values)).rows, server);
}

beforeAll(async () => {
  newer = await startPostgresCluster(newerPgBinDir());
  const source = uniqueName("mr_src");
  await withAdmin("postgres", (c) =>
    c.query(`
      CREATE ROLE ${owner} LOGIN CREATEDB CONNECTION LIMIT 7 PASSWORD 'pw-owner';
      CREATE ROLE ${id(group)} NOLOGIN NOINHERIT;
      CREATE ROLE ${parent} NOLOGIN;
      CREATE ROLE ${rogue} SUPERUSER REPLICATION BYPASSRLS LOGIN PASSWORD 'pw-rogue';
      CREATE ROLE ${admin} LOGIN CREATEROLE CREATEDB PASSWORD 'pw-admin';
      CREATE ROLE ${maker} NOLOGIN CREATEROLE;
      CREATE ROLE ${existing} LOGIN CREATEDB;
      GRANT ${id(group)} TO ${owner} WITH ADMIN OPTION;
      GRANT ${parent} TO ${id(group)};
    `),
  );
  await createDatabase(source);
  await withAdmin(source, (c) =>
    c.query(`
      CREATE SCHEMA app AUTHORIZATION ${owner};
      CREATE TABLE app.orders (id int); ALTER TABLE app.orders OWNER TO ${owner};
      GRANT SELECT ON app.orders TO ${id(group)};
      GRANT SELECT ON app.orders TO ${existing};
      CREATE TABLE app.audit (id int); ALTER TABLE app.audit OWNER TO ${admin};
      GRANT INSERT ON app.audit TO ${rogue};
      CREATE TABLE public.maker_stuff (id int); ALTER TABLE public.maker_stuff OWNER TO ${maker};
    `),
  );
  await createBackupRole(source, backupUser, "pw-backup");
  const instance = await protect(uniqueName("mr").replaceAll("_", "-"), databaseSource(source, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-backup")));
  await runBackup(instance);
  rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);

  rolesFile = await rolesFileOf(cluster(), [admin]);

  // The test server becomes a target: the source's roles go (with the database whose objects they own), but one.
  await dropDatabasesAndRoles([source], sourceRoles);
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${existing} NOCREATEDB PASSWORD 'pw-kept'`));
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${existing} LOGIN NOCREATEDB PASSWORD 'pw-kept'`), newer);
});

afterAll(async () => {
  await dropDatabasesAndRoles(madeOn.get(cluster().port) ?? [], [...sourceRoles, existing, backupUser, ...restorers]);
  await newer?.destroy();
});

async function restorerOn(server: ClusterInfo): Promise<ConnectionParams> {
  const name = uniqueName("restorer");
  restorers.push(name);
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${name} LOGIN CREATEROLE CREATEDB PASSWORD 'pw-restorer'`), server);
  return { host: server.host, port: server.port, database: "postgres", user: name, password: "pw-restorer", sslMode: "require" };
}

async function asRestorer<T>(params: ConnectionParams, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: params.host, port: params.port, user: params.user, password: params.password, database: params.database });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe.each([
  ["PostgreSQL 15", () => cluster() as ClusterInfo, false],
  ["PostgreSQL 18", () => newer as ClusterInfo, true],
])("creating missing roles on %s", (_version, targetServer, backupUserMissing) => {
  test("when the dumps need roles the target lacks, then a CREATEROLE user creates them cleaned, skips the service's and the admin, and objects go to their owners", async () => {
    const server = targetServer();
    const params = await restorerOn(server);
    const jobId = uniqueName("restore-job");
    const source = restoreSourceOf(rp);
    const needed = [...rolesNamed(await readArchivePrivileges(source, undefined, params)), "azure_pg_admin", notInFile];
    expect(needed).toEqual(expect.arrayContaining([owner, group, rogue, admin, maker, existing, backupUser]));

    // Two copies of the step at once, then a retry: the same roles, each created once.
    const [first, second] = await Promise.all([1, 2].map(() => asRestorer(params, (c) => createMissingRoles(c, rolesFile, needed, jobId))));
    const again = await asRestorer(params, (c) => createMissingRoles(c, rolesFile, needed, jobId));
    const created = [owner, group, parent, rogue, maker, ...(backupUserMissing ? [backupUser] : [])].sort();
    const bySkippedRole = (r: RolesCreated) => [...r.rolesSkipped].sort((a, b) => a.role.localeCompare(b.role));
    for (const result of [first!, second!, again]) {
      expect(result.rolesCreated).toEqual(created);
      expect(bySkippedRole(result)).toEqual(
        [
          { role: admin, reason: "the source server's administrator (a member of azure_pg_admin)" },
          { role: "azure_pg_admin", reason: "a role of Azure Database for PostgreSQL Flexible Server itself" },
          { role: notInFile, reason: "not in the roles file" },
        ].sort((a, b) => a.role.localeCompare(b.role)),
      );
    }
    // Another job finds them all there: used as they are, nothing created.
    expect((await asRestorer(params, (c) => createMissingRoles(c, rolesFile, needed, uniqueName("other-job")))).rolesCreated).toEqual([]);

    const roles = await superuserQuery<{ rolname: string; rolsuper: boolean; rolreplication: boolean; rolbypassrls: boolean; rolcanlogin: boolean; rolinherit: boolean; rolcreatedb: boolean; rolcreaterole: boolean; rolconnlimit: number; has_password: boolean }>(
      server,
      "postgres",
      `SELECT rolname, rolsuper, rolreplication, rolbypassrls, rolcanlogin, rolinherit, rolcreatedb, rolcreaterole, rolconnlimit, rolpassword IS NOT NULL AS has_password
       FROM pg_authid WHERE rolname = ANY($1)`,
      [[...created, existing, admin]],
    );
    const byName = new Map(roles.map((r) => [r.rolname, r]));
    for (const name of created) expect(byName.get(name)).toMatchObject({ rolsuper: false, rolreplication: false, rolbypassrls: false, has_password: false });
    expect(byName.get(owner)).toMatchObject({ rolcanlogin: true, rolcreatedb: true, rolconnlimit: 7 });
    expect(byName.get(rogue)).toMatchObject({ rolcanlogin: true, rolcreatedb: false });
    expect(byName.get(group)).toMatchObject({ rolcanlogin: false, rolinherit: false });
    expect(byName.get(maker)).toMatchObject({ rolcreaterole: true });
    expect(byName.get(existing)).toMatchObject({ rolcreatedb: false, has_password: true }); // not altered
    expect(byName.has(admin)).toBe(false);

    const memberships = await superuserQuery<{ role: string; member: string; admin_option: boolean }>(
      server,
      "postgres",
      `SELECT r.rolname AS role, m.rolname AS member, bool_or(a.admin_option) AS admin_option FROM pg_auth_members a
       JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member WHERE m.rolname = ANY($1) GROUP BY 1, 2`,
      [[...created, params.user]],
    );
    expect(memberships).toEqual(
      expect.arrayContaining([
        { role: group, member: owner, admin_option: true },
        { role: parent, member: group, admin_option: false },
        ...created.map((name) => ({ role: name, member: params.user, admin_option: expect.any(Boolean) })),
      ]),
    );

    // The archive restored with its owners where they can be given: to created roles, not to the admin (skipped),
    // nor where the owner may not create in the schema (maker in public).
    const attempt = restoreAttempt(jobId, attemptDatabaseName(temporaryDatabaseName(jobId)));
    madeOn.set(server.port, [...(madeOn.get(server.port) ?? []), attempt.database]);
    const target: DatabaseRestoreTarget = { type: "database", host: server.host, port: server.port, database: uniqueName("flex_db"), secretRef: "env:PGVAULT_SECRET_UNUSED", overwrite: false, preserveOwnership: false };
    const restored = await restoreIntoTemporary(params, target, source, attempt, {}, { ownership: "existing" });
    expect(restored.bytes).toBe(rp.sizeBytes);
    const owners = await superuserQuery<{ name: string; owner: string }>(
      server,
      attempt.database,
      `SELECT n.nspname || '.' || c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname IN ('app', 'public') UNION ALL SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'app' ORDER BY 1`,
    );
    expect(owners).toEqual([
      { name: "app", owner },
      { name: "app.audit", owner: params.user },
      { name: "app.orders", owner },
      { name: "public.maker_stuff", owner: params.user },
    ]);
    const [privileges] = await superuserQuery<Record<string, boolean>>(
      server,
      attempt.database,
      `SELECT has_table_privilege($1, 'app.orders', 'SELECT') AS group_reads, has_table_privilege($2, 'app.orders', 'SELECT') AS existing_reads,
              has_table_privilege($3, 'app.audit', 'INSERT') AS rogue_inserts`,
      [group, existing, rogue],
    );
    expect(privileges).toEqual({ group_reads: true, existing_reads: true, rogue_inserts: true });
    expect(restored.grantsSkipped).toEqual([]);
    expect(restored.ownershipSkipped).toEqual([
      { role: admin, database: target.database, count: 1, example: `ALTER TABLE app.audit OWNER TO ${admin}` },
      { role: maker, database: target.database, count: 1, example: `ALTER TABLE public.maker_stuff OWNER TO ${maker}` },
    ]);
  });
});
