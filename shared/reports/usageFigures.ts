/**
 * The figures behind the console's usage charts (GET /reports/usage, usageReport.ts reads): pure, so they are
 * tested on known points and jobs without storage.
 *
 * Vault bytes of a day are the bytes of the points the vault held at the end of that UTC day (today: at `now`):
 * a point counts from its `time` until its data was removed. Its data is removed when retention purges it, which
 * marks it `Deleted`; the row keeps no purge time of its own, so the end is the first the row records of:
 * `deletionStartedAt` (retention claims the point right before deleting its blobs), `purgeAfter` (a soft-deleted
 * point's purge, which the daily run does on its first run after it), `expiresAt` (an expired point, deleted by
 * the next daily run). So a day's figure can be up to a day early where retention removed data: the
 * approximation is the daily run's lag. An `Available` or `SoftDeleted` point holds its bytes until now, so
 * today's figure is exactly the Backup Center's (instanceSummaries.ts counts the same points).
 */
import type { Job, JobStatus, RecoveryPoint } from "../domain";

const dayMs = 86_400_000;

export interface VaultDay {
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  /** Bytes of the points held at the end of the day (today: at the report's time). */
  bytes: number;
  points: number;
}

export interface BackupRun {
  jobId: string;
  startTime: string;
  endTime: string | null;
  /** Whole seconds from start to end; null while it runs. */
  durationSeconds: number | null;
  status: JobStatus;
  bytes: number;
  recoveryPointId: string | null;
}

/** The `count` UTC days ending with `now`'s, oldest first. */
export function reportDays(now: Date, count: number): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: count }, (_, i) => new Date(today - (count - 1 - i) * dayMs).toISOString().slice(0, 10));
}

/** Until when the vault held the point's data (ms); Infinity while it still does. */
export function heldUntil(rp: Pick<RecoveryPoint, "status" | "deletionStartedAt" | "purgeAfter" | "expiresAt">): number {
  if (rp.status !== "Deleted") return Infinity;
  return Date.parse(rp.deletionStartedAt ?? rp.purgeAfter ?? rp.expiresAt);
}

/**
 * Bytes and points held at the end of each of `days` (oldest first), or at `now` for a day not yet over. One
 * sweep over the points' starts and ends: O((points + days) log points).
 */
export function vaultUsageByDay(points: readonly RecoveryPoint[], days: readonly string[], now: Date): VaultDay[] {
  const changes: { at: number; bytes: number; points: number }[] = [];
  for (const rp of points) {
    const [from, until] = [Date.parse(rp.time), heldUntil(rp)];
    if (!(until > from)) continue;
    changes.push({ at: from, bytes: rp.sizeBytes, points: 1 });
    if (until !== Infinity) changes.push({ at: until, bytes: -rp.sizeBytes, points: -1 });
  }
  changes.sort((a, b) => a.at - b.at);
  let [next, bytes, count] = [0, 0, 0];
  return days.map((date) => {
    const instant = Math.min(Date.parse(`${date}T00:00:00Z`) + dayMs - 1, now.getTime());
    for (; next < changes.length && changes[next]!.at <= instant; next++) {
      bytes += changes[next]!.bytes;
      count += changes[next]!.points;
    }
    return { date, bytes, points: count };
  });
}

/** Backup jobs as the charts show them, oldest first. */
export function backupRuns(jobs: readonly Job[]): BackupRun[] {
  return jobs
    .filter((job) => job.operation === "Backup")
    .map((job) => ({
      jobId: job.id,
      startTime: job.startTime,
      endTime: job.endTime ?? null,
      durationSeconds: job.endTime ? Math.max(0, Math.round((Date.parse(job.endTime) - Date.parse(job.startTime)) / 1000)) : null,
      status: job.status,
      bytes: job.bytes,
      recoveryPointId: job.recoveryPointId ?? null,
    }))
    .sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime) || (a.jobId < b.jobId ? -1 : 1));
}
