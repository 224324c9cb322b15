/**
 * The restore access check (SPEC section 5): the target user can connect to the target server and may create
 * databases, because pgvault always restores into a fresh temporary database first. Replacing an existing
 * database also needs its ownership (or superuser). Runs on the server's maintenance database.
 */
import type pg from "pg";
import type { DatabaseRestoreTarget } from "../domain";
import { PgVaultError } from "../errors";
import { connect, type ConnectionParams } from "../postgres/connection";

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

export async function checkRestoreAccess(params: ConnectionParams, target: DatabaseRestoreTarget): Promise<RestoreFacts> {
  const client = await connectMaintenance(params);
  try {
    const { rows } = await client.query<{ createdb: boolean; superuser: boolean; version: string; num: string; exists: boolean; owns: boolean }>(
      `SELECT r.rolcreatedb AS createdb, r.rolsuper AS superuser,
              current_setting('server_version') AS version, current_setting('server_version_num') AS num,
              d.oid IS NOT NULL AS exists, coalesce(d.datdba = r.oid, false) AS owns
       FROM pg_roles r LEFT JOIN pg_database d ON d.datname = $1
       WHERE r.rolname = current_user`,
      [target.database],
    );
    const facts = rows[0]!;
    const where = `${params.host}:${params.port}`;
    if (facts.exists && !target.overwrite) {
      throw new PgVaultError("UserErrorDatabaseNameAlreadyInUse", `Database '${target.database}' already exists on ${where}; it was not touched.`);
    }
    if (!facts.createdb && !facts.superuser) {
      throw new PgVaultError(
        "UserErrorMissingRestorePermissions",
        `User '${params.user}' lacks CREATEDB on ${where}; pgvault restores into a new temporary database and swaps it in.`,
      );
    }
    if (facts.exists && !facts.owns && !facts.superuser) {
      throw new PgVaultError("UserErrorMissingRestorePermissions", `User '${params.user}' does not own database '${target.database}' on ${where}, so cannot replace it.`);
    }
    return { server: { host: params.host, port: params.port }, serverVersion: facts.version.split(" ")[0]!, serverVersionNum: Number(facts.num), targetExists: facts.exists };
  } finally {
    await client.end().catch(() => undefined);
  }
}
