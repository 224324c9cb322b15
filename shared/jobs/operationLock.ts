/**
 * One backup, restore or verify per instance at a time, and one restore into a database at a time. Each lock is
 * one row of the vault table `operationLocks` naming the job that holds it: partition `instance` with the instance
 * name as row key, or partition `restoreTarget` keyed by server and database (`restoreTargetLock`). It is taken
 * with a create-if-absent or an ETag-conditional replace, so of two hosts racing for it exactly one wins, and it
 * is given back (deleted, again under its ETag) when the job ends. A lock whose holder is over is taken over: its
 * job row is finished or gone, or its orchestration no longer runs (terminated, failed, purged). So a host that
 * crashed, or a job that ended without releasing, never blocks an instance or a database for good.
 *
 * A job's row must exist before it takes a lock (the HTTP routes write it before starting the orchestration; a
 * scheduled backup writes it first thing): a held lock without a job row is taken to be a leftover.
 */
import type { TableClient } from "@azure/data-tables";
import { getJob } from "../catalog/jobRows";
import { finishedJobStatuses, type JobOperation } from "../domain";
import { ConflictError, PgVaultError, type JobError } from "../errors";
import type { DatabaseAddress } from "../postgres/connection";
import { statusOf, storageFailure } from "../storageErrors";
import { getReadyTableClient } from "../catalog/vaultClients";

export const operationLockTable = "operationLocks";

/** Which lock: its row (partition and row key), and how messages name it. */
export interface LockScope {
  partition: "instance" | "restoreTarget";
  key: string;
  label: string;
}

export const instanceLock = (instanceName: string): LockScope => ({ partition: "instance", key: instanceName, label: `the operation lock of '${instanceName}'` });

/**
 * The lock of a restore target: one database on one server, whichever instance restores into it. Host names
 * compare without case; the key is URI-encoded, since a row key may not hold `/`, `\`, `#` or `?`.
 */
export function restoreTargetLock(target: DatabaseAddress): LockScope {
  const key = [encodeURIComponent(target.host.toLowerCase()), target.port, encodeURIComponent(target.database)].join(":");
  return { partition: "restoreTarget", key, label: `the restore lock of database '${target.database}' on ${target.host}:${target.port}` };
}

export interface InstanceLockHolder {
  jobId: string;
  operation: JobOperation;
  /** When the holder took the lock (ISO). */
  acquiredAt: string;
}

export type InstanceLockAttempt =
  | { acquired: true; /** The finished or abandoned job whose lock this one took over. */ tookOverFrom?: InstanceLockHolder }
  | { acquired: false; holder: InstanceLockHolder };

/**
 * Whether the orchestration with this instance id is still running (Pending, Running, ...): false when it ended or
 * does not exist, undefined when that cannot be told (then only the job row decides).
 */
export type OrchestrationProbe = (instanceId: string) => Promise<boolean | undefined>;

type LockRow = InstanceLockHolder & { etag: string };

export interface LockOptions {
  /** Recorded as when the lock was taken. */
  now?: Date;
  isRunning?: OrchestrationProbe;
}

/** Writes that lost a race are tried again with a fresh read; more than this many in a row is storage trouble. */
const maxRounds = 8;

const table = () => getReadyTableClient(operationLockTable);

async function readLock(client: TableClient, scope: LockScope): Promise<LockRow | undefined> {
  try {
    const row = await client.getEntity<InstanceLockHolder>(scope.partition, scope.key);
    return { jobId: row.jobId, operation: row.operation, acquiredAt: row.acquiredAt, etag: row.etag };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw storageFailure(err, `reading ${scope.label}`);
  }
}

function holderOf(row: LockRow): InstanceLockHolder {
  return { jobId: row.jobId, operation: row.operation, acquiredAt: row.acquiredAt };
}

/** Whether the holder is over: its job row finished or gone, or its orchestration no longer running. */
async function isOver(holder: InstanceLockHolder, isRunning?: OrchestrationProbe): Promise<boolean> {
  const job = await getJob(holder.jobId);
  if (!job || finishedJobStatuses.includes(job.status)) return true;
  return (await isRunning?.(holder.jobId)) === false;
}

/**
 * Takes the lock for `jobId`, unless another job that is still running holds it. Taking it again for the same job
 * (a retried activity, a replay) succeeds. Storage failures are thrown (transient ones as such).
 */
export async function acquireLock(
  scope: LockScope,
  jobId: string,
  operation: JobOperation,
  options: LockOptions = {},
): Promise<InstanceLockAttempt> {
  const client = await table();
  const mine = { partitionKey: scope.partition, rowKey: scope.key, jobId, operation, acquiredAt: (options.now ?? new Date()).toISOString() };
  for (let round = 1; round <= maxRounds; round++) {
    const current = await readLock(client, scope);
    if (current?.jobId === jobId) return { acquired: true };
    if (current && !(await isOver(holderOf(current), options.isRunning))) return { acquired: false, holder: holderOf(current) };
    try {
      if (current) await client.updateEntity(mine, "Replace", { etag: current.etag });
      else await client.createEntity(mine);
      return current ? { acquired: true, tookOverFrom: holderOf(current) } : { acquired: true };
    } catch (err) {
      // Someone else created, replaced or released it since the read (409, 412, 404): look again.
      const status = statusOf(err);
      if (status !== 409 && status !== 412 && status !== 404) throw storageFailure(err, `taking ${scope.label}`);
    }
  }
  throw new PgVaultError("SystemErrorStorageUnavailable", `Vault storage saw ${scope.label} change ${maxRounds} times in a row while it was being taken.`, { transient: true });
}

/** Gives the lock back if `jobId` holds it; true when it did. Anyone else's lock is left alone. */
export async function releaseLock(scope: LockScope, jobId: string): Promise<boolean> {
  const client = await table();
  const current = await readLock(client, scope);
  if (current?.jobId !== jobId) return false;
  try {
    await client.deleteEntity(scope.partition, scope.key, { etag: current.etag });
    return true;
  } catch (err) {
    // Gone already, or taken over in between: either way it is not this job's any more.
    const status = statusOf(err);
    if (status === 404 || status === 412) return false;
    throw storageFailure(err, `releasing ${scope.label}`);
  }
}

/** The job that holds the lock and is still running, if any. */
export async function runningHolder(scope: LockScope, isRunning?: OrchestrationProbe): Promise<InstanceLockHolder | undefined> {
  const current = await readLock(await table(), scope);
  if (!current || (await isOver(holderOf(current), isRunning))) return undefined;
  return holderOf(current);
}

/** The instance's lock (`acquireLock` of `instanceLock`). */
export const acquireInstanceLock = (instanceName: string, jobId: string, operation: JobOperation, options: LockOptions = {}) =>
  acquireLock(instanceLock(instanceName), jobId, operation, options);

export const releaseInstanceLock = (instanceName: string, jobId: string) => releaseLock(instanceLock(instanceName), jobId);

/** Who holds the instance's lock, running or not (undefined: nobody). */
export async function readInstanceLock(instanceName: string): Promise<InstanceLockHolder | undefined> {
  const current = await readLock(await table(), instanceLock(instanceName));
  return current && holderOf(current);
}

/** The job that holds the instance's lock and is still running, if any (the HTTP routes' check before they start a job). */
export const runningOperation = (instanceName: string, isRunning?: OrchestrationProbe) => runningHolder(instanceLock(instanceName), isRunning);

/**
 * The HTTP routes' check before they create a job (backup, restore, verify): 409 `UserErrorOperationInProgress`
 * naming the running job. The orchestration checks again when it takes the lock; a request racing another one
 * past this check gets its 202, and its job fails with the same code.
 */
export async function refuseIfInstanceBusy(instanceName: string, isRunning?: OrchestrationProbe): Promise<void> {
  const holder = await runningOperation(instanceName, isRunning);
  if (holder) throw conflictOf(operationInProgress(instanceName, holder));
}

/**
 * The restore route's check before it creates a job for a database target: 409 `UserErrorOperationInProgress`
 * naming the restore already running into that database. The orchestration takes the lock itself, as above.
 */
export async function refuseIfRestoreTargetBusy(target: DatabaseAddress, isRunning?: OrchestrationProbe): Promise<void> {
  const holder = await runningHolder(restoreTargetLock(target), isRunning);
  if (holder) throw conflictOf(restoreTargetInUse(target, holder));
}

const conflictOf = (busy: JobError) => new ConflictError("UserErrorOperationInProgress", busy.message, busy.recommendedAction);

/** What a refused or abandoned job, or a 409, says: which job holds the instance, and what to do about it. */
export function operationInProgress(instanceName: string, holder: InstanceLockHolder, waited?: { minutes: number; operation: JobOperation }): JobError {
  const gaveUp = waited ? ` after waiting ${waited.minutes} minutes; this scheduled ${waited.operation.toLowerCase()} was skipped` : "";
  return {
    code: "UserErrorOperationInProgress",
    message: `Backup instance '${instanceName}' is busy: ${holder.operation} job '${holder.jobId}' is running${gaveUp}.`,
    recommendedAction:
      `Wait for job ${holder.jobId} to end (GET /api/jobs/${holder.jobId}) or cancel it (POST /api/jobs/${holder.jobId}/cancel), then retry. ` +
      "One backup, restore or verify runs per instance at a time.",
  };
}

/** What a restore refused for its target, or a 409, says: which job restores into that database, and what to do. */
export function restoreTargetInUse(target: DatabaseAddress, holder: InstanceLockHolder): JobError {
  return {
    code: "UserErrorOperationInProgress",
    message: `Database '${target.database}' on ${target.host}:${target.port} is busy: ${holder.operation} job '${holder.jobId}' is restoring into it.`,
    recommendedAction:
      `Wait for job ${holder.jobId} to end (GET /api/jobs/${holder.jobId}) or cancel it (POST /api/jobs/${holder.jobId}/cancel), then retry, or restore into another database. ` +
      "One restore runs into a database at a time, whichever instance it comes from.",
  };
}
