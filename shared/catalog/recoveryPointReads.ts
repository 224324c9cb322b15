/** Reading recovery point rows (partition: the instance; row key: the point id, so row order is time order). */
import type { RecoveryPoint } from "../domain";
import { statusOf } from "../storageErrors";
import { recoveryPointIdsFrom } from "../recoveryPoints/recoveryPointId";
import { catalogTables, docFromColumns, listDocuments, readDocument, type DocEntity } from "./documents";
import { guarded, odataString } from "./tableAccess";
import { getReadyTableClient } from "./vaultClients";

export const getRecoveryPoint = (instanceName: string, id: string) => readDocument<RecoveryPoint>(catalogTables.recoveryPoints, instanceName, id);

export interface PointSelection {
  /** Leave out `Deleted` rows (kept for the record, ten years of them for a daily backup): what retention needs. */
  heldOnly?: boolean;
  /** Only points taken at or after this time: a key range, since ids start with their time. */
  since?: Date;
}

/** Newest first; by default every row of the instance, in any status. */
export async function listRecoveryPoints(instanceName: string, { heldOnly = false, since }: PointSelection = {}): Promise<RecoveryPoint[]> {
  const conditions = [`PartitionKey eq ${odataString(instanceName)}`];
  if (since) conditions.push(`RowKey ge ${odataString(recoveryPointIdsFrom(since))}`);
  if (heldOnly) conditions.push("status ne 'Deleted'");
  const rps = await listDocuments<RecoveryPoint>(catalogTables.recoveryPoints, conditions.join(" and "));
  return rps.reverse();
}

/** A recovery point row with the etag it was read with; `undefined`: no such row. */
export async function readStoredPoint(instanceName: string, id: string): Promise<{ rp: RecoveryPoint; etag: string } | undefined> {
  const client = await getReadyTableClient(catalogTables.recoveryPoints);
  return guarded(`reading recovery point ${instanceName}/${id}`, async () => {
    try {
      const entity = await client.getEntity<DocEntity>(instanceName, id);
      return { rp: JSON.parse(docFromColumns(entity)) as RecoveryPoint, etag: entity.etag };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}
