/**
 * The vault catalog: policies, instances and recovery points in the vault account's Table service (SPEC section
 * 1), each stored as a JSON document plus the columns queries filter on. Jobs are in jobRows.ts.
 */
import type { BackupInstance, BackupPolicy, RecoveryPoint } from "../domain";
import { statusOf, storageFailure } from "../storageErrors";
import { catalogTables, deleteRow, docToColumns, listDocuments, readDocument, writeDocument } from "./documents";
import { summaryFollows } from "./instanceSummaries";
import { getRecoveryPoint, readStoredPoint } from "./recoveryPointReads";
import { guarded, odataString } from "./tableAccess";
import { getReadyTableClient } from "./vaultClients";

const policyPartition = "policy";
const instancePartition = "instance";
const table = getReadyTableClient;

// Policies
export const getPolicy = (name: string) => readDocument<BackupPolicy>(catalogTables.policies, policyPartition, name);
export const putPolicy = (policy: BackupPolicy) => writeDocument(catalogTables.policies, policyPartition, policy.name, policy);
export const listPolicies = () => listDocuments<BackupPolicy>(catalogTables.policies, `PartitionKey eq '${policyPartition}'`);
export const deletePolicy = (name: string) => deleteRow(catalogTables.policies, policyPartition, name);

// Instances
export const getInstance = (name: string) => readDocument<BackupInstance>(catalogTables.instances, instancePartition, name);
export const putInstance = (instance: BackupInstance) =>
  writeDocument(catalogTables.instances, instancePartition, instance.name, instance, { policyName: instance.policyName });
export const listInstances = () => listDocuments<BackupInstance>(catalogTables.instances, `PartitionKey eq '${instancePartition}'`);

/** Every instance and every policy, read side by side: what a scheduler tick and a health evaluation both start from. */
export interface FleetCatalog {
  instances: BackupInstance[];
  policies: BackupPolicy[];
}

export async function readFleetCatalog(): Promise<FleetCatalog> {
  const [instances, policies] = await Promise.all([listInstances(), listPolicies()]);
  return { instances, policies };
}
export const instancesUsingPolicy = (policyName: string) =>
  listDocuments<BackupInstance>(
    catalogTables.instances,
    `PartitionKey eq '${instancePartition}' and policyName eq ${odataString(policyName)}`,
  );

/** Up to `max` instance names after `after`, in name order: retention walks the instances a page at a time. */
export async function listInstanceNamesAfter(after: string | undefined, max: number): Promise<string[]> {
  const client = await table(catalogTables.instances);
  const filter = `PartitionKey eq '${instancePartition}'${after === undefined ? "" : ` and RowKey gt ${odataString(after)}`}`;
  return guarded(`listing ${catalogTables.instances}`, async () => {
    const names: string[] = [];
    for await (const entity of client.listEntities({ queryOptions: { filter, select: ["RowKey"] } })) {
      names.push(entity.rowKey!);
      if (names.length === max) break;
    }
    return names;
  });
}

// Recovery points: one partition per instance; ids sort by time, so row order is time order (reads: recoveryPointReads.ts).
const recoveryPointColumns = (rp: RecoveryPoint) => ({ status: rp.status, expiresAt: rp.expiresAt, tag: rp.tag });

/** Writes the point (created or replaced); the instance's summary follows (instanceSummaries.ts), as after every change below. */
export async function putRecoveryPoint(rp: RecoveryPoint): Promise<{ created: boolean }> {
  const written = await writeDocument(catalogTables.recoveryPoints, rp.instanceName, rp.id, rp, recoveryPointColumns(rp));
  await summaryFollows(rp.instanceName);
  return written;
}

/**
 * Creates the row unless one exists, never overwriting it. Returns the point as stored: `rp`, or the row found;
 * `undefined` when the row found was removed before it could be read.
 */
export async function insertRecoveryPoint(rp: RecoveryPoint): Promise<RecoveryPoint | undefined> {
  const { created } = await writeDocument(catalogTables.recoveryPoints, rp.instanceName, rp.id, rp, recoveryPointColumns(rp), { onlyIfAbsent: true });
  if (!created) return getRecoveryPoint(rp.instanceName, rp.id);
  await summaryFollows(rp.instanceName);
  return rp;
}

/**
 * Removes the row outright, only if `onlyIf` holds for it as stored, under its etag (a concurrent change is judged
 * again): used only for a point whose backup was cancelled before it was recorded, which must leave no trace.
 * Returns the row left in place because `onlyIf` did not hold; `undefined` when no row remains.
 */
export async function removeRecoveryPoint(instanceName: string, id: string, onlyIf: (rp: RecoveryPoint) => boolean): Promise<RecoveryPoint | undefined> {
  const client = await table(catalogTables.recoveryPoints);
  for (let attempt = 1; ; attempt++) {
    const current = await readStoredPoint(instanceName, id);
    if (!current || !onlyIf(current.rp)) return current?.rp;
    try {
      await client.deleteEntity(instanceName, id, { etag: current.etag });
      await summaryFollows(instanceName);
      return undefined;
    } catch (err) {
      if (!changedMeanwhile(err) || attempt >= 5) throw storageFailure(err, `removing recovery point ${instanceName}/${id}`);
    }
  }
}

/**
 * Marks a recovery point `Deleted`, in its document and its `status` column, once retention removed its blobs.
 * False when the row does not exist. The row is kept (not removed) so tagging still sees every earlier backup
 * and the history stays auditable.
 */
export async function markRecoveryPointDeleted(instanceName: string, id: string): Promise<boolean> {
  return (await changeRecoveryPoint(instanceName, id, (rp) => ({ ...rp, status: "Deleted" }))) !== undefined;
}

/** A conditional write lost to another writer: the row changed (412) or went (404) since it was read. */
const changedMeanwhile = (err: unknown) => statusOf(err) === 412 || statusOf(err) === 404;

/**
 * Read-modify-write of one recovery point under its etag: `change` gets the stored point and returns the new one,
 * or `undefined` to leave it as it is (it may also throw to refuse). A concurrent writer makes the etag check fail,
 * and `change` is asked again with what that writer stored. The whole entity is replaced, so a document that got
 * shorter leaves no stale `docN` column behind. Returns the point as stored afterwards; `undefined` when there is
 * no such row.
 *
 * `dependsOn`: another point of the same instance that `change` decides by (it gets that row too, read in the same
 * attempt, or `undefined` if it does not exist). The write then also checks that row's etag, in one entity-group
 * transaction (a merge of no properties, which only bumps its etag): if that row changed meanwhile, nothing is
 * written and `change` is asked again. Retention's claim depends this way on the point it keeps as the newest.
 */
export async function changeRecoveryPoint(
  instanceName: string,
  id: string,
  change: (rp: RecoveryPoint, dependedOn?: RecoveryPoint) => RecoveryPoint | undefined,
  { dependsOn }: { dependsOn?: string } = {},
): Promise<RecoveryPoint | undefined> {
  const client = await table(catalogTables.recoveryPoints);
  for (let attempt = 1; ; attempt++) {
    const current = await readStoredPoint(instanceName, id);
    if (!current) return undefined;
    const other = dependsOn !== undefined && dependsOn !== id ? await readStoredPoint(instanceName, dependsOn) : undefined;
    const next = change(current.rp, other?.rp);
    if (!next) return current.rp;
    const entity = { partitionKey: instanceName, rowKey: id, ...docToColumns(next, `recovery point ${instanceName}/${id}`), ...recoveryPointColumns(next) };
    try {
      if (!other) await client.updateEntity(entity, "Replace", { etag: current.etag });
      else {
        await client.submitTransaction([
          ["update", entity, "Replace", { etag: current.etag }],
          ["update", { partitionKey: instanceName, rowKey: other.rp.id }, "Merge", { etag: other.etag }],
        ]);
      }
      await summaryFollows(instanceName);
      return next;
    } catch (err) {
      if (!changedMeanwhile(err) || attempt >= 5) throw storageFailure(err, `updating recovery point ${instanceName}/${id}`);
    }
  }
}
