/**
 * The vault catalog: policies, instances, recovery points and jobs in the vault account's Table service (SPEC
 * section 1). Records are stored as a JSON document plus the columns queries filter on; jobs are flat columns so
 * progress updates can merge single fields without read-modify-write.
 */
import type { TableClient, TableEntityResult } from "@azure/data-tables";
import { finishedJobStatuses, type BackupInstance, type BackupPolicy, type Job, type RecoveryPoint, type RestoreReport } from "../domain";
import { PgVaultError, type JobError } from "../errors";
import { isoSeconds } from "../time/isoTime";
import { statusOf, storageFailure } from "../storageErrors";
import { getReadyTableClient } from "./vaultClients";

export const catalogTables = {
  policies: "backupPolicies",
  instances: "backupInstances",
  recoveryPoints: "recoveryPoints",
  jobs: "jobs",
} as const;

const policyPartition = "policy";
const instancePartition = "instance";
const jobRow = "job";

const table = getReadyTableClient;

async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw storageFailure(err, what);
  }
}

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

function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
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

// Jobs: flat columns, merged field by field.
type JobColumns = Omit<Job, "id" | "error" | "restoreReport"> & { error?: string; restoreReport?: string };

function jobFromEntity(entity: TableEntityResult<JobColumns>): Job {
  const { partitionKey, error, restoreReport, operation, trigger, instanceName, status, startTime, endTime, phase, bytes, recoveryPointId, cancelRequested, swapStartedAt } = entity;
  const job: Job = { id: partitionKey!, operation, trigger, instanceName, status, startTime, phase, bytes: Number(bytes ?? 0) };
  if (endTime) job.endTime = endTime;
  if (recoveryPointId) job.recoveryPointId = recoveryPointId;
  if (error) job.error = JSON.parse(error) as JobError;
  if (restoreReport) job.restoreReport = JSON.parse(restoreReport) as RestoreReport;
  if (cancelRequested) job.cancelRequested = true;
  if (swapStartedAt) job.swapStartedAt = swapStartedAt;
  return job;
}

async function readJobEntity(client: TableClient, id: string): Promise<TableEntityResult<JobColumns> | undefined> {
  return guarded(`reading job ${id}`, async () => {
    try {
      return await client.getEntity<JobColumns>(id, jobRow);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}

export async function getJob(id: string): Promise<Job | undefined> {
  const entity = await readJobEntity(await table(catalogTables.jobs), id);
  return entity && jobFromEntity(entity);
}

export type JobUpdate = Partial<Omit<Job, "id">>;

/**
 * Reads the job row and writes what `decide` makes of it (merged; a missing row is created) under that read's
 * etag, deciding again on a fresh read when someone else wrote in between: what was checked and what is written
 * are one step. `decide` gets undefined for a missing row and returns undefined to write nothing; what it throws
 * reaches the caller as it is.
 */
async function writeJobRow(id: string, decide: (current: Job | undefined) => JobUpdate | undefined): Promise<void> {
  const client = await table(catalogTables.jobs);
  for (let attempt = 1; ; attempt++) {
    const current = await readJobEntity(client, id);
    const update = decide(current && jobFromEntity(current));
    if (!update) return;
    const { error, restoreReport, ...fields } = update;
    const columns = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
    const json = { ...(error ? { error: JSON.stringify(error) } : {}), ...(restoreReport ? { restoreReport: JSON.stringify(restoreReport) } : {}) };
    const entity = { partitionKey: id, rowKey: jobRow, ...columns, ...json };
    const written = await guarded(`updating job ${id}`, async () => {
      try {
        await (current ? client.updateEntity(entity, "Merge", { etag: current.etag }) : client.createEntity(entity));
        return true;
      } catch (err) {
        // Someone else wrote in between (409 on create, 412 on the etag): look again.
        const status = statusOf(err);
        if ((status !== 409 && status !== 412) || attempt >= 5) throw err;
        return false;
      }
    });
    if (written) return;
  }
}

/**
 * Creates or merges a job row; only the given fields change. A finished job (Succeeded, Failed, Cancelled) is
 * not changed again, so a late progress write or a step still running after a cancel cannot revive it; only the
 * cancellation itself may finish a job that failed because it was being cancelled (`afterFinish`). The etag makes
 * the check and the write one step.
 */
export async function updateJob(id: string, update: JobUpdate, options: { afterFinish?: boolean } = {}): Promise<void> {
  await writeJobRow(id, (current) => (current && finishedJobStatuses.includes(current.status) && !options.afterFinish ? undefined : update));
}

/**
 * Changes an existing job row only as `decide` allows after looking at it, in one etag-checked step (see
 * writeJobRow): a cancel and a swap each check the other's mark this way. A missing row is left alone.
 */
export async function changeJob(id: string, decide: (job: Job) => JobUpdate | undefined): Promise<void> {
  await writeJobRow(id, (current) => current && decide(current));
}

/** Whether a cancel was asked for; false for a job without a row. */
export async function isCancelRequested(jobId: string): Promise<boolean> {
  return (await getJob(jobId))?.cancelRequested === true;
}

export interface JobFilter {
  instanceName?: string;
  operation?: Job["operation"];
  status?: Job["status"];
  /** Jobs started at or after this ISO time. */
  from?: string;
  /** Jobs started before this ISO time. */
  to?: string;
}

/** Every job matching the filter, newest first. */
export async function listJobs(filter: JobFilter): Promise<Job[]> {
  const client = await table(catalogTables.jobs);
  const conditions = [
    filter.instanceName && `instanceName eq ${odataString(filter.instanceName)}`,
    filter.operation && `operation eq ${odataString(filter.operation)}`,
    filter.status && `status eq ${odataString(filter.status)}`,
    // Start times are stored as ISO strings in UTC with seconds, so string order is time order.
    filter.from && `startTime ge ${odataString(isoSeconds(filter.from))}`,
    filter.to && `startTime lt ${odataString(isoSeconds(filter.to))}`,
  ].filter(Boolean);
  return guarded("listing jobs", async () => {
    const jobs: Job[] = [];
    const queryOptions = conditions.length ? { filter: conditions.join(" and ") } : {};
    for await (const entity of client.listEntities<JobColumns>({ queryOptions })) jobs.push(jobFromEntity(entity));
    return jobs.sort((a, b) => b.startTime.localeCompare(a.startTime) || b.id.localeCompare(a.id));
  });
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
