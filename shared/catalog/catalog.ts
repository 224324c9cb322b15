/**
 * The vault catalog: policies, instances and recovery points in the vault account's Table service (SPEC section
 * 1), each stored as a JSON document plus the columns queries filter on. Jobs are in jobRows.ts.
 */
import type { BackupInstance, BackupPolicy, RecoveryPoint } from "../domain";
import { PgVaultError } from "../errors";
import { statusOf, storageFailure } from "../storageErrors";
import { guarded, odataString } from "./tableAccess";
import { getReadyTableClient } from "./vaultClients";

export const catalogTables = {
  policies: "backupPolicies",
  instances: "backupInstances",
  recoveryPoints: "recoveryPoints",
  jobs: "jobs",
} as const;

const policyPartition = "policy";
const instancePartition = "instance";

const table = getReadyTableClient;

/**
 * A table property holds at most 32K UTF-16 characters and an entity 1 MiB, so a long document (a Flexible Server
 * point listing many files) is split over `doc`, `doc1`, `doc2`, ... in order.
 */
const docChunkChars = 30_000;
const docColumns = ["doc", ...Array.from({ length: 14 }, (_, i) => `doc${i + 1}`)];
type DocEntity = Record<string, unknown>;

function docToColumns(doc: object, what: string): Record<string, string> {
  const text = JSON.stringify(doc);
  const chunks = Math.max(1, Math.ceil(text.length / docChunkChars));
  if (chunks > docColumns.length) {
    throw new PgVaultError("SystemErrorUnexpected", `${what} is ${text.length} characters, more than a catalog row holds.`);
  }
  return Object.fromEntries(Array.from({ length: chunks }, (_, i) => [docColumns[i]!, text.slice(i * docChunkChars, (i + 1) * docChunkChars)]));
}

function docFromColumns(entity: DocEntity): string {
  let text = "";
  for (const column of docColumns) {
    const part = entity[column];
    if (typeof part !== "string") break;
    text += part;
  }
  return text;
}

async function readDocument<T>(tableName: string, partitionKey: string, rowKey: string): Promise<T | undefined> {
  const client = await table(tableName);
  return guarded(`reading ${tableName}/${rowKey}`, async () => {
    try {
      const entity = await client.getEntity<DocEntity>(partitionKey, rowKey);
      return JSON.parse(docFromColumns(entity)) as T;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}

/** Upserts a document (or, `onlyIfAbsent`, creates it unless a row exists); tells whether it was new (for 201 versus 200). */
async function writeDocument(
  tableName: string,
  partitionKey: string,
  rowKey: string,
  doc: object,
  columns: Record<string, string | number | boolean> = {},
  { onlyIfAbsent = false } = {},
): Promise<{ created: boolean }> {
  const client = await table(tableName);
  return guarded(`writing ${tableName}/${rowKey}`, async () => {
    const entity = { partitionKey, rowKey, ...docToColumns(doc, `${tableName}/${rowKey}`), ...columns };
    try {
      await client.createEntity(entity);
      return { created: true };
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      if (!onlyIfAbsent) await client.upsertEntity(entity, "Replace");
      return { created: false };
    }
  });
}

async function listDocuments<T>(tableName: string, filter: string): Promise<T[]> {
  const client = await table(tableName);
  return guarded(`listing ${tableName}`, async () => {
    const docs: T[] = [];
    for await (const entity of client.listEntities<DocEntity>({ queryOptions: { filter, select: docColumns } })) {
      docs.push(JSON.parse(docFromColumns(entity)) as T);
    }
    return docs;
  });
}

async function deleteRow(tableName: string, partitionKey: string, rowKey: string): Promise<boolean> {
  const client = await table(tableName);
  return guarded(`deleting ${tableName}/${rowKey}`, async () => {
    try {
      await client.deleteEntity(partitionKey, rowKey);
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  });
}

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

// Recovery points: one partition per instance; ids sort by time, so row order is time order.
export const getRecoveryPoint = (instanceName: string, id: string) =>
  readDocument<RecoveryPoint>(catalogTables.recoveryPoints, instanceName, id);
const recoveryPointColumns = (rp: RecoveryPoint) => ({ status: rp.status, expiresAt: rp.expiresAt, tag: rp.tag });
export const putRecoveryPoint = (rp: RecoveryPoint) => writeDocument(catalogTables.recoveryPoints, rp.instanceName, rp.id, rp, recoveryPointColumns(rp));

/**
 * Creates the row unless one exists, never overwriting it. Returns the point as stored: `rp`, or the row found;
 * `undefined` when the row found was removed before it could be read.
 */
export async function insertRecoveryPoint(rp: RecoveryPoint): Promise<RecoveryPoint | undefined> {
  const { created } = await writeDocument(catalogTables.recoveryPoints, rp.instanceName, rp.id, rp, recoveryPointColumns(rp), { onlyIfAbsent: true });
  return created ? rp : getRecoveryPoint(rp.instanceName, rp.id);
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
      return undefined;
    } catch (err) {
      if (!changedMeanwhile(err) || attempt >= 5) throw storageFailure(err, `removing recovery point ${instanceName}/${id}`);
    }
  }
}

/** Newest first. */
export async function listRecoveryPoints(instanceName: string): Promise<RecoveryPoint[]> {
  const rps = await listDocuments<RecoveryPoint>(catalogTables.recoveryPoints, `PartitionKey eq ${odataString(instanceName)}`);
  return rps.reverse();
}

/**
 * Marks a recovery point `Deleted`, in its document and its `status` column, once retention removed its blobs.
 * False when the row does not exist. The row is kept (not removed) so tagging still sees every earlier backup
 * and the history stays auditable.
 */
export async function markRecoveryPointDeleted(instanceName: string, id: string): Promise<boolean> {
  return (await changeRecoveryPoint(instanceName, id, (rp) => ({ ...rp, status: "Deleted" }))) !== undefined;
}

/** A recovery point row with the etag it was read with; `undefined`: no such row. */
async function readStoredPoint(instanceName: string, id: string): Promise<{ rp: RecoveryPoint; etag: string } | undefined> {
  const client = await table(catalogTables.recoveryPoints);
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
      return next;
    } catch (err) {
      if (!changedMeanwhile(err) || attempt >= 5) throw storageFailure(err, `updating recovery point ${instanceName}/${id}`);
    }
  }
}
