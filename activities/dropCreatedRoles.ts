import * as df from "durable-functions";
import pg from "pg";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { connectMaintenance } from "../shared/restore/restoreAccess";
import { serverParamsOf, type ServerRestoreInput } from "./checkServerRestoreAccess";
import type { RestoreTargetInput } from "./checkRestoreAccess";

/** The server a restore created roles on: a server target's, or a database target's (its maintenance database). */
export type DropCreatedRolesInput = (ServerRestoreInput | RestoreTargetInput) & {
  /** The roles this job's createMissingRoles (or createDatabaseRoles) step created: no other role is ever dropped. */
  roles: string[];
};

const paramsOf = (input: DropCreatedRolesInput) =>
  input.target.type === "server" ? serverParamsOf({ ...input, target: input.target }) : connectionParamsFor(input.target, input.secretVersion);

/**
 * A failed restore's cleanup of the roles it created, once its temporary databases are gone: a role that something
 * else came to depend on meanwhile (2BP01) is kept. Returns the roles that were kept.
 */
export async function dropCreatedRolesActivity(input: DropCreatedRolesInput): Promise<string[]> {
  const client = await connectMaintenance(await paramsOf(input));
  const kept: string[] = [];
  try {
    for (const role of input.roles) {
      try {
        await client.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
      } catch (err) {
        if ((err as { code?: string }).code !== "2BP01") throw err;
        kept.push(role);
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return kept;
}

export const dropCreatedRolesStep = df.app.activity("dropCreatedRoles", { handler: dropCreatedRolesActivity });
