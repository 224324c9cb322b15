import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { DatabaseMapping, SkippedRole } from "../shared/domain";
import { connectMaintenance } from "../shared/restore/restoreAccess";
import { rolesNamed } from "../shared/restore/archivePrivileges";
import { readArchivePrivileges } from "../shared/restore/databaseRestore";
import { createMissingRoles } from "../shared/restore/missingRoles";
import { restorablePoint } from "../shared/restore/restorablePoint";
import { asServerPoint, databaseSource, readRolesFile } from "../shared/restore/serverRestore";
import { serverParamsOf, type ServerRestoreInput } from "./checkServerRestoreAccess";

export interface CreateMissingRolesInput extends ServerRestoreInput {
  databases: DatabaseMapping[];
}

export interface CreatedRoles {
  rolesCreated: string[];
  rolesSkipped: SkippedRole[];
}

/**
 * `roles: "createMissing"`: the roles the restored databases need (owners and grantees their archives name) that
 * the target lacks, created from the point's roles file, cleaned (shared/restore/rolesFile.ts). Repeatable: a role
 * that exists by now (an earlier attempt's) is used as it is.
 */
export function createMissingRolesActivity(input: CreateMissingRolesInput): Promise<ActivityOutcome<CreatedRoles>> {
  return asOutcome(async () => {
    const rp = asServerPoint(await restorablePoint(input.instanceName, input.recoveryPointId));
    const params = await serverParamsOf(input);
    const needed = new Set<string>();
    for (const { name } of input.databases) {
      for (const role of rolesNamed(await readArchivePrivileges(databaseSource(rp, name), undefined, params))) needed.add(role);
    }
    const rolesFile = await readRolesFile(rp);
    const client = await connectMaintenance(params);
    try {
      return await createMissingRoles(client, rolesFile, [...needed].sort(), input.jobId);
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}

export const createMissingRolesStep = df.app.activity("createMissingRoles", { handler: createMissingRolesActivity });
