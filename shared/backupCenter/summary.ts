/**
 * The Backup Center's view model (GET /backup-center): every instance with its protection, last and next backup,
 * vault usage and a 30-day timeline of job results, plus the failed jobs with what to do about them. Plain data
 * built from the catalog for one instant; page.ts turns it into HTML.
 *
 * Reads: instances and policies once, the jobs of the window once (grouped in memory), and the recovery points
 * one query per instance (a few at a time).
 */
import { listInstances, listPolicies } from "../catalog/catalog";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import { listJobs } from "../catalog/jobLists";
import type { BackupInstance, BackupPolicy, Datasource, Job, JobOperation, JobStatus, JobTrigger, ProtectionState, RecoveryPoint } from "../domain";
import { errorCatalog, isErrorCode } from "../errors";
import { parseResourceId, resourceIdProblems } from "../flexServer/resourceId";
import { nextScheduledBackup } from "../instanceView";

/** Days on the timeline, today (UTC) included. */
export const timelineDays = 30;
/** Failed jobs listed on the page; the total is counted in full. */
export const maxFailedJobs = 50;

const dayMs = 86_400_000;

/** A day's outcome over an instance's jobs that started that day: one failure makes the day Failed. */
export type DayOutcome = "Failed" | "Succeeded" | "InProgress" | "Queued" | "Cancelled";
const outcomePriority: readonly DayOutcome[] = ["Failed", "Succeeded", "InProgress", "Queued", "Cancelled"];

export interface TimelineDay {
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  /** Null for a day without jobs. */
  outcome: DayOutcome | null;
  /** Jobs that started that day, by status. */
  counts: Partial<Record<JobStatus, number>>;
}

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

export interface InstanceSummary {
  name: string;
  datasourceType: Datasource["type"];
  /** `host/database` (with `:port` when not 5432), or the Flexible Server's name. */
  datasourceLabel: string;
  protectionState: ProtectionState;
  policyName: string;
  /** False when the instance names a policy that no longer exists. */
  policyFound: boolean;
  lastBackup: LastBackup | null;
  nextScheduledBackup: string | null;
  /** Points that hold data in the vault: Available and SoftDeleted. */
  recoveryPoints: { count: number; bytes: number };
  /** One day per entry, oldest first (the summary's `days`). */
  timeline: TimelineDay[];
}

export interface FailedJobSummary {
  jobId: string;
  /** `*` for a retention run over every instance. */
  instanceName: string;
  operation: JobOperation;
  trigger: JobTrigger;
  startTime: string;
  endTime: string | null;
  code: string;
  message: string;
  recommendedAction: string;
}

export interface BackupCenterSummary {
  generatedAt: string;
  /** The timeline's days, `YYYY-MM-DD`, oldest first; the last is today (UTC). */
  days: string[];
  totals: { instances: number; protected: number; failedJobs: number; vaultBytes: number };
  /** Sorted by name. */
  instances: InstanceSummary[];
  /** Newest first, at most `maxFailedJobs`; `totals.failedJobs` counts them all. */
  failedJobs: FailedJobSummary[];
}

const isFinished = (status: JobStatus): status is BackupResult => status === "Succeeded" || status === "Failed" || status === "Cancelled";
const heldStatuses = new Set<RecoveryPoint["status"]>(["Available", "SoftDeleted"]);

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The UTC days of the window ending today, oldest first. */
export function windowDays(now: Date): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: timelineDays }, (_, i) => utcDay(today - (timelineDays - 1 - i) * dayMs));
}

export function dayOutcome(counts: Partial<Record<JobStatus, number>>): DayOutcome | null {
  return outcomePriority.find((status) => (counts[status] ?? 0) > 0) ?? null;
}

export function datasourceLabel(datasource: Datasource): string {
  if (datasource.type === "database") {
    const port = datasource.port === 5432 ? "" : `:${datasource.port}`;
    return `${datasource.host}${port}/${datasource.database}`;
  }
  if (resourceIdProblems(datasource.resourceId).length === 0) return parseResourceId(datasource.resourceId).serverName;
  return datasource.resourceId.split("/").filter(Boolean).pop() ?? datasource.resourceId;
}

function timeline(days: readonly string[], jobs: readonly Job[]): TimelineDay[] {
  const byDay = new Map<string, Partial<Record<JobStatus, number>>>(days.map((day) => [day, {}]));
  for (const job of jobs) {
    const counts = byDay.get(job.startTime.slice(0, 10));
    if (counts) counts[job.status] = (counts[job.status] ?? 0) + 1;
  }
  return days.map((date) => {
    const counts = byDay.get(date) ?? {};
    return { date, outcome: dayOutcome(counts), counts };
  });
}

/**
 * The newest finished Backup job, or the newest Available recovery point when that is more recent (its job may be
 * older than the window). A Succeeded job reports its point's size.
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

function failedJob(job: Job): FailedJobSummary {
  const code = job.error?.code ?? "SystemErrorUnexpected";
  return {
    jobId: job.id,
    instanceName: job.instanceName,
    operation: job.operation,
    trigger: job.trigger,
    startTime: job.startTime,
    endTime: job.endTime ?? null,
    code,
    message: job.error?.message ?? "The job failed without recording an error.",
    recommendedAction: job.error?.recommendedAction ?? (isErrorCode(code) ? errorCatalog[code].recommendedAction : ""),
  };
}

/** `work` over `items`, at most `limit` at a time, results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function instanceSummary(
  instance: BackupInstance,
  policy: BackupPolicy | undefined,
  jobs: readonly Job[],
  recoveryPoints: readonly RecoveryPoint[],
  days: readonly string[],
  now: Date,
): InstanceSummary {
  const held = recoveryPoints.filter((rp) => heldStatuses.has(rp.status));
  return {
    name: instance.name,
    datasourceType: instance.datasource.type,
    datasourceLabel: datasourceLabel(instance.datasource),
    protectionState: instance.protectionState,
    policyName: instance.policyName,
    policyFound: policy !== undefined,
    lastBackup: lastBackup(jobs, recoveryPoints),
    nextScheduledBackup: nextScheduledBackup(instance, policy, now),
    recoveryPoints: { count: held.length, bytes: held.reduce((sum, rp) => sum + rp.sizeBytes, 0) },
    timeline: timeline(days, jobs),
  };
}

export async function backupCenterSummary(now: Date): Promise<BackupCenterSummary> {
  const days = windowDays(now);
  // The whole of every day on the timeline: from the first day's midnight to the end of today (UTC).
  const window = { from: `${days[0]}T00:00:00Z`, to: `${utcDay(Date.parse(`${days.at(-1)}T00:00:00Z`) + dayMs)}T00:00:00Z` };
  const [instances, policies, jobs] = await Promise.all([listInstances(), listPolicies(), listJobs(window)]);
  instances.sort((a, b) => a.name.localeCompare(b.name));
  const policyByName = new Map(policies.map((policy) => [policy.name, policy]));
  const jobsByInstance = new Map<string, Job[]>();
  for (const job of jobs) {
    const list = jobsByInstance.get(job.instanceName);
    if (list) list.push(job);
    else jobsByInstance.set(job.instanceName, [job]);
  }
  // One query per instance, newest point first. Enough for hundreds of instances; beyond that, sizes and counts
  // belong in columns (or a per-instance aggregate row) so one table scan answers them.
  const pointsPerInstance = await mapLimited(instances, 8, (instance) => listRecoveryPoints(instance.name));
  const summaries = instances.map((instance, i) =>
    instanceSummary(instance, policyByName.get(instance.policyName), jobsByInstance.get(instance.name) ?? [], pointsPerInstance[i] ?? [], days, now),
  );
  const failed = jobs.filter((job) => job.status === "Failed");
  return {
    generatedAt: now.toISOString(),
    days,
    totals: {
      instances: summaries.length,
      protected: summaries.filter((s) => s.protectionState === "ProtectionConfigured").length,
      failedJobs: failed.length,
      vaultBytes: summaries.reduce((sum, s) => sum + s.recoveryPoints.bytes, 0),
    },
    instances: summaries,
    failedJobs: failed.slice(0, maxFailedJobs).map(failedJob),
  };
}
