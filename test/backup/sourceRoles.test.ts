/**
 * The role definitions a backup records (shared/contents/sourceRoles.ts), read as a non-superuser with only reads
 * from a PostgreSQL 18 server, whose memberships carry INHERIT and SET options (16 and later): which roles are
 * recorded (owners, grantees, default privileges' and policies' roles, members of those, what they are members of;
 * not predefined roles, not roles the database does not refer to), and that the text reads back through the
 * roles-file parser a restore uses, options included. The PostgreSQL 15 side runs in every backup test.
 */
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { newerPgBinDir, startPostgresCluster, type PostgresCluster } from "../../local-host/embedded/postgres";
import { readSourceRoles } from "../../shared/contents/sourceRoles";
import { parseRolesFile } from "../../shared/restore/rolesFile";
import { createBackupRole, createDatabase, withAdmin } from "../support/testDatabase";

let server: PostgresCluster;
const database = "roles_src";
const backupUser = "roles_backup";

beforeAll(async () => {
  server = await startPostgresCluster(newerPgBinDir());
  await withAdmin("postgres", (c) =>
    c.query(`CREATE ROLE app_owner NOLOGIN;
             CREATE ROLE readers NOLOGIN;
             CREATE ROLE staff NOLOGIN;
             CREATE ROLE alice LOGIN PASSWORD 'alice-secret';
             CREATE ROLE carol LOGIN;
             CREATE ROLE auditor NOLOGIN;
             CREATE ROLE unrelated LOGIN;
             GRANT readers TO alice WITH INHERIT FALSE, SET FALSE;
             GRANT readers TO carol WITH ADMIN OPTION;
             GRANT staff TO readers;
             GRANT pg_read_all_stats TO carol;`),
    server,
  );
  await createDatabase(database, server);
  await withAdmin(
    database,
    (c) =>
      c.query(`CREATE SCHEMA app AUTHORIZATION app_owner;
               SET ROLE app_owner;
               CREATE TABLE app.t (id int);
               GRANT SELECT ON app.t TO readers;
               ALTER TABLE app.t ENABLE ROW LEVEL SECURITY;
               CREATE POLICY audit ON app.t FOR SELECT TO auditor USING (true);
               RESET ROLE;`),
    server,
  );
  await createBackupRole(database, backupUser, "pw-backup", server);
}, 120_000);

afterAll(() => server?.destroy());

test("when a PostgreSQL 18 database is read by a backup user with only reads, then the roles it refers to and their members are recorded with their membership options and no password", async () => {
  const client = new pg.Client({ host: server.host, port: server.port, user: backupUser, password: "pw-backup", database });
  await client.connect();
  let text: string;
  try {
    text = await readSourceRoles(client);
  } finally {
    await client.end();
  }

  const file = parseRolesFile(text);
  // staff: readers is a member of it; alice and carol: members of readers; auditor: a policy's role.
  expect([...file.roles.keys()].sort()).toEqual(["alice", "app_owner", "auditor", "carol", "readers", "roles_backup", "staff"]);
  expect(file.memberships).toEqual(
    expect.arrayContaining([
      { role: "readers", member: "alice", admin: false, inherit: false, set: false },
      { role: "readers", member: "carol", admin: true, inherit: true, set: true },
      { role: "staff", member: "readers", admin: false, inherit: true, set: true },
      // A predefined role's definition is never recorded; the membership is, for the restore to try.
      { role: "pg_read_all_stats", member: "carol", admin: false, inherit: true, set: true },
    ]),
  );
  expect(file.roles.get("alice")).toEqual({ login: true, inherit: true, createdb: false, createrole: false });
  expect(text).not.toMatch(/PASSWORD|alice-secret|unrelated/);
}, 60_000);
