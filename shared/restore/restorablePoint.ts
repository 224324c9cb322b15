/**
 * The recovery point a restore, an export or a restore drill works on, read from the catalog when its step runs:
 * orchestrations carry the point's id only (a point's row may list thousands of files). A point that is gone or
 * `Deleted` by then is refused as the HTTP routes refuse it.
 */
import { getRecoveryPoint } from "../catalog/recoveryPointReads";
import type { DumpRecoveryPoint, RecoveryPoint } from "../domain";
import { PgVaultError } from "../errors";

export async function restorablePoint(instanceName: string, recoveryPointId: string): Promise<RecoveryPoint> {
  const rp = await getRecoveryPoint(instanceName, recoveryPointId);
  if (!rp || rp.status === "Deleted") {
    throw new PgVaultError("UserErrorRecoveryPointNotFound", `Recovery point '${recoveryPointId}' of '${instanceName}' does not exist or is deleted.`);
  }
  return rp;
}

/**
 * The same for steps that read a pg_dump archive. A Flexible Server point never gets here through the API (it is
 * refused there, `refusal` saying why); an orchestration started otherwise fails plainly.
 */
export async function restorableDump(instanceName: string, recoveryPointId: string, refusal: string): Promise<DumpRecoveryPoint> {
  const rp = await restorablePoint(instanceName, recoveryPointId);
  if (rp.format !== "pg_dump-custom") throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${recoveryPointId} is a Flexible Server backup; ${refusal}.`);
  return rp;
}
