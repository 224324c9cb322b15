/**
 * `roles: "createMissing"`: before a Flexible Server point's databases are restored, the roles their dumps name
 * (and the roles those are members of in the roles file, whose privileges they use) are created on the target
 * from the point's roles file, cleaned (rolesFile.ts). Roles the target already has are used as they are: never
 * altered, never given a password. Runs on the target's maintenance database as the restoring user, which needs
 * CREATEROLE (a Flexible Server's admin login has it, without being a superuser).
 *
 * Each created role is made a member of the restoring user (`GRANT <role> TO CURRENT_USER`), which stays so after
 * the restore: to give an object to a role, a non-superuser must be a member of it (PostgreSQL 15), from 16 on with
 * the SET option, which the grant carries by default. Then the file's memberships whose member was created here are
 * granted where both roles exist (without GRANTED BY: the grantor is the restoring user).
 *
 * Safe to repeat and with two copies at once (activities are at-least-once): a role is created together with the
 * comment `pgvault: created by restore job <id>` in one transaction, so a repeated step (or a copy that lost the race:
 * 42710, or 23505 when both inserted at once) recognises the roles its job created and finishes their memberships,
 * and a role someone else created stays untouched.
 */
import pg from "pg";
import type { SkippedRole } from "../domain";
import { PgVaultError } from "../errors";
import { statementFailure } from "../postgres/statementFailure";
import { createRoleOptions, membershipsOfMember, parseRolesFile, reasonNotCreated, type RoleAttributes, type RoleMembership } from "./rolesFile";

export interface RolesCreated {
  /** Sorted; includes those an earlier attempt of the same job created. */
  rolesCreated: string[];
  rolesSkipped: SkippedRole[];
}

const ident = (name: string) => pg.escapeIdentifier(name);
const alreadyThere = new Set(["42710", "23505"]);

/** The comment a role created for `jobId` carries. */
export function createdRoleMark(jobId: string): string {
  return `pgvault: created by restore job ${jobId}`;
}

/** The roles job `jobId` created on this server, found by their mark (a cancelled job's history is not read). */
export async function rolesCreatedBy(client: pg.Client, jobId: string): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>(
    `SELECT rolname FROM pg_catalog.pg_roles WHERE pg_catalog.shobj_description(oid, 'pg_authid') = $1 ORDER BY rolname`,
    [createdRoleMark(jobId)],
  );
  return rows.map((row) => row.rolname);
}

/** Drops the roles a restore created, keeping any that something came to depend on meanwhile (2BP01); returns those kept. */
export async function dropRoles(client: pg.Client, roles: readonly string[]): Promise<string[]> {
  const kept: string[] = [];
  for (const role of roles) {
    try {
      await client.query(`DROP ROLE IF EXISTS ${ident(role)}`);
    } catch (err) {
      if ((err as { code?: string }).code !== "2BP01") throw err;
      kept.push(role);
    }
  }
  return kept;
}

interface ServerFacts {
  versionNum: number;
  superuser: boolean;
}

/**
 * Creates the roles of `needed` the target lacks, and what they are members of, from `rolesFileText`; `client` is
 * connected to the target server as the restoring user. Returns the roles created and the ones it would not or
 * could not create (or make members as the file says), with the reason.
 */
export async function createMissingRoles(client: pg.Client, rolesFileText: string, needed: readonly string[], jobId: string): Promise<RolesCreated> {
  const file = parseRolesFile(rolesFileText);
  const mark = createdRoleMark(jobId);
  const facts = await serverFacts(client);
  const created: string[] = [];
  const rolesSkipped: SkippedRole[] = [];
  const queue = [...new Set(needed)].sort();
  const seen = new Set(queue);
  for (let role = queue.shift(); role !== undefined; role = queue.shift()) {
    const existing = await commentOf(client, role);
    if (existing !== undefined && existing !== mark) continue; // the target's own: used as it is
    if (existing === undefined) {
      const reason = reasonNotCreated(role, file);
      if (reason) {
        rolesSkipped.push({ role, reason });
        continue;
      }
      if (!(await createRole(client, role, file.roles.get(role)!, mark))) continue;
    }
    created.push(role);
    for (const { role: group } of membershipsOfMember(file, role)) {
      if (!seen.has(group)) queue.push(group);
      seen.add(group);
    }
  }
  for (const role of created) {
    if (!facts.superuser) await query(client, `GRANT ${ident(role)} TO CURRENT_USER`, `making the restoring user a member of '${role}'`);
  }
  const createdHere = new Set(created);
  for (const membership of file.memberships.filter((m) => createdHere.has(m.member))) {
    const skipped = await grantMembership(client, membership, facts);
    if (skipped) rolesSkipped.push(skipped);
  }
  return { rolesCreated: created.sort(), rolesSkipped };
}

async function serverFacts(client: pg.Client): Promise<ServerFacts> {
  const { rows } = await query<{ num: string; superuser: boolean }>(
    client,
    `SELECT current_setting('server_version_num') AS num, rolsuper AS superuser FROM pg_catalog.pg_roles WHERE rolname = current_user`,
    "reading the server's version",
  );
  return { versionNum: Number(rows[0]!.num), superuser: rows[0]!.superuser };
}

/** The role's comment: null without one, undefined when there is no such role. */
async function commentOf(client: pg.Client, role: string): Promise<string | null | undefined> {
  const { rows } = await query<{ mark: string | null }>(
    client,
    `SELECT pg_catalog.shobj_description(oid, 'pg_authid') AS mark FROM pg_catalog.pg_roles WHERE rolname = $1`,
    `looking up role '${role}'`,
    [role],
  );
  return rows.length === 0 ? undefined : rows[0]!.mark;
}

/** Creates the role with its mark; false when it appeared meanwhile and is not this job's. */
async function createRole(client: pg.Client, role: string, attributes: RoleAttributes, mark: string): Promise<boolean> {
  const options = createRoleOptions(attributes);
  try {
    await client.query("BEGIN");
    // SQL text: the options are createRoleOptions' fixed keywords and an integer connection limit.
    await client.query(`CREATE ROLE ${ident(role)}${options ? ` WITH ${options}` : ""}`);
    await client.query(`COMMENT ON ROLE ${ident(role)} IS ${pg.escapeLiteral(mark)}`);
    await client.query("COMMIT");
    return true;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    const code = (err as { code?: string }).code ?? "";
    if (alreadyThere.has(code)) return (await commentOf(client, role)) === mark;
    if (code === "42501") {
      throw new PgVaultError(
        "UserErrorMissingRestorePermissions",
        `The restoring user may not create role '${role}' (${options || "no attributes"}): ${(err as Error).message}.`,
        { recommendedAction: "Restore as a user with CREATEROLE (and CREATEDB, to create roles that have it), or create the role on the target first, or restore with roles: \"skip\"." },
      );
    }
    throw statementFailure(err, `creating role '${role}'`);
  }
}

/** Grants the membership where both roles exist; what was not granted, and why, as a skipped entry. */
async function grantMembership(client: pg.Client, m: RoleMembership, facts: ServerFacts): Promise<SkippedRole | undefined> {
  if ((await commentOf(client, m.role)) === undefined) return undefined; // a role not created: listed as skipped already
  const notGranted = (why: string) => ({ role: m.member, reason: `created, but not made a member of '${m.role}': ${why}` });
  let options: string[];
  if (facts.versionNum >= 160000) {
    options = [...(m.admin ? ["ADMIN OPTION"] : []), ...(m.inherit !== undefined ? [`INHERIT ${m.inherit ? "TRUE" : "FALSE"}`] : []), ...(m.set === false ? ["SET FALSE"] : [])];
  } else if (m.inherit === false || m.set === false) {
    return notGranted("the source limits it with INHERIT FALSE or SET FALSE, which the target (before PostgreSQL 16) cannot");
  } else {
    options = m.admin ? ["ADMIN OPTION"] : [];
  }
  try {
    // SQL text: the options are the fixed keywords chosen just above.
    await client.query(`GRANT ${ident(m.role)} TO ${ident(m.member)}${options.length > 0 ? ` WITH ${options.join(", ")}` : ""}`);
    return undefined;
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (code === "23505") return undefined; // another copy granted it at the same moment
    // 42501: the restoring user may not grant that role; 0LP01: it would make a circle of memberships.
    if (code === "42501" || code === "0LP01") return notGranted((err as Error).message);
    throw statementFailure(err, `granting role '${m.role}' to '${m.member}'`);
  }
}

async function query<R extends pg.QueryResultRow>(client: pg.Client, sql: string, doing: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    // SQL text: every caller in this file passes constant text and its values as parameters.
    return await client.query<R>(sql, values);
  } catch (err) {
    throw statementFailure(err, doing);
  }
}

