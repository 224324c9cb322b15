/**
 * The grant script for a database that fails the backup access check (issue 27, "Protect databases"): the
 * script of docs/troubleshooting.md ("UserErrorMissingDBPermissions"), for one user and one database, with a
 * block for each schema the check found something missing in. Run as the owner of those objects or an admin,
 * connected to that database, it grants everything the check asked for (test/console/protectApi.test.ts runs it
 * and checks again). Names go in quoted (pg.escapeIdentifier) and only as identifiers, never in comments, so no
 * database, schema or table name can end a statement or a comment early.
 */
import pg from "pg";
import type { MissingGrant } from "../postgres/backupAccess";

const ident = (name: string) => pg.escapeIdentifier(name);

export function grantScript(database: string, user: string, missing: readonly MissingGrant[]): string {
  const to = ident(user);
  const lines = [
    "-- pgvault backup access: run as the owner of these objects (or an admin), connected to the database below.",
    `GRANT CONNECT ON DATABASE ${ident(database)} TO ${to};`,
  ];
  const schemas = [...new Set(missing.flatMap((grant) => (grant.kind === "connect" ? [] : [grant.schema])))];
  for (const schema of schemas) {
    const s = ident(schema);
    lines.push(
      `GRANT USAGE ON SCHEMA ${s} TO ${to};`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${to};`,
      `GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${to};`,
      // Tables and sequences the role running this script creates later are readable too (the seed's script).
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${to};`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON SEQUENCES TO ${to};`,
    );
  }
  // Without CONNECT the user could not look inside: what else is missing shows once it can.
  if (schemas.length === 0 && missing.some((grant) => grant.kind === "connect")) {
    lines.push("-- The user could not connect, so its schemas were not checked: discover again after running this.");
  }
  return `${lines.join("\n")}\n`;
}
