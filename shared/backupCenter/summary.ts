/**
 * The Backup Center's view model (GET /backup-center): every instance with its protection, last and next backup,
 * vault usage and a 30-day timeline of job results, plus the failed jobs with what to do about them. Plain data
 * built from the catalog for one instant; page.ts turns it into HTML.
 *
 * Reads, whatever the number of jobs and points: the instances, the policies and the instance summaries (one
 * query each, a page per 1,000 rows; catalog/instanceSummaries.ts), and the failed jobs of the window (one key
 * range of the job index). An instance without a summary yet (a catalog from before them), or with one counted
 * before it held the newest Available point, is counted on the spot, once. Each protected instance's RPO health
 * is computed from that point at the page's instant (shared/rpo/rpo.ts).
 */
import { listInstances, listPolicies } from "../catalog/catalog";
import { isCurrentSummary, readInstanceSummaries, refreshInstanceSummary, summarize, summaryStart, type DayCounts, type LastBackup, type StoredSummary } from "../catalog/instanceSummaries";
import { jobIndexBackfilled } from "../catalog/jobIndexState";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import { listJobs } from "../catalog/jobLists";
import type { BackupInstance, BackupPolicy, Datasource, Job, JobOperation, JobStatus, JobTrigger, ProtectionState } from "../domain";
import { errorCatalog, isErrorCode } from "../errors";
import { parseResourceId, resourceIdProblems } from "../flexServer/resourceId";
import { nextScheduledBackup } from "../instanceView";
import { mapLimited } from "../mapLimited";
import { protectedInstanceHealth, rposByPolicy, type InstanceHealth, type Rpo, type RpoState } from "../rpo/rpo";

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
  /** Against the policy's RPO at `generatedAt`; null while protection is stopped or the policy is missing. */
  health: InstanceHealth | null;
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
  /** `health`: the instances that owe an RPO, by state. */
  totals: { instances: number; protected: number; failedJobs: number; vaultBytes: number; health: Record<RpoState, number> };
  /** Sorted by name. */
  instances: InstanceSummary[];
  /** Newest first, at most `maxFailedJobs`; `totals.failedJobs` counts them all. */
  failedJobs: FailedJobSummary[];
}

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

function timeline(days: readonly string[], stored: Readonly<Record<string, DayCounts>>): TimelineDay[] {
  return days.map((date) => {
    const counts = { ...(stored[date] ?? {}) };
    return { date, outcome: dayOutcome(counts), counts };
  });
}

function instanceSummary(instance: BackupInstance, policy: BackupPolicy | undefined, rpo: Rpo | undefined, stored: StoredSummary, days: readonly string[], now: Date): InstanceSummary {
  return {
    name: instance.name,
    datasourceType: instance.datasource.type,
    datasourceLabel: datasourceLabel(instance.datasource),
    protectionState: instance.protectionState,
    policyName: instance.policyName,
    policyFound: policy !== undefined,
    lastBackup: stored.lastBackup,
    nextScheduledBackup: nextScheduledBackup(instance, policy, now),
    recoveryPoints: stored.recoveryPoints,
    timeline: timeline(days, stored.days),
    health: protectedInstanceHealth(instance, rpo, stored.newestAvailable?.time ?? null, now),
  };
}

export async function backupCenterSummary(now: Date): Promise<BackupCenterSummary> {
  const days = windowDays(now);
  // The whole of every day on the timeline: from the first day's midnight to the end of today (UTC).
  const window = { from: `${days[0]}T00:00:00Z`, to: `${utcDay(Date.parse(`${days.at(-1)}T00:00:00Z`) + dayMs)}T00:00:00Z` };
  const [instances, policies, summaries, failed] = await Promise.all([listInstances(), listPolicies(), readInstanceSummaries(), listJobs({ status: "Failed", ...window })]);
  instances.sort((a, b) => a.name.localeCompare(b.name));
  const policyByName = new Map(policies.map((policy) => [policy.name, policy]));
  const missing = instances.filter((instance) => !isCurrentSummary(summaries.get(instance.name)));
  if (await jobIndexBackfilled()) {
    // Counted on the spot and kept, once: instances whose summary is missing (a catalog from before the summaries)
    // or from before the newest Available point was kept in it.
    for (const summary of await mapLimited(missing, 8, (instance) => refreshInstanceSummary(instance.name, now))) summaries.set(summary.instanceName, summary);
  } else {
    // A catalog whose job index is still being backfilled: counted as before the summaries, nothing kept (one
    // read of every job row for the window, and each instance's points).
    const jobsByInstance = new Map<string, Job[]>();
    for (const job of await listJobs({ from: summaryStart(now) })) {
      const list = jobsByInstance.get(job.instanceName);
      if (list) list.push(job);
      else jobsByInstance.set(job.instanceName, [job]);
    }
    const counted = await mapLimited(missing, 8, async (instance) => summarize(instance.name, jobsByInstance.get(instance.name) ?? [], await listRecoveryPoints(instance.name), now));
    for (const summary of counted) summaries.set(summary.instanceName, summary);
  }
  const rpos = rposByPolicy(policies, now);
  const listed = instances.map((instance) => instanceSummary(instance, policyByName.get(instance.policyName), rpos.get(instance.policyName), summaries.get(instance.name)!, days, now));
  const health: Record<RpoState, number> = { Healthy: 0, AtRisk: 0, Breached: 0 };
  for (const { health: instanceHealth } of listed) if (instanceHealth) health[instanceHealth.state]++;
  return {
    generatedAt: now.toISOString(),
    days,
    totals: {
      instances: listed.length,
      protected: listed.filter((s) => s.protectionState === "ProtectionConfigured").length,
      failedJobs: failed.length,
      vaultBytes: listed.reduce((sum, s) => sum + s.recoveryPoints.bytes, 0),
      health,
    },
    instances: listed,
    failedJobs: failed.slice(0, maxFailedJobs).map(failedJob),
  };
}
