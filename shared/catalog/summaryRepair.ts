/**
 * Which instance summaries the nightly reconciliation counts again (catalog/instanceSummaries.ts). Counting one
 * costs about four round trips (its row, its jobs of 31 days, its points, the write), so counting all of them every
 * night made the nightly run three times dearer at 2,000 instances (docs/benchmarks.md). Instead a summary is
 * counted again when:
 *
 * - it is missing (an instance added while a refresh failed, or a catalog from before the summaries), or counted
 *   by a version that did not count everything (`isCurrentSummary`: one from before `newestAvailable`);
 * - its job counts of yesterday and today disagree with the jobs the index lists for those days (one query for the
 *   whole fleet, proportional to a day's jobs): what a refresh that failed after a job's change leaves behind;
 * - it is its night of the week (the name's shard of 7): a seventh of the fleet each night, so whatever the check
 *   cannot see (a point's change whose refresh failed, a job of an older day changed) is right within 7 nights.
 *   Points change with the instance's own backups too, each of which counts its summary again.
 */
import type { Job } from "../domain";
import { isCurrentSummary, type DayCounts, type StoredSummary } from "./instanceSummaries";
import { nameShard } from "./nameShard";

/** Every summary is counted again at least once in this many nights. */
export const recountCycleNights = 7;
const dayMs = 86_400_000;

export type RecountReason = "missing" | "outdated" | "jobsDisagree" | "weekly";

/** Midnight UTC of yesterday: the jobs the check compares start from here. */
export function checkedFrom(now: Date): string {
  const today = Math.floor(now.getTime() / dayMs) * dayMs;
  return new Date(today - dayMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const dayKey = (iso: string) => iso.slice(0, 10);

function sameCounts(a: DayCounts | undefined, b: DayCounts | undefined): boolean {
  const entries = (counts: DayCounts | undefined) => Object.entries(counts ?? {}).filter(([, n]) => (n ?? 0) > 0).sort(([x], [y]) => (x < y ? -1 : 1));
  return JSON.stringify(entries(a)) === JSON.stringify(entries(b));
}

/**
 * The instances whose summaries are due, and why. `recentJobs`: every job that started from `checkedFrom(now)`
 * on, of all instances.
 */
export function summariesDue(instanceNames: readonly string[], summaries: ReadonlyMap<string, StoredSummary>, recentJobs: readonly Job[], now: Date): Map<string, RecountReason> {
  const from = checkedFrom(now);
  const days = [dayKey(from), dayKey(new Date(Date.parse(from) + dayMs).toISOString())];
  const counted = new Map<string, Record<string, DayCounts>>();
  for (const job of recentJobs) {
    // A row written without a start time (only a partial write can make one) has no day to count on.
    if (typeof job.startTime !== "string" || job.startTime < from) continue;
    const byDay = counted.get(job.instanceName) ?? {};
    counted.set(job.instanceName, byDay);
    const counts = (byDay[dayKey(job.startTime)] ??= {});
    counts[job.status] = (counts[job.status] ?? 0) + 1;
  }
  const tonight = Math.floor(now.getTime() / dayMs) % recountCycleNights;
  const due = new Map<string, RecountReason>();
  for (const name of instanceNames) {
    const summary = summaries.get(name);
    if (!summary) due.set(name, "missing");
    else if (!isCurrentSummary(summary)) due.set(name, "outdated");
    else if (days.some((day) => !sameCounts(summary.days[day], counted.get(name)?.[day]))) due.set(name, "jobsDisagree");
    else if (nameShard(name, recountCycleNights) === tonight) due.set(name, "weekly");
  }
  return due;
}
