/** Reading recovery point rows (partition: the instance; row key: the point id, so row order is time order). */
import type { RecoveryPoint } from "../domain";
import { statusOf } from "../storageErrors";
import { catalogTables, docFromColumns, listDocuments, readDocument, type DocEntity } from "./documents";
import { guarded, odataString } from "./tableAccess";
import { getReadyTableClient } from "./vaultClients";

export const getRecoveryPoint = (instanceName: string, id: string) => readDocument<RecoveryPoint>(catalogTables.recoveryPoints, instanceName, id);

/** Newest first. */
export async function listRecoveryPoints(instanceName: string): Promise<RecoveryPoint[]> {
  const rps = await listDocuments<RecoveryPoint>(catalogTables.recoveryPoints, `PartitionKey eq ${odataString(instanceName)}`);
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
