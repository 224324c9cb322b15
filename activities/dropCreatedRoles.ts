import * as df from "durable-functions";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { dropRoles } from "../shared/restore/missingRoles";
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
  try {
    return await dropRoles(client, input.roles);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const dropCreatedRolesStep = df.app.activity("dropCreatedRoles", { handler: dropCreatedRolesActivity });
