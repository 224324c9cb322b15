/**
 * The target server's maintenance database, where restores create, rename and drop databases and where the restore
 * pre-flight (preflight/) reads its facts: the access check of SPEC section 5 is one of its checks.
 */
import type pg from "pg";
import { PgVaultError } from "../errors";
import { connect, type ConnectionParams } from "../postgres/connection";

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
