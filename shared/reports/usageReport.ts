/**
 * The usage report behind the console's charts (GET /reports/usage): the vault's bytes per day, an instance's
 * backups of the window, and RPO health, for the fleet or one instance.
 *
 * Reads, per request, whatever the length of the history:
 * - the Backup Center's summary (backupCenter/summary.ts: the instances, the policies, the instance summaries
 *   and the failed jobs of 30 days, one query each), for the RPO health of each instance;
 * - per instance in scope, eight at a time, one query of its partition of `recoveryPoints` returning the points
 *   it holds now and the `Deleted` ones whose `expiresAt` is less than `deletedLookbackDays` before the window:
 *   those whose data can have been in the vault during the window (usageFigures.ts, `heldUntil`). The ten years
 *   of older `Deleted` rows a daily policy leaves are not returned;
 * - with `instanceName`, its Backup jobs of the window: one key range of its job-index partition
 *   (catalog/jobIndex.ts). The fleet's jobs are not read: the console asks per instance.
 * So 4 + instances queries for the fleet, 6 for one instance. Nothing reads the `jobs` rows.
 */
import { backupCenterSummary } from "../backupCenter/summary";
import { catalogTables, listDocuments } from "../catalog/documents";
import { listJobs } from "../catalog/jobLists";
import { odataString } from "../catalog/tableAccess";
import type { RecoveryPoint } from "../domain";
import { NotFoundError } from "../errors";
import { mapLimited } from "../mapLimited";
import type { RpoState } from "../rpo/rpo";
import { isoSeconds } from "../time/isoTime";
import { backupRuns, reportDays, vaultUsageByDay, type BackupRun, type VaultDay } from "./usageFigures";

export const defaultUsageDays = 90;
export const maxUsageDays = 400;

/**
 * How long before the window a `Deleted` point may have expired and still held data in it: a soft-deleted point
 * is purged at `purgeAfter`, up to 180 days (the most SOFT_DELETE_RETENTION_DAYS allows, config.ts) after it was
 * deleted, which may be after it expired; and a day for the daily run's lag.
 */
export const deletedLookbackDays = 181;

const dayMs = 86_400_000;

export interface UsageHealth {
  instanceName: string;
  policyName: string;
  /** Null: the instance owes no RPO (protection stopped, or its policy is missing). */
  state: RpoState | null;
  rpo: string | null;
  /** The RPO's length: from what it counts from to its breach. */
  rpoSeconds: number | null;
  newestPoint: { time: string; ageSeconds: number } | null;
  breachAt: string | null;
}

export interface UsageReport {
  generatedAt: string;
  /** From the first day's midnight (UTC) to `generatedAt`. */
  period: { from: string; to: string; days: number };
  /** The instance the report is narrowed to; null: the fleet. */
  instanceName: string | null;
  /** One entry per UTC day, oldest first; the last is today's, as of `generatedAt`. */
  vault: VaultDay[];
  health: { counts: Record<RpoState | "None", number>; instances: UsageHealth[] };
  /** With `instanceName`: its Backup jobs that started in the period, oldest first; null for the fleet. */
  backups: BackupRun[] | null;
}

/** The instance's points that can have held data in the window starting at `from`: one query of its partition. */
function pointsHeldSince(instanceName: string, from: Date): Promise<RecoveryPoint[]> {
  const expiredAfter = isoSeconds(new Date(from.getTime() - deletedLookbackDays * dayMs));
  const filter = `PartitionKey eq ${odataString(instanceName)} and (status ne 'Deleted' or expiresAt ge ${odataString(expiredAfter)})`;
  return listDocuments<RecoveryPoint>(catalogTables.recoveryPoints, filter);
}

/** The report for the `days` UTC days ending today, as of `now`. */
export async function usageReport(days: number, now: Date, instanceName?: string): Promise<UsageReport> {
  const dates = reportDays(now, days);
  const from = new Date(`${dates[0]}T00:00:00Z`);
  const summary = await backupCenterSummary(now);
  const inScope = summary.instances.filter((instance) => instanceName === undefined || instance.name === instanceName);
  if (instanceName !== undefined && inScope.length === 0) throw new NotFoundError(`Backup instance '${instanceName}' does not exist.`);
  const [pointLists, jobs] = await Promise.all([
    mapLimited(inScope, 8, (instance) => pointsHeldSince(instance.name, from)),
    instanceName === undefined ? undefined : listJobs({ instanceName, operation: "Backup", from: from.toISOString(), to: new Date(now.getTime() + 1000).toISOString() }),
  ]);
  const counts: Record<RpoState | "None", number> = { Healthy: 0, AtRisk: 0, Breached: 0, None: 0 };
  const health = inScope.map((instance): UsageHealth => {
    const h = instance.health;
    counts[h?.state ?? "None"]++;
    return {
      instanceName: instance.name,
      policyName: instance.policyName,
      state: h?.state ?? null,
      rpo: h?.rpo ?? null,
      rpoSeconds: h ? Math.round((Date.parse(h.breachAt) - Date.parse(h.since)) / 1000) : null,
      newestPoint: h?.newestPoint ?? null,
      breachAt: h?.breachAt ?? null,
    };
  });
  return {
    generatedAt: isoSeconds(now),
    period: { from: isoSeconds(from), to: isoSeconds(now), days },
    instanceName: instanceName ?? null,
    vault: vaultUsageByDay(pointLists.flat(), dates, now),
    health: { counts, instances: health },
    backups: jobs ? backupRuns(jobs) : null,
  };
}
