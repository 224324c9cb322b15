/**
 * Applies an archive's grants, and on request its owners, inside the database pg_restore just filled with
 * `--no-owner --no-privileges` (so the restoring user owns every object), before it is marked complete: what the
 * target can take is applied, what it cannot is left out and counted per role, and anything else fails the restore
 * (the unmarked database is then dropped: never half-restored).
 *
 * - Grants first, in the archive's order, while the restoring user owns everything and may grant on it. A grant
 *   whose grantee is missing on the target is left out; so are default privileges `FOR ROLE` a role that is missing
 *   or that the user cannot act for (PostgreSQL wants "a role you are a member of", with its privileges,
 *   https://www.postgresql.org/docs/current/sql-alterdefaultprivileges.html). A grant made on the source by another
 *   grantor is made here as the owner's. The server answering a grant with only a warning that nothing was granted
 *   (01007, 01006: an object the user does not own, such as a system function) leaves it out too; one it refuses
 *   outright (42501: the user has no privilege on the object at all) fails the restore, naming the object.
 * - Then, with `ownership: "existing"`, each object goes to its owner where that role exists and the user may hand
 *   objects to it (ALTER ... OWNER needs membership in the new owner, https://www.postgresql.org/docs/current/sql-altertable.html;
 *   from PostgreSQL 16 with the SET option). ALTER OWNER rewrites the old owner into the new one in the object's
 *   grants, as grantor too, so the grants made above end up the owner's. An owner the server still refuses (42501:
 *   it lacks CREATE on the object's schema, or must be a superuser to own an event trigger) is left out as well:
 *   the object stays the restoring user's, as it would without the owner.
 */
import type pg from "pg";
import type { PrivilegesMode, SkippedForRole } from "../domain";
import { PgVaultError } from "../errors";
import { statementFailure } from "../postgres/statementFailure";
import { everyone, rolesNamed, type ArchivePrivileges, type PrivilegeStatement } from "./archivePrivileges";
import { SkippedStatements } from "./restoreReport";

/**
 * How a restore treats the archive's owners and grants (unless it preserves them as pg_restore would):
 * `none` leaves every object to the restoring user and keeps the grants whose grantees exist; `existing` also
 * gives objects to their owners where they exist and the user may hand objects to them.
 */
export interface PrivilegeHandling {
  ownership: "none" | "existing";
  /** `none`: no grant is applied (the target's `privileges: "none"`); absent: `all`. */
  privileges?: PrivilegesMode;
}

export interface PrivilegesApplied {
  grantsSkipped: SkippedForRole[];
  ownershipSkipped: SkippedForRole[];
}

interface RoleFacts {
  exists: boolean;
  /** The restoring user has the role's privileges (USAGE): may change its default privileges. */
  actsFor: boolean;
  /** The restoring user may make it an object's owner. */
  handsTo: boolean;
}

/** Warnings of a GRANT or REVOKE that did nothing: privilege_not_granted, privilege_not_revoked (Appendix A). */
const nothingDone = new Set(["01007", "01006"]);

/**
 * Applies `privileges` through `client`, connected as the restoring user to the restored database; `database` is the
 * target's name, for the report. Returns what was left out, per role.
 */
export async function applyPrivileges(
  client: pg.Client,
  privileges: ArchivePrivileges,
  { ownership, privileges: mode, database }: PrivilegeHandling & { database: string },
): Promise<PrivilegesApplied> {
  const facts = await roleFacts(client, privileges).catch((err: unknown) => {
    throw statementFailure(err, `looking up the roles the grants of '${database}' name`);
  });
  const grantsSkipped = new SkippedStatements();
  for (const statement of mode === "none" ? [] : privileges.privileges) {
    const missing = missingFor(statement, facts);
    if (missing !== undefined) {
      grantsSkipped.add(missing, statement.sql);
      continue;
    }
    const { outcome, error } = await run(client, statement.sql, database);
    if (outcome === "refused") throw refused(statement, database);
    const skippedFor = outcome === "roleGone" ? await goneRole(client, [statement.forRole, statement.grantee]) : statement.grantee;
    if (skippedFor === undefined) throw statementFailure(error, `restoring "${statement.sql}" in '${database}'`);
    if (outcome !== "done") grantsSkipped.add(skippedFor, statement.sql);
  }
  const ownershipSkipped = new SkippedStatements();
  if (ownership === "existing") {
    for (const statement of privileges.ownership) {
      const fact = facts.get(statement.owner);
      const { outcome, error } = fact?.exists && fact.handsTo ? await run(client, statement.sql, database) : { outcome: "refused" };
      if (outcome === "roleGone" && !(await goneRole(client, [statement.owner]))) throw statementFailure(error, `restoring "${statement.sql}" in '${database}'`);
      if (outcome !== "done") ownershipSkipped.add(statement.owner, statement.sql);
    }
  }
  return { grantsSkipped: grantsSkipped.list(database), ownershipSkipped: ownershipSkipped.list(database) };
}

/** The role whose absence (or whose privileges the user lacks) keeps the statement out, if any. */
function missingFor(statement: PrivilegeStatement, facts: Map<string, RoleFacts>): string | undefined {
  if (statement.forRole !== undefined && !facts.get(statement.forRole)?.actsFor) return statement.forRole;
  if (statement.grantee !== everyone && !facts.get(statement.grantee)?.exists) return statement.grantee;
  return undefined;
}

/** Sets the session up as pg_restore's own script does (every name is schema-qualified), and reads the roles. */
async function roleFacts(client: pg.Client, privileges: ArchivePrivileges): Promise<Map<string, RoleFacts>> {
  // Warnings must reach us: they tell a grant that did nothing.
  await client.query("SELECT pg_catalog.set_config('search_path', '', false), pg_catalog.set_config('client_min_messages', 'warning', false)");
  // pg_has_role is true for a superuser; the SET option (16 and later) is what ALTER OWNER checks there.
  const { rows } = await client.query<{ name: string; exists: boolean; acts_for: boolean; hands_to: boolean }>(
    `SELECT n.name, r.oid IS NOT NULL AS exists,
            coalesce(pg_catalog.pg_has_role(r.oid, 'USAGE'), false) AS acts_for,
            coalesce(pg_catalog.pg_has_role(r.oid, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END), false) AS hands_to
     FROM unnest($1::text[]) AS n(name) LEFT JOIN pg_catalog.pg_roles r ON r.rolname = n.name`,
    [rolesNamed(privileges)],
  );
  return new Map(rows.map((row) => [row.name, { exists: row.exists, actsFor: row.acts_for, handsTo: row.hands_to }]));
}

/** The first of the statement's roles that no longer exists (dropped since the check), if one is gone. */
async function goneRole(client: pg.Client, roles: (string | undefined)[]): Promise<string | undefined> {
  const named = roles.filter((role): role is string => role !== undefined && role !== everyone);
  const { rows } = await client.query<{ rolname: string }>(`SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1)`, [named]);
  return named.find((role) => !rows.some((row) => row.rolname === role));
}

interface Ran {
  outcome: "done" | "nothingDone" | "refused" | "roleGone";
  error?: unknown;
}

/**
 * The statement as a query of the extended protocol, which runs one statement at most: text read from an archive
 * can never run as two, whatever it holds (node-pg's `queryMode`, not in its type declarations).
 */
function singleStatement(sql: string): pg.QueryConfig {
  return { text: sql, queryMode: "extended" } as pg.QueryConfig;
}

/** Runs one statement; what the server answered, in the terms above. Any other failure is thrown. */
async function run(client: pg.Client, sql: string, database: string): Promise<Ran> {
  let warned = false;
  const listener = (notice: { code?: string }) => {
    if (notice.code && nothingDone.has(notice.code)) warned = true;
  };
  client.on("notice", listener);
  try {
    // The extended protocol runs one statement at most, whatever the text holds.
    // SQL text: one GRANT/REVOKE/ALTER ... OWNER statement of the archive, parsed and its roles checked.
    await client.query(singleStatement(sql));
    return { outcome: warned ? "nothingDone" : "done" };
  } catch (error) {
    const code = (error as { code?: string }).code ?? "";
    if (code === "42501") return { outcome: "refused", error };
    // Perhaps a role dropped since its check: the caller looks again.
    if (code === "42704") return { outcome: "roleGone", error };
    throw statementFailure(error, `restoring "${sql}" in '${database}'`);
  } finally {
    client.off("notice", listener);
  }
}

function refused(statement: PrivilegeStatement, database: string): PgVaultError {
  return new PgVaultError(
    "UserErrorMissingRestorePermissions",
    `The restoring user may not restore the grants on ${statement.object} in '${database}' ("${statement.sql}").`,
    {
      recommendedAction:
        "Restore as a user that may grant on that object (its owner, or a superuser), " +
        "or give the restoring user the privilege on it WITH GRANT OPTION on the target server, then retry.",
    },
  );
}
