/**
 * One row per instance with what the Backup Center shows of it (table `instanceSummaries`, partition `summary`,
 * row key the instance name): the count and bytes of the points that hold data, the last backup, and the jobs of
 * each of the last 31 UTC days by status. The page reads these rows (one query for every instance) instead of
 * every instance's recovery points and jobs.
 *
 * A row is recomputed from its instance's own rows (its recovery points, its jobs of the last 31 days: both
 * bounded by that instance) whenever one of them changes (catalog.ts, jobRows.ts), and written under the etag it
 * was read with before the recount began: a writer whose recount started before another's write finished counts
 * again. So the last write always counted every change that had finished before it began. A refresh that fails
 * (storage out) leaves the row behind until the next change or the nightly rebuild (reconcile.ts). Summaries are
 * kept only once the job index is complete (catalog/jobIndexBackfill.ts): before, an instance's jobs cost a scan
 * of every job row.
 */
import type { TableClient } from "@azure/data-tables";
import { newestAvailablePoint, type Job, type JobStatus, type RecoveryPoint } from "../domain";
import { statusOf } from "../storageErrors";
import { jobIndexBackfilled } from "./jobIndexState";
import { listJobs } from "./jobLists";
import { listRecoveryPoints } from "./recoveryPointReads";
import { guarded } from "./tableAccess";
import { getReadyTableClient } from "./vaultClients";

export const instanceSummariesTable = "instanceSummaries";
const partition = "summary";

/** Days of jobs a row keeps: the page's 30, and the one before for a page rendered just after midnight. */
export const summaryDays = 31;
const dayMs = 86_400_000;

export type BackupResult = "Succeeded" | "Failed" | "Cancelled";

export interface LastBackup {
  /** When the job ended (or started, for a row without an end), or the recovery point's time. */
  time: string;
  result: BackupResult;
  /** The recovery point's size; null when the backup made none. */
  sizeBytes: number | null;
  jobId: string | null;
  recoveryPointId: string | null;
}

export type DayCounts = Partial<Record<JobStatus, number>>;

export interface StoredSummary {
  instanceName: string;
  /** When it was counted. */
  countedAt: string;
  /** Points that hold data in the vault: Available and SoftDeleted. */
  recoveryPoints: { count: number; bytes: number };
  lastBackup: LastBackup | null;
  /**
   * The newest Available point recorded complete, which the instance's RPO counts from (shared/rpo/rpo.ts); null:
   * none. Absent from summaries counted before it existed: those are counted again (summaryRepair.ts,
   * `isCurrentSummary`).
   */
  newestAvailable?: { id: string; time: string } | null;
  /** `YYYY-MM-DD` (UTC, the job's start) to counts by status; only days with jobs. */
  days: Record<string, DayCounts>;
}

const isFinished = (status: JobStatus): status is BackupResult => status === "Succeeded" || status === "Failed" || status === "Cancelled";
const heldStatuses = new Set<RecoveryPoint["status"]>(["Available", "SoftDeleted"]);

/**
 * The newest finished Backup job, or the newest Available recovery point when that is more recent (its job may be
 * older than the window). A Succeeded job reports its point's size. `jobs` newest first.
 */
function lastBackup(jobs: readonly Job[], recoveryPoints: readonly RecoveryPoint[]): LastBackup | null {
  const job = jobs.find((j) => j.operation === "Backup" && isFinished(j.status));
  const newestPoint = recoveryPoints.find((rp) => rp.status === "Available");
  const jobTime = job ? (job.endTime ?? job.startTime) : undefined;
  if (job && jobTime && isFinished(job.status) && (!newestPoint || Date.parse(jobTime) >= Date.parse(newestPoint.time))) {
    const point = job.recoveryPointId ? recoveryPoints.find((rp) => rp.id === job.recoveryPointId) : undefined;
    const result = job.status;
    return {
      time: jobTime,
      result,
      sizeBytes: result === "Succeeded" ? (point?.sizeBytes ?? job.bytes) : null,
      jobId: job.id,
      recoveryPointId: job.recoveryPointId ?? null,
    };
  }
  if (newestPoint) {
    return { time: newestPoint.time, result: "Succeeded", sizeBytes: newestPoint.sizeBytes, jobId: null, recoveryPointId: newestPoint.id };
  }
  return null;
}

/** The summary of an instance from its jobs of the last `summaryDays` (newest first) and its points (newest first). */
export function summarize(instanceName: string, jobs: readonly Job[], recoveryPoints: readonly RecoveryPoint[], now: Date): StoredSummary {
  const held = recoveryPoints.filter((rp) => heldStatuses.has(rp.status));
  const newest = newestAvailablePoint(recoveryPoints);
  const days: Record<string, DayCounts> = {};
  for (const job of jobs) {
    if (typeof job.startTime !== "string") continue; // a partial row without a start: no day to count it on
    const counts = (days[job.startTime.slice(0, 10)] ??= {});
    counts[job.status] = (counts[job.status] ?? 0) + 1;
  }
  return {
    instanceName,
    countedAt: now.toISOString(),
    recoveryPoints: { count: held.length, bytes: held.reduce((sum, rp) => sum + rp.sizeBytes, 0) },
    lastBackup: lastBackup(jobs, recoveryPoints),
    newestAvailable: newest ? { id: newest.id, time: newest.time } : null,
    days,
  };
}

/** Whether the summary has every field this version counts (one from before `newestAvailable` has not). */
export const isCurrentSummary = (summary: StoredSummary | undefined): summary is StoredSummary => summary?.newestAvailable !== undefined;

/** The first instant whose jobs a summary counted at `now` keeps: midnight UTC, `summaryDays - 1` days back. */
export function summaryStart(now: Date): string {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(today - (summaryDays - 1) * dayMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const client = () => getReadyTableClient(instanceSummariesTable);

async function readEtag(table: TableClient, instanceName: string): Promise<string | undefined> {
  return guarded(`reading the summary of ${instanceName}`, async () => {
    try {
      return (await table.getEntity(partition, instanceName, { queryOptions: { select: ["RowKey"] } })).etag;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}

/**
 * Counts the instance again as of `at` (default: now; reconciliation passes its run's time) and stores it (see
 * the top of this file); returns what was stored.
 */
export async function refreshInstanceSummary(instanceName: string, at?: Date): Promise<StoredSummary> {
  const table = await client();
  for (let attempt = 1; ; attempt++) {
    const etag = await readEtag(table, instanceName);
    const now = at ?? new Date();
    const [jobs, points] = await Promise.all([listJobs({ instanceName, from: summaryStart(now) }), listRecoveryPoints(instanceName)]);
    const summary = summarize(instanceName, jobs, points, now);
    const entity = { partitionKey: partition, rowKey: instanceName, summary: JSON.stringify(summary) };
    const written = await guarded(`writing the summary of ${instanceName}`, async () => {
      try {
        await (etag ? table.updateEntity(entity, "Replace", { etag }) : table.createEntity(entity));
        return true;
      } catch (err) {
        // Another refresh wrote in between (409 on create, 412 on the etag): count again.
        const status = statusOf(err);
        if ((status !== 409 && status !== 412) || attempt >= 8) throw err;
        return false;
      }
    });
    if (written) return summary;
  }
}

/**
 * After a change to one of the instance's rows: its summary follows. Best effort, so the change itself stands:
 * a summary left behind is counted again at the next change, at the page's next load when missing, and nightly.
 */
export async function summaryFollows(instanceName: string): Promise<void> {
  // Until the job index is complete an instance's jobs are a scan of every job row: no summaries are kept then,
  // and the page counts without them (backupCenter/summary.ts).
  if (!(await jobIndexBackfilled().catch(() => false))) return;
  await refreshInstanceSummary(instanceName).catch(() => undefined);
}

/** Every stored summary, by instance name: one query of one partition. */
export async function readInstanceSummaries(): Promise<Map<string, StoredSummary>> {
  const table = await client();
  return guarded("reading the instance summaries", async () => {
    const summaries = new Map<string, StoredSummary>();
    for await (const entity of table.listEntities<{ summary: string }>({ queryOptions: { filter: `PartitionKey eq '${partition}'` } })) {
      summaries.set(entity.rowKey!, JSON.parse(entity.summary) as StoredSummary);
    }
    return summaries;
  });
}

/** Removes the summaries of instances not in `existing` (deleted since). */
export async function removeSummariesExcept(summaries: ReadonlyMap<string, StoredSummary>, existing: ReadonlySet<string>): Promise<number> {
  const table = await client();
  const gone = [...summaries.keys()].filter((name) => !existing.has(name));
  await guarded("removing summaries of deleted instances", async () => {
    for (const name of gone) {
      await table.deleteEntity(partition, name).catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
    }
  });
  return gone.length;
}
