/**
 * Reading an archive's owners and grants from what pg_restore prints for it: the archives are made by the real
 * pg_dump from databases set up here, and printed by the real pg_restore with the arguments the restore uses.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, describe, expect, test } from "vitest";
import { decodeArchiveText } from "../../shared/restore/archiveEncoding";
import { parseArchivePrivileges, privilegeSections, rolesNamed, type ArchivePrivileges } from "../../shared/restore/archivePrivileges";
import { sqlStatements } from "../../shared/postgres/sqlScript";
import { cluster, createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const execFileAsync = promisify(execFile);
const id = (name: string) => pg.escapeIdentifier(name);
const roles: string[] = [];
const databases: string[] = [];

function env() {
  const server = cluster();
  return { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user, PGPASSWORD: server.password };
}

/** What pg_restore prints of a custom-format dump of `database`, as the restore asks for it. */
async function printedArchive(database: string): Promise<Buffer> {
  const bin = cluster().binDir;
  const dump = path.join(mkdtempSync(path.join(tmpdir(), "pgvault-privs-")), `${database}.dump`);
  await execFileAsync(path.join(bin, "pg_dump"), ["--format=custom", `--file=${dump}`, database], { env: env() });
  const { stdout } = await execFileAsync(path.join(bin, "pg_restore"), [...privilegeSections, dump], { env: env(), encoding: "buffer", maxBuffer: 64 << 20 });
  return stdout;
}

async function readBack(database: string): Promise<ArchivePrivileges> {
  return parseArchivePrivileges(decodeArchiveText(await printedArchive(database), database));
}

async function createRoles(...names: string[]): Promise<void> {
  roles.push(...names);
  await withAdmin("postgres", async (c) => {
    for (const name of names) await c.query(`CREATE ROLE ${id(name)}`);
  });
}

afterAll(() => dropDatabasesAndRoles(databases, roles));

describe("reading an archive's privileges", () => {
  test("when names hold spaces, ';', ' TO ' and quotes, and grants are on columns, by another grantor and by default, then each is read with its object, grantee and grantor", async () => {
    const database = uniqueName("privs_src");
    databases.push(database);
    const alice = uniqueName("alice");
    const weird = `${uniqueName("we;ird")} TO "role"`;
    const readers = uniqueName("Readers");
    await createRoles(alice, weird, readers);
    await createDatabase(database);
    await withAdmin(database, async (c) => {
      await c.query(`
        CREATE SCHEMA "s TO x;";
        CREATE TABLE "s TO x;"."t; TO y" (id int, "c TO;" text);
        COMMENT ON TABLE "s TO x;"."t; TO y" IS 'GRANT SELECT ON TABLE public.t TO nobody;';
        CREATE FUNCTION public.f(a integer, b character varying) RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
        CREATE FUNCTION public.g() RETURNS text LANGUAGE plpgsql AS $body$ BEGIN RETURN 'ALTER TABLE t OWNER TO nobody;'; END $body$;
        ALTER TABLE "s TO x;"."t; TO y" OWNER TO ${id(readers)};
        GRANT USAGE ON SCHEMA "s TO x;" TO ${id(alice)}, ${id(readers)};
        GRANT SELECT ON "s TO x;"."t; TO y" TO ${id(alice)} WITH GRANT OPTION;
        GRANT UPDATE ("c TO;") ON "s TO x;"."t; TO y" TO ${id(weird)};
        GRANT EXECUTE ON FUNCTION public.f(integer, character varying) TO ${id(weird)};
        REVOKE EXECUTE ON FUNCTION public.g() FROM PUBLIC;
        ALTER DEFAULT PRIVILEGES FOR ROLE ${id(alice)} IN SCHEMA public GRANT SELECT ON TABLES TO ${id(weird)};
        ALTER DEFAULT PRIVILEGES FOR ROLE ${id(readers)} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
      `);
      const lo = (await c.query<{ oid: string }>("SELECT lo_from_bytea(0, 'abc')::text AS oid")).rows[0]!.oid;
      await c.query(`GRANT SELECT ON LARGE OBJECT ${lo} TO ${id(alice)}; ALTER LARGE OBJECT ${lo} OWNER TO ${id(readers)}`);
      // A grant made by alice (with her grant option), not by the table's owner.
      await c.query(`SET ROLE ${id(alice)}; GRANT SELECT ON "s TO x;"."t; TO y" TO ${id(weird)}; RESET ROLE`);
    });

    const read = await readBack(database);
    const lo = await withAdmin(database, async (c) => (await c.query<{ oid: string }>("SELECT max(oid)::text AS oid FROM pg_largeobject_metadata")).rows[0]!.oid);
    const table = `TABLE "s TO x;"."t; TO y"`;
    // As pg_dump's fmtId writes names: quoted only when they need it.
    const q = (name: string) => (/^[a-z_][a-z0-9_]*$/.test(name) ? name : id(name));
    expect(read.privileges).toEqual([
      { kind: "grant", sql: `GRANT USAGE ON SCHEMA "s TO x;" TO ${q(alice)}`, object: `SCHEMA "s TO x;"`, grantee: alice },
      { kind: "grant", sql: `GRANT USAGE ON SCHEMA "s TO x;" TO ${q(readers)}`, object: `SCHEMA "s TO x;"`, grantee: readers },
      { kind: "grant", sql: `GRANT ALL ON FUNCTION public.f(a integer, b character varying) TO ${q(weird)}`, object: "FUNCTION public.f(a integer, b character varying)", grantee: weird },
      { kind: "revoke", sql: "REVOKE ALL ON FUNCTION public.g() FROM PUBLIC", object: "FUNCTION public.g()", grantee: "PUBLIC" },
      { kind: "grant", sql: `GRANT SELECT ON ${table} TO ${q(alice)} WITH GRANT OPTION`, object: table, grantee: alice },
      { kind: "grant", sql: `GRANT SELECT ON ${table} TO ${q(weird)}`, object: table, grantee: weird, grantor: alice },
      { kind: "grant", sql: `GRANT UPDATE("c TO;") ON ${table} TO ${q(weird)}`, object: table, grantee: weird },
      { kind: "grant", sql: `GRANT SELECT ON LARGE OBJECT ${lo} TO ${q(alice)}`, object: `LARGE OBJECT ${lo}`, grantee: alice },
      {
        kind: "defaultPrivileges",
        sql: `ALTER DEFAULT PRIVILEGES FOR ROLE ${q(alice)} IN SCHEMA public GRANT SELECT ON TABLES  TO ${q(weird)}`,
        object: `DEFAULT PRIVILEGES FOR ROLE ${q(alice)} IN SCHEMA public`,
        grantee: weird,
        forRole: alice,
      },
      {
        kind: "defaultPrivileges",
        sql: `ALTER DEFAULT PRIVILEGES FOR ROLE ${q(readers)} REVOKE ALL ON FUNCTIONS  FROM PUBLIC`,
        object: `DEFAULT PRIVILEGES FOR ROLE ${q(readers)}`,
        grantee: "PUBLIC",
        forRole: readers,
      },
    ]);
    const superuser = cluster().user;
    expect(read.ownership).toEqual([
      { sql: `ALTER SCHEMA "s TO x;" OWNER TO ${superuser}`, object: `SCHEMA "s TO x;"`, owner: superuser },
      { sql: `ALTER FUNCTION public.f(a integer, b character varying) OWNER TO ${superuser}`, object: "FUNCTION public.f(a integer, b character varying)", owner: superuser },
      { sql: `ALTER FUNCTION public.g() OWNER TO ${superuser}`, object: "FUNCTION public.g()", owner: superuser },
      { sql: `ALTER TABLE "s TO x;"."t; TO y" OWNER TO ${q(readers)}`, object: table, owner: readers },
      { sql: `ALTER LARGE OBJECT ${lo} OWNER TO ${q(readers)}`, object: `LARGE OBJECT ${lo}`, owner: readers },
    ]);
    expect(rolesNamed(read)).toEqual([alice, readers, superuser, weird].sort());
  });

  test("when the database is in LATIN1 and its names are not ASCII, then they are read as written", async () => {
    const database = uniqueName("latin1_src");
    databases.push(database);
    // Role names live in the cluster-wide catalog (UTF-8 here): only the database's own names are LATIN1.
    const reader = uniqueName("leser");
    await createRoles(reader);
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${database} ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0`));
    await withAdmin(database, (c) => c.query(`CREATE TABLE "Größe" (v int); GRANT SELECT ON "Größe" TO ${id(reader)}`));

    const printed = await printedArchive(database);
    expect(printed.includes(Buffer.from("Größe", "latin1"))).toBe(true); // as pg_restore prints it: LATIN1, not UTF-8
    const read = parseArchivePrivileges(decodeArchiveText(printed, database));
    expect(read.privileges).toEqual([{ kind: "grant", sql: `GRANT SELECT ON TABLE public."Größe" TO ${reader}`, object: `TABLE public."Größe"`, grantee: reader }]);
  });

  test("when a privilege statement is not one pg_dump writes, then reading fails instead of dropping it", () => {
    // Hand-written: pg_dump writes one grantee per statement (dumputils.c buildACLCommands).
    expect(() => parseArchivePrivileges("GRANT SELECT ON TABLE public.t TO a, b;")).toThrow(/not understood: GRANT SELECT ON TABLE public.t TO a, b/);
  });
});

describe("splitting SQL text into statements", () => {
  test("when quotes, dollar quotes, escape strings, nested comments and psql meta-commands hold ';', then only real ends split", () => {
    const script = [
      "\\restrict abc;def",
      "SELECT 'a;''b' AS \"x;\"\"y\"; /* one /* nested; */ still; */ SELECT E'\\';', $f$;$f$, $$ $f$; $$;",
      "-- a comment; with a semicolon",
      "GRANT SELECT ON TABLE public.t TO \"Mixed Case\"",
    ].join("\n");
    const statements = sqlStatements(script);
    expect(statements.map((s) => s.text)).toEqual([
      "SELECT 'a;''b' AS \"x;\"\"y\"",
      "SELECT E'\\';', $f$;$f$, $$ $f$; $$",
      'GRANT SELECT ON TABLE public.t TO "Mixed Case"',
    ]);
    expect(statements[0]!.tokens.map((t) => [t.kind, t.value])).toEqual([["word", "select"], ["string", "a;'b"], ["word", "as"], ["quotedName", 'x;"y']]);
    expect(statements[1]!.tokens.filter((t) => t.kind === "string").map((t) => t.value)).toEqual(["';", ";", " $f$; "]);
    expect(statements[2]!.tokens.at(-1)).toMatchObject({ kind: "quotedName", value: "Mixed Case" });
    expect(() => sqlStatements("SELECT 'open")).toThrow(/ends inside a string/);
  });
});
