/**
 * A Flexible Server point's roles file, as `pg_dumpall --roles-only` writes it (src/bin/pg_dump/pg_dumpall.c
 * `dumpRoles`, `dumpRoleMembership`), read into roles and memberships, and cleaned for creating roles on another
 * server:
 * - `CREATE ROLE <name>;` then `ALTER ROLE <name> WITH <attributes> [CONNECTION LIMIT n] [PASSWORD '...']
 *   [VALID UNTIL '...'];`
 * - `GRANT <role> TO <member> [WITH ADMIN OPTION] [GRANTED BY <grantor>];` (15), from 16 on
 *   `[WITH ADMIN OPTION, INHERIT TRUE|FALSE[, SET FALSE]]`.
 * Comments, `SET` lines, role settings (`ALTER ROLE ... SET`), `COMMENT ON ROLE`, security labels and grants on
 * parameters are not carried.
 *
 * Cleaning (docs/api.md, restore of a Flexible Server point): a created role never gets SUPERUSER, REPLICATION or
 * BYPASSRLS, nor the NO- forms (PostgreSQL 15 and earlier refuse a non-superuser naming them at all), nor a
 * password or its expiry. Flexible Server's own roles and the source's administrators are not created.
 */
import { isWord, nameOf, sqlStatements, startsWith, type SqlStatement, type SqlToken } from "../postgres/sqlScript";

/** What a created role carries over from the file; anything else is left out. */
export interface RoleAttributes {
  login?: boolean;
  inherit?: boolean;
  createdb?: boolean;
  createrole?: boolean;
  connectionLimit?: number;
}

export interface RoleMembership {
  role: string;
  member: string;
  admin: boolean;
  /** From PostgreSQL 16 on: undefined when the file does not say (the member's own INHERIT decides). */
  inherit?: boolean;
  /** From PostgreSQL 16 on: false when the member may not SET ROLE to the role. */
  set?: boolean;
}

export interface RolesFile {
  roles: Map<string, RoleAttributes>;
  memberships: RoleMembership[];
}

const flags: Record<string, [keyof RoleAttributes, boolean]> = {
  login: ["login", true], nologin: ["login", false],
  inherit: ["inherit", true], noinherit: ["inherit", false],
  createdb: ["createdb", true], nocreatedb: ["createdb", false],
  createrole: ["createrole", true], nocreaterole: ["createrole", false],
};

export function parseRolesFile(text: string): RolesFile {
  const file: RolesFile = { roles: new Map(), memberships: [] };
  for (const statement of sqlStatements(text)) {
    const { tokens } = statement;
    if (startsWith(statement, "create", "role") || startsWith(statement, "create", "user") || startsWith(statement, "create", "group")) {
      const name = nameOf(tokens[2]);
      if (!name) continue;
      // CREATE USER is CREATE ROLE with LOGIN.
      const attributes = { ...file.roles.get(name), ...(isWord(tokens[1], "user") ? { login: true } : {}) };
      file.roles.set(name, { ...attributes, ...attributesOf(tokens, 3) });
    } else if ((startsWith(statement, "alter", "role") || startsWith(statement, "alter", "user")) && alterIsAttributes(tokens)) {
      const name = nameOf(tokens[2])!;
      file.roles.set(name, { ...file.roles.get(name), ...attributesOf(tokens, 3) });
    } else if (startsWith(statement, "grant")) {
      file.memberships.push(...membershipsOf(statement));
    }
  }
  return file;
}

/** `ALTER ROLE <name> [WITH] <attributes>`, not `... SET`, `RESET`, `RENAME TO` or `IN DATABASE`. */
function alterIsAttributes(tokens: readonly SqlToken[]): boolean {
  const next = tokens[3];
  return nameOf(tokens[2]) !== undefined && !["set", "reset", "rename", "in"].some((word) => isWord(next, word));
}

/** The attributes from token `from` on; the ones a created role never carries are read past. */
function attributesOf(tokens: readonly SqlToken[], from: number): RoleAttributes {
  const attributes: RoleAttributes = {};
  for (let i = from; i < tokens.length; i++) {
    const token = tokens[i]!;
    const flag = token.kind === "word" ? flags[token.value] : undefined;
    if (flag) {
      attributes[flag[0] as "login" | "inherit" | "createdb" | "createrole"] = flag[1];
    } else if (isWord(token, "connection") && isWord(tokens[i + 1], "limit")) {
      const limit = tokens[i + 2]?.kind === "number" ? Number(tokens[i + 2]!.value) : tokens[i + 2]?.kind === "symbol" ? -Number(tokens[i + 3]?.value) : NaN;
      if (Number.isInteger(limit)) attributes.connectionLimit = limit;
    }
  }
  return attributes;
}

/** `GRANT <roles> TO <members> [WITH ...] [GRANTED BY ...]`; nothing for a grant ON an object or parameter. */
function membershipsOf(statement: SqlStatement): RoleMembership[] {
  const { tokens } = statement;
  const to = tokens.findIndex((token) => isWord(token, "to"));
  if (to < 0 || tokens.slice(1, to).some((token) => isWord(token, "on"))) return [];
  const roles = namesIn(tokens.slice(1, to));
  let end = tokens.findIndex((token, i) => i > to && (isWord(token, "with") || (isWord(token, "granted") && isWord(tokens[i + 1], "by"))));
  if (end < 0) end = tokens.length;
  const members = namesIn(tokens.slice(to + 1, end));
  const options = isWord(tokens[end], "with") ? grantOptions(tokens.slice(end + 1)) : {};
  return roles.flatMap((role) => members.map((member) => ({ role, member, admin: false, ...options })));
}

/** Names separated by commas. */
function namesIn(tokens: readonly SqlToken[]): string[] {
  return tokens.map((token) => nameOf(token)).filter((name): name is string => name !== undefined);
}

/** `ADMIN OPTION`, `ADMIN TRUE|FALSE`, `INHERIT TRUE|FALSE`, `SET TRUE|FALSE`, comma-separated, up to GRANTED BY. */
function grantOptions(tokens: readonly SqlToken[]): Partial<RoleMembership> {
  const options: Partial<RoleMembership> = {};
  for (let i = 0; i < tokens.length && !isWord(tokens[i], "granted"); i++) {
    const value = tokens[i + 1];
    const yes = isWord(value, "option") || isWord(value, "true");
    if (isWord(tokens[i], "admin")) options.admin = yes;
    else if (isWord(tokens[i], "inherit")) options.inherit = yes;
    else if (isWord(tokens[i], "set")) options.set = yes;
  }
  return options;
}

/**
 * Roles Azure Database for PostgreSQL Flexible Server keeps for itself: `azure_pg_admin`, `azuresu` (the same page),
 * `azure_superuser` and `replication`, which Azure Backup's own restore steps remove from the roles file
 * (articles/backup/restore-azure-database-postgresql-flex.md); any other `azure_` role is taken to be the service's.
 */
function isServiceRole(role: string): boolean {
  return role.startsWith("azure_") || role === "azuresu" || role === "replication";
}

/** The reason given for a role the file does not define. */
export const notInFile = "not in the roles file";

/**
 * Why `role` is never created from the file (undefined: it may be): Flexible Server's own roles, the reserved
 * `pg_` names, and the source's administrators: "the admin role is a member of the azure_pg_admin role", and more
 * admins are made by granting it (MicrosoftDocs, "Access management in Azure Database for PostgreSQL flexible
 * server", https://learn.microsoft.com/azure/postgresql/security/security-access-control). Their objects stay the
 * restoring user's.
 */
export function reasonNotCreated(role: string, file: RolesFile): string | undefined {
  if (isServiceRole(role)) return "a role of Azure Database for PostgreSQL Flexible Server itself";
  if (role.startsWith("pg_")) return "a predefined role of PostgreSQL that this server does not have (the pg_ prefix is reserved)";
  if (file.memberships.some((m) => m.member === role && m.role === "azure_pg_admin")) return "the source server's administrator (a member of azure_pg_admin)";
  if (!file.roles.has(role)) return notInFile;
  return undefined;
}

/** The options of CREATE ROLE for the role as cleaned: only what `RoleAttributes` carries, never a password. */
export function createRoleOptions(attributes: RoleAttributes): string {
  const words: string[] = [];
  for (const [word, [attribute, value]] of Object.entries(flags)) {
    if (attributes[attribute] === value) words.push(word.toUpperCase());
  }
  if (attributes.connectionLimit !== undefined) words.push(`CONNECTION LIMIT ${attributes.connectionLimit}`);
  return words.join(" ");
}

/** The roles `role` is a member of in the file, directly. */
export function membershipsOfMember(file: RolesFile, member: string): RoleMembership[] {
  return file.memberships.filter((m) => m.member === member);
}

/**
 * `roles` and, transitively, every role the file makes a member of them: the logins that reach a group's objects
 * through it. Sorted.
 */
export function withMembers(file: RolesFile, roles: readonly string[]): string[] {
  const found = new Set(roles);
  const queue = [...found];
  for (let role = queue.shift(); role !== undefined; role = queue.shift()) {
    for (const { member } of file.memberships.filter((m) => m.role === role)) {
      if (!found.has(member)) queue.push(member);
      found.add(member);
    }
  }
  return [...found].sort();
}
