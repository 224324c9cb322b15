import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { readContentsRecord } from "../shared/contents/contentsRecord";
import type { DumpRecoveryPoint } from "../shared/domain";
import { unwrapDataKey } from "../shared/encryption/dataKeys";
import { connectionParamsFor } from "../shared/postgres/connectionParams";
import { rolesNamed, type ArchivePrivileges } from "../shared/restore/archivePrivileges";
import { readArchivePrivileges, restoreSourceOf } from "../shared/restore/databaseRestore";
import { createMissingRoles } from "../shared/restore/missingRoles";
import { restorableDump } from "../shared/restore/restorablePoint";
import { connectMaintenance } from "../shared/restore/restoreAccess";
import { notInFile, parseRolesFile, withMembers } from "../shared/restore/rolesFile";
import type { CreatedRoles } from "./createMissingRoles";
import type { RestoreDatabaseInput } from "./restoreDatabase";

/** Why nothing is created for a point whose contents record keeps no role definitions. */
const notRecorded = "the recovery point records no role definitions (taken before pgvault recorded them, or without a contents record)";

/**
 * A database target's `roles: "createMissing"`: the roles the point's dump names (owners, and with privileges kept
 * the grantees and every other role the backup recorded), and the roles that are members of those, created where
 * the target lacks them from the role definitions the point's contents record keeps, cleaned as a Flexible Server
 * roles file is (rolesFile.ts). A point from before has none: every missing role is listed as skipped, and the
 * restore goes on as with `skip`. Repeatable: a role this job created already is used as it is (missingRoles.ts).
 * A contents record that does not check (SHA-256, decryption) fails the restore as corrupted; `skip` does not read it.
 */
export function createDatabaseRolesActivity(input: RestoreDatabaseInput): Promise<ActivityOutcome<CreatedRoles>> {
  return asOutcome(async () => {
    const rp = await restorableDump(input.instanceName, input.recoveryPointId, "its roles are created by a server restore");
    const params = await connectionParamsFor(input.target, input.secretVersion);
    const archive = await archiveStatements(rp, params);
    const definitions = rp.contents ? (await readContentsRecord({ ...rp, contents: rp.contents })).roles : undefined;
    const file = definitions === undefined ? undefined : parseRolesFile(definitions);
    // With grants kept, every recorded role: the backup also recorded those the archive's statements do not show
    // (a row-security policy's, a user mapping's), without which pg_restore fails.
    const named =
      input.target.privileges === "none" ? archive.ownership.map((statement) => statement.owner) : [...rolesNamed(archive), ...(file ? file.roles.keys() : [])];
    const needed = file ? withMembers(file, [...new Set(named)]) : [...new Set(named)].sort();
    const client = await connectMaintenance(params);
    try {
      const created = await createMissingRoles(client, definitions ?? "", needed, input.jobId);
      if (definitions !== undefined) return created;
      return { ...created, rolesSkipped: created.rolesSkipped.map((skipped) => (skipped.reason === notInFile ? { ...skipped, reason: notRecorded } : skipped)) };
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}

async function archiveStatements(rp: DumpRecoveryPoint, params: Awaited<ReturnType<typeof connectionParamsFor>>): Promise<ArchivePrivileges> {
  const dataKey = rp.encryption && (await unwrapDataKey(rp.encryption));
  try {
    return await readArchivePrivileges(restoreSourceOf(rp), dataKey, params);
  } finally {
    dataKey?.fill(0);
  }
}

export const createDatabaseRolesStep = df.app.activity("createDatabaseRoles", { handler: createDatabaseRolesActivity });
