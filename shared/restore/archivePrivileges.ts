/**
 * The ownership and privilege statements of a pg_dump archive, read from the SQL pg_restore prints for it (no
 * database needed; `readArchivePrivileges` in databaseRestore.ts feeds it the archive's head, where the table of
 * contents holds every statement but the table data), so a restore can run `pg_restore --no-owner --no-privileges`
 * and then apply of them only what the target can take (applyPrivileges.ts).
 *
 * What pg_restore prints for them (pg_dump 15 to 17; src/bin/pg_dump/dumputils.c `buildACLCommands`,
 * `buildDefaultACLCommands`, pg_backup_archiver.c `_printTocEntry`):
 * - `ALTER <kind> <name> OWNER TO <role>;` after each object that has an owner;
 * - `GRANT <privileges> ON <kind> <name> TO <role> [WITH GRANT OPTION];` and `REVOKE ... FROM <role>;`, one grantee
 *   each (`PUBLIC` included), columns as `GRANT SELECT(col) ON TABLE ...`;
 * - grants made by someone other than the owner wrapped in `SET SESSION AUTHORIZATION <grantor>;` ...
 *   `RESET SESSION AUTHORIZATION;`;
 * - `ALTER DEFAULT PRIVILEGES FOR ROLE <role> [IN SCHEMA <schema>] GRANT|REVOKE ...`.
 * Large objects and their grants are restored with the data, so the head is printed by section (pre-data and
 * post-data) rather than with `--schema-only`, which leaves them out.
 */
import { PgVaultError, someOf } from "../errors";
import { isWord, nameOf, sqlStatements, startsWith, topLevelWord, type SqlStatement, type SqlToken } from "../postgres/sqlScript";

/** `GRANT`/`REVOKE` on an object, or `ALTER DEFAULT PRIVILEGES`: applied as written, when its roles exist. */
export interface PrivilegeStatement {
  kind: "grant" | "revoke" | "defaultPrivileges";
  /** The statement as pg_restore printed it, without its `;`. */
  sql: string;
  /** What it is about, as written: `TABLE public.orders`, `DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA sales`. */
  object: string;
  /** The role it grants to or revokes from; `PUBLIC` for everyone. */
  grantee: string;
  /** `ALTER DEFAULT PRIVILEGES FOR ROLE <forRole>`: whose future objects it is about. */
  forRole?: string;
  /**
   * Who made the grant on the source, when not the owner (a `SET SESSION AUTHORIZATION` block). Informational:
   * the grant is restored as the owner's, since the restoring user cannot act as another role.
   */
  grantor?: string;
}

/** `ALTER <kind> <name> OWNER TO <owner>`. */
export interface OwnershipStatement {
  sql: string;
  object: string;
  owner: string;
}

export interface ArchivePrivileges {
  /** In the archive's order, which is the order they must be applied in (a REVOKE before the GRANT after it). */
  privileges: PrivilegeStatement[];
  /** In the archive's order: a schema before the objects in it. */
  ownership: OwnershipStatement[];
}

/** The keyword pg_dump writes for everyone; an unquoted `public` cannot be a role's name. */
export const everyone = "PUBLIC";

const shownUnreadable = 3;

/** What pg_restore is asked to print (no database: SQL on stdout): everything but the table data. */
export const privilegeSections = ["--section=pre-data", "--section=post-data", "--file=-"];

/**
 * The ownership and privilege statements of pg_restore's SQL. One it cannot read is an error: a grant this code
 * does not understand must fail the restore rather than vanish from it.
 */
export function parseArchivePrivileges(sql: string): ArchivePrivileges {
  const result: ArchivePrivileges = { privileges: [], ownership: [] };
  const unreadable: string[] = [];
  let grantor: string | undefined;
  for (const statement of sqlStatements(sql)) {
    if (startsWith(statement, "set", "session", "authorization")) {
      const role = statement.tokens[3];
      grantor = role?.kind === "word" && role.value === "default" ? undefined : nameOf(role);
    } else if (startsWith(statement, "reset", "session", "authorization")) {
      grantor = undefined;
    } else if (startsWith(statement, "grant") || startsWith(statement, "revoke")) {
      const privilege = objectPrivilege(statement);
      if (privilege === null) continue; // a role membership: not in a database's dump
      if (privilege) result.privileges.push({ ...privilege, ...(grantor ? { grantor } : {}) });
      else unreadable.push(statement.text);
    } else if (startsWith(statement, "alter", "default", "privileges")) {
      const privilege = defaultPrivilege(statement);
      if (privilege) result.privileges.push(privilege);
      else unreadable.push(statement.text);
    } else if (startsWith(statement, "alter") && ownerAt(statement.tokens) > 0) {
      const at = ownerAt(statement.tokens);
      result.ownership.push({
        sql: statement.text,
        object: between(statement, statement.tokens[1]!, statement.tokens[at]!),
        owner: nameOf(statement.tokens[at + 2])!,
      });
    }
  }
  if (unreadable.length > 0) {
    throw new PgVaultError("SystemErrorUnexpected", `The archive's privileges could not be read; not understood: ${someOf(unreadable, shownUnreadable)}.`);
  }
  return result;
}

/**
 * Every role the statements name (owners, grantees, `FOR ROLE` roles), without `PUBLIC`, sorted: what the target
 * needs for the archive to restore with its owners and grants.
 */
export function rolesNamed(privileges: ArchivePrivileges): string[] {
  const roles = new Set<string>();
  for (const { owner } of privileges.ownership) roles.add(owner);
  for (const { grantee, forRole } of privileges.privileges) {
    if (grantee !== everyone) roles.add(grantee);
    if (forRole) roles.add(forRole);
  }
  return [...roles].sort();
}

/** The statement's text from the start of `from` to the start of `to`. */
function between(statement: SqlStatement, from: SqlToken, to: SqlToken): string {
  return statement.text.slice(from.start, to.start).trim();
}

/** `... OWNER TO <role>` at the statement's end: the index of OWNER, or -1. */
function ownerAt(tokens: readonly SqlToken[]): number {
  const at = tokens.length - 3;
  // Not `SET some.owner TO x`: OWNER is a word of its own.
  const qualified = tokens[at - 1]?.kind === "symbol" && tokens[at - 1]?.value === ".";
  return at > 0 && !qualified && isWord(tokens[at], "owner") && isWord(tokens[at + 1], "to") && nameOf(tokens[at + 2]) !== undefined ? at : -1;
}

/**
 * The grantee at the end of a GRANT (`TO <role> [WITH GRANT OPTION]`) or REVOKE (`FROM <role> [CASCADE|RESTRICT]`),
 * and the index of its TO/FROM; undefined when the end is not one of those.
 */
function granteeAtEnd(tokens: readonly SqlToken[], grant: boolean): { grantee: string; at: number } | undefined {
  let end = tokens.length;
  if (grant && isWord(tokens[end - 3], "with") && isWord(tokens[end - 2], "grant") && isWord(tokens[end - 1], "option")) end -= 3;
  if (!grant && (isWord(tokens[end - 1], "cascade") || isWord(tokens[end - 1], "restrict"))) end -= 1;
  const role = tokens[end - 1];
  const name = nameOf(role);
  if (!name || !isWord(tokens[end - 2], grant ? "to" : "from")) return undefined;
  return { grantee: role!.kind === "word" && name === "public" ? everyone : name, at: end - 2 };
}

/**
 * A GRANT or REVOKE on an object (from its first token); null for a role membership (no ON), undefined when it is
 * neither as pg_dump writes it.
 */
function objectPrivilege(statement: SqlStatement, first = 0): Omit<PrivilegeStatement, "grantor"> | null | undefined {
  const tokens = statement.tokens.slice(first);
  const grant = isWord(tokens[0], "grant");
  const on = topLevelWord(tokens, "on");
  const end = granteeAtEnd(tokens, grant);
  if (on < 0) return end || topLevelWord(tokens, grant ? "to" : "from") > 0 ? null : undefined;
  if (!end || end.at <= on + 1) return undefined;
  return { kind: grant ? "grant" : "revoke", sql: statement.text, object: between(statement, tokens[on + 1]!, tokens[end.at]!), grantee: end.grantee };
}

/** `ALTER DEFAULT PRIVILEGES FOR ROLE|USER <role> [IN SCHEMA <schema>] GRANT|REVOKE ...`. */
function defaultPrivilege(statement: SqlStatement): PrivilegeStatement | undefined {
  const { tokens } = statement;
  const forRole = isWord(tokens[3], "for") && (isWord(tokens[4], "role") || isWord(tokens[4], "user")) ? nameOf(tokens[5]) : undefined;
  const inner = tokens.findIndex((token, i) => i > 2 && (isWord(token, "grant") || isWord(token, "revoke")));
  if (!forRole || inner < 0) return undefined;
  const privilege = objectPrivilege(statement, inner);
  if (!privilege) return undefined;
  return { ...privilege, kind: "defaultPrivileges", object: between(statement, tokens[1]!, tokens[inner]!), forRole };
}
