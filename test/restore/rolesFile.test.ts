/**
 * Reading a Flexible Server point's roles file: real `pg_dumpall --roles-only` output of the test server with the
 * lines a Flexible Server adds (test/support/ltrLogicalBackup.ts), read and cleaned.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createRoleOptions, parseRolesFile, reasonNotCreated, type RolesFile } from "../../shared/restore/rolesFile";
import { rolesFileOf } from "../support/ltrLogicalBackup";
import { cluster, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const [owner, rogue, group, admin] = ["app_owner", "rogue", "Report Group;TO", "flexadmin"].map(uniqueName) as [string, string, string, string];
let text: string;
let file: RolesFile;

beforeAll(async () => {
  await withAdmin("postgres", (c) =>
    c.query(`
      CREATE ROLE ${owner} LOGIN CREATEDB CONNECTION LIMIT 7 PASSWORD 'pw-owner' VALID UNTIL '2031-01-01';
      CREATE ROLE ${rogue} SUPERUSER REPLICATION BYPASSRLS LOGIN PASSWORD 'pw-rogue';
      CREATE ROLE "${group}" NOLOGIN NOINHERIT;
      CREATE ROLE ${admin} LOGIN CREATEROLE CREATEDB PASSWORD 'pw-admin';
      GRANT "${group}" TO ${owner} WITH ADMIN OPTION;
      ALTER ROLE ${owner} SET search_path TO 'app', 'public';
      COMMENT ON ROLE ${owner} IS 'owns the app; GRANT x TO y';
    `),
  );
  text = await rolesFileOf(cluster(), [admin]);
  file = parseRolesFile(text);
});
afterAll(() => dropDatabasesAndRoles([], [owner, rogue, group, admin]));

describe("the roles file", () => {
  test("when roles have passwords, SUPERUSER, REPLICATION and BYPASSRLS, then they are read without them, and CREATE ROLE never names them", () => {
    expect(text).toContain(`${rogue} WITH SUPERUSER`); // what the file says, as pg_dumpall wrote it
    expect(text).toMatch(new RegExp(`ALTER ROLE ${owner} WITH .*PASSWORD 'SCRAM-SHA-256`));
    expect(file.roles.get(rogue)).toEqual({ login: true, inherit: true, createdb: false, createrole: false });
    expect(file.roles.get(owner)).toEqual({ login: true, inherit: true, createdb: true, createrole: false, connectionLimit: 7 });
    expect(file.roles.get(group)).toEqual({ login: false, inherit: false, createdb: false, createrole: false });
    const options = [rogue, owner, group, admin, "azuresu"].map((name) => createRoleOptions(file.roles.get(name)!));
    expect(options).toEqual([
      "LOGIN INHERIT NOCREATEDB NOCREATEROLE",
      "LOGIN INHERIT CREATEDB NOCREATEROLE CONNECTION LIMIT 7",
      "NOLOGIN NOINHERIT NOCREATEDB NOCREATEROLE",
      "LOGIN INHERIT CREATEDB CREATEROLE",
      "LOGIN INHERIT CREATEDB CREATEROLE",
    ]);
    expect(options.join(" ")).not.toMatch(/SUPERUSER|REPLICATION|BYPASSRLS|PASSWORD|VALID/);
  });

  test("when memberships are listed (15's syntax, and 16's with INHERIT and SET), then each is read with its options", () => {
    expect(file.memberships).toContainEqual({ role: group, member: owner, admin: true });
    expect(file.memberships).toContainEqual({ role: "azure_pg_admin", member: admin, admin: false });
    // PostgreSQL 16 and later (pg_dumpall.c dumpRoleMembership): options after WITH, comma-separated. No pg_dumpall 16
    // is installed here, so this line is written as it prints it.
    const sixteen = parseRolesFile(`GRANT "${group}" TO ${rogue} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE GRANTED BY postgres;\nGRANT a TO granted GRANTED BY b;`);
    expect(sixteen.memberships).toEqual([
      { role: group, member: rogue, admin: true, inherit: false, set: false },
      { role: "a", member: "granted", admin: false },
    ]);
  });

  test("when a role is Flexible Server's own, reserved, the source's administrator or not in the file, then it is never created, and says why", () => {
    expect(["azure_pg_admin", "azuresu", "replication", "azure_superuser"].map((name) => reasonNotCreated(name, file))).toEqual(
      Array(4).fill("a role of Azure Database for PostgreSQL Flexible Server itself"),
    );
    expect(reasonNotCreated("pg_maintain", file)).toMatch(/predefined role of PostgreSQL/);
    expect(reasonNotCreated(admin, file)).toBe("the source server's administrator (a member of azure_pg_admin)");
    expect(reasonNotCreated(uniqueName("nobody"), file)).toBe("not in the roles file");
    expect([owner, rogue, group].map((name) => reasonNotCreated(name, file))).toEqual([undefined, undefined, undefined]);
  });
});
