/**
 * Decides a new recovery point's retention tag and expiry (SPEC section 3): the highest-priority rule whose
 * period (ISO week, month, year in the policy's time zone) has no earlier backup, else Default; an on-demand
 * `retentionTag` overrides. Pure: the caller supplies the times of the instance's earlier recovery points.
 */
import type { BackupPolicy, RetentionTag } from "../domain";
import { addDuration, parseDuration } from "../time/isoDuration";
import { isoSeconds } from "../time/isoTime";

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The last date read per zone: a backup's "today" is the next backup's "latest earlier" (the policy preview's loop). */
const lastRead = new Map<string, { ms: number; date: LocalDate }>();

function localDate(time: Date, timeZone: string): LocalDate {
  const ms = time.getTime();
  const last = lastRead.get(timeZone);
  if (last?.ms === ms) return last.date;
  // Building a formatter costs far more than using one, and an instance of ten years has thousands of backups.
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "numeric", day: "numeric" });
    formatters.set(timeZone, formatter);
  }
  const parts = formatter.formatToParts(time);
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  const date = { year: get("year"), month: get("month"), day: get("day") };
  lastRead.set(timeZone, { ms, date });
  return date;
}

/** ISO 8601 week key `YYYY-Www` (Monday start; week 1 holds the year's first Thursday). */
function isoWeekKey({ year, month, day }: LocalDate): string {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = (date.getUTCDay() + 6) % 7; // Monday = 0
  date.setUTCDate(date.getUTCDate() - weekday + 3); // the Thursday of this week decides its year
  const weekYear = date.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(weekYear, 0, 4));
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
  const week = 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000));
  return `${weekYear}-W${week}`;
}

const periodKeys: Record<Exclude<RetentionTag, "Default">, (date: LocalDate) => string> = {
  Yearly: (d) => `${d.year}`,
  Monthly: (d) => `${d.year}-${d.month}`,
  Weekly: isoWeekKey,
};
const priority: Exclude<RetentionTag, "Default">[] = ["Yearly", "Monthly", "Weekly"];

export interface RetentionDecision {
  tag: RetentionTag;
  expiresAt: string;
}

export function decideRetention(
  policy: BackupPolicy,
  time: Date,
  earlierBackupTimes: readonly Date[],
  override?: RetentionTag,
): RetentionDecision {
  const zone = policy.schedule.timeZone;
  const durationOf = (tag: RetentionTag) =>
    tag === "Default" ? policy.retention.default.duration : policy.retention.rules.find((rule) => rule.tag === tag)?.duration;
  let tag: RetentionTag = "Default";
  if (override && durationOf(override)) {
    tag = override;
  } else if (!override) {
    // Years, months and ISO weeks are unbroken stretches of time: if any earlier backup shares today's period,
    // the latest earlier one does. So one local date is computed, however many backups the instance has.
    // (Milliseconds, not Dates, are compared: relational operators on Dates convert through valueOf every time.)
    const at = time.getTime();
    let latest = -Infinity;
    for (const t of earlierBackupTimes) {
      const ms = t.getTime();
      if (ms < at && ms > latest) latest = ms;
    }
    const earlier = latest > -Infinity ? [localDate(new Date(latest), zone)] : [];
    const today = localDate(time, zone); // after the earlier one: the next backup's earlier date is this one (lastRead)
    tag =
      priority.find((candidate) => {
        if (!durationOf(candidate)) return false;
        const key = periodKeys[candidate];
        return !earlier.some((date) => key(date) === key(today));
      }) ?? "Default";
  }
  // An override naming a tag the policy has no rule for keeps it under the default duration.
  const duration = parseDuration(durationOf(tag) ?? policy.retention.default.duration)!;
  return { tag: durationOf(tag) ? tag : "Default", expiresAt: isoSeconds(addDuration(time, duration)) };
}
