/**
 * One backup, restore or verify per instance at a time. The instance's lock is one row of the vault table
 * `operationLocks` (partition `instance`, row key the instance name) naming the job that holds it. It is taken
 * with a create-if-absent or an ETag-conditional replace, so of two hosts racing for it exactly one wins, and it
 * is given back (deleted, again under its ETag) when the job ends. A lock whose holder is over is taken over: its
 * job row is finished or gone, or its orchestration no longer runs (terminated, failed, purged). So a host that
 * crashed, or a job that ended without releasing, never blocks an instance for good.
 *
 * A job's row must exist before it takes the lock (the HTTP routes write it before starting the orchestration; a
 * scheduled backup writes it first thing): a held lock without a job row is taken to be a leftover.
 */
import type { TableClient } from "@azure/data-tables";
import { getJob } from "./catalog";
import { finishedJobStatuses, type JobOperation } from "./domain";
import { ConflictError, PgVaultError, type JobError } from "./errors";
import { statusOf, storageFailure } from "./storageErrors";
import { getReadyTableClient } from "./vaultClients";

export const operationLockTable = "operationLocks";
const partition = "instance";

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

/** Writes that lost a race are tried again with a fresh read; more than this many in a row is storage trouble. */
const maxRounds = 8;

const table = () => getReadyTableClient(operationLockTable);

async function readLock(client: TableClient, instanceName: string): Promise<LockRow | undefined> {
  try {
    const row = await client.getEntity<InstanceLockHolder>(partition, instanceName);
    return { jobId: row.jobId, operation: row.operation, acquiredAt: row.acquiredAt, etag: row.etag };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw storageFailure(err, `reading the operation lock of '${instanceName}'`);
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
 * Takes the instance's lock for `jobId`, unless another job that is still running holds it. Taking it again for
 * the same job (a retried activity, a replay) succeeds. Storage failures are thrown (transient ones as such).
 */
export async function acquireInstanceLock(
  instanceName: string,
  jobId: string,
  operation: JobOperation,
  options: { now?: Date; isRunning?: OrchestrationProbe } = {},
): Promise<InstanceLockAttempt> {
  const client = await table();
  const mine = { partitionKey: partition, rowKey: instanceName, jobId, operation, acquiredAt: (options.now ?? new Date()).toISOString() };
  for (let round = 1; round <= maxRounds; round++) {
    const current = await readLock(client, instanceName);
    if (current?.jobId === jobId) return { acquired: true };
    if (current && !(await isOver(holderOf(current), options.isRunning))) return { acquired: false, holder: holderOf(current) };
    try {
      if (current) await client.updateEntity(mine, "Replace", { etag: current.etag });
      else await client.createEntity(mine);
      return current ? { acquired: true, tookOverFrom: holderOf(current) } : { acquired: true };
    } catch (err) {
      // Someone else created, replaced or released it since the read (409, 412, 404): look again.
      const status = statusOf(err);
      if (status !== 409 && status !== 412 && status !== 404) throw storageFailure(err, `taking the operation lock of '${instanceName}'`);
    }
  }
  throw new PgVaultError("SystemErrorStorageUnavailable", `The operation lock of '${instanceName}' kept changing while it was being taken.`, { transient: true });
}

/** Gives the lock back if `jobId` holds it; true when it did. Anyone else's lock is left alone. */
export async function releaseInstanceLock(instanceName: string, jobId: string): Promise<boolean> {
  const client = await table();
  const current = await readLock(client, instanceName);
  if (current?.jobId !== jobId) return false;
  try {
    await client.deleteEntity(partition, instanceName, { etag: current.etag });
    return true;
  } catch (err) {
    // Gone already, or taken over in between: either way it is not this job's any more.
    const status = statusOf(err);
    if (status === 404 || status === 412) return false;
    throw storageFailure(err, `releasing the operation lock of '${instanceName}'`);
  }
}

/** Who holds the instance's lock, running or not (undefined: nobody). */
export async function readInstanceLock(instanceName: string): Promise<InstanceLockHolder | undefined> {
  const current = await readLock(await table(), instanceName);
  return current && holderOf(current);
}

/** The job that holds the instance's lock and is still running, if any (the HTTP routes' check before they start a job). */
export async function runningOperation(instanceName: string, isRunning?: OrchestrationProbe): Promise<InstanceLockHolder | undefined> {
  const current = await readLock(await table(), instanceName);
  if (!current || (await isOver(holderOf(current), isRunning))) return undefined;
  return holderOf(current);
}

/**
 * The HTTP routes' check before they create a job (backup, restore, verify): 409 `UserErrorOperationInProgress`
 * naming the running job. The orchestration checks again when it takes the lock; a request racing another one
 * past this check gets its 202, and its job fails with the same code.
 */
export async function refuseIfInstanceBusy(instanceName: string, isRunning?: OrchestrationProbe): Promise<void> {
  const holder = await runningOperation(instanceName, isRunning);
  if (!holder) return;
  const busy = operationInProgress(instanceName, holder);
  throw new ConflictError("UserErrorOperationInProgress", busy.message, busy.recommendedAction);
}

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
