/**
 * The restore access check (SPEC section 5): the target user can connect to the target server and may create
 * databases, because pgvault always restores into a fresh temporary database first. Replacing an existing
 * database also needs its ownership (or superuser). Runs on the server's maintenance database.
 */
import type pg from "pg";
import type { DatabaseRestoreTarget } from "../domain";
import { PgVaultError } from "../errors";
import { connect, type ConnectionParams } from "../postgres/connection";
import { checkIntoSchemaTarget } from "./intoSchema";

export interface RestoreFacts {
  /** The server the target's sign-in is bound to (a secret's own, when the request left host or port out). */
  server: { host: string; port: number };
  serverVersion: string;
  serverVersionNum: number;
  targetExists: boolean;
}

const maintenanceDatabases = ["postgres", "template1"];

/** A connection to the target server's maintenance database (`postgres`, else `template1`). */
export async function connectMaintenance(params: ConnectionParams): Promise<pg.Client> {
  for (const database of maintenanceDatabases) {
    try {
      return await connect({ ...params, database });
    } catch (err) {
      if (err instanceof PgVaultError && err.code === "UserErrorMissingDBPermissions") {
        throw new PgVaultError("UserErrorMissingRestorePermissions", `User '${params.user}' may not connect to '${database}' on ${params.host}:${params.port}.`);
      }
      if (!(err instanceof PgVaultError && err.code === "UserErrorDBNotFound") || database === maintenanceDatabases.at(-1)) throw err;
    }
  }
  throw new Error("unreachable");
}

/**
 * A restore `intoSchema` writes into an existing database instead (intoSchema.ts `checkIntoSchemaTarget`): it must
 * exist, take a new schema from the user, and not have that schema yet; CREATEDB is still needed for the temporary
 * database the subset is restored into first.
 */
export async function checkRestoreAccess(params: ConnectionParams, target: DatabaseRestoreTarget): Promise<RestoreFacts> {
  if (target.intoSchema !== undefined) {
    const facts = await checkRestoreTargets(params, { databases: [], overwrite: false, createRoles: false });
    await checkIntoSchemaTarget(params, target);
    return { ...facts, targetExists: true };
  }
  const facts = await checkRestoreTargets(params, { databases: [target.database], overwrite: target.overwrite, createRoles: false });
  return { ...facts, targetExists: facts.existing.length > 0 };
}

export interface TargetsFacts extends Omit<RestoreFacts, "targetExists"> {
  /** Those of the databases that exist on the server now (each to be replaced: overwrite was asked for). */
  existing: string[];
}

/**
 * The restore access check for one or more databases on one server: CREATEDB (or superuser); for each database
 * that exists, overwrite asked for and ownership of it (or superuser); with `createRoles`, CREATEROLE (or
 * superuser). The first refusal names every database it applies to.
 */
export async function checkRestoreTargets(
  params: ConnectionParams,
  { databases, overwrite, createRoles }: { databases: readonly string[]; overwrite: boolean; createRoles: boolean },
): Promise<TargetsFacts> {
  const client = await connectMaintenance(params);
  try {
    const { rows } = await client.query<{ createdb: boolean; createrole: boolean; superuser: boolean; version: string; num: string }>(
      `SELECT rolcreatedb AS createdb, rolcreaterole AS createrole, rolsuper AS superuser,
              current_setting('server_version') AS version, current_setting('server_version_num') AS num
       FROM pg_roles WHERE rolname = current_user`,
    );
    const existing = await client.query<{ name: string; owns: boolean }>(
      `SELECT d.datname AS name, d.datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS owns
       FROM pg_database d WHERE d.datname = ANY($1) ORDER BY d.datname`,
      [databases],
    );
    const facts = rows[0]!;
    const where = `${params.host}:${params.port}`;
    const names = (list: { name: string }[]) => list.map((d) => `'${d.name}'`).join(", ");
    if (existing.rows.length > 0 && !overwrite) {
      const which = names(existing.rows);
      throw new PgVaultError("UserErrorDatabaseNameAlreadyInUse", `Database${existing.rows.length > 1 ? "s" : ""} ${which} already exist${existing.rows.length > 1 ? "" : "s"} on ${where}; nothing was touched.`);
    }
    if (!facts.createdb && !facts.superuser) {
      throw new PgVaultError(
        "UserErrorMissingRestorePermissions",
        `User '${params.user}' lacks CREATEDB on ${where}; pgvault restores into a new temporary database and swaps it in.`,
      );
    }
    if (createRoles && !facts.createrole && !facts.superuser) {
      throw new PgVaultError("UserErrorMissingRestorePermissions", `User '${params.user}' lacks CREATEROLE on ${where}, which roles: "createMissing" needs to create the backup's roles.`);
    }
    const notOwned = existing.rows.filter((d) => !d.owns);
    if (notOwned.length > 0 && !facts.superuser) {
      throw new PgVaultError("UserErrorMissingRestorePermissions", `User '${params.user}' does not own database${notOwned.length > 1 ? "s" : ""} ${names(notOwned)} on ${where}, so cannot replace ${notOwned.length > 1 ? "them" : "it"}.`);
    }
    return { server: { host: params.host, port: params.port }, serverVersion: facts.version.split(" ")[0]!, serverVersionNum: Number(facts.num), existing: existing.rows.map((d) => d.name) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
