/**
 * Ten years of daily backups under the spec's example policy (02:30 Europe/Berlin; Default P30D, Weekly P12W,
 * Monthly P12M, Yearly P10Y), with a clock the test moves: every recovery point is tagged by `decideRetention`
 * from all earlier backup times, and expiry runs daily (the 01:30 UTC timer) and after every backup. At several
 * dates the surviving recovery points must be exactly those an independent reading of the policy keeps:
 *
 *   the backups of the last 30 days, the first backup of each ISO week of the last 12 weeks, of each month of the
 *   last 12 months and of each year of the last 10 years, where a backup taken at t is gone once t + duration <= now.
 *
 * Pure (no storage), so a decade runs in seconds.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { BackupPolicy, RecoveryPoint } from "../../shared/domain";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { recoveryPointsToDelete } from "../../shared/retention/expiry";
import { decideRetention } from "../../shared/retention/retentionTagging";
import { nextSlot } from "../../shared/time/schedule";
import { specExamplePolicy } from "../support/specExamples";

const policy = { name: "daily-10y", ...specExamplePolicy() } as BackupPolicy;
const zone = "Europe/Berlin";
const dayMs = 86_400_000;
/** A backup's time is when its job recorded the start, a few seconds after the slot. */
const jobStartDelayMs = 7_000;
/**
 * Retention after a backup is run at the backup's own time (as if the dump took no time): the backup of 30 days
 * before, taken at the same UTC time of day, then expires exactly at that moment, so the `expiresAt <= now`
 * boundary is exercised on every winter day.
 */
const dumpDurationMs = 0;

/** The simulated vault: recovery point rows are never removed, only marked Deleted, as in the catalog. */
class SimulatedInstance {
  readonly rows: RecoveryPoint[] = [];

  backup(time: Date): void {
    const { tag, expiresAt } = decideRetention(policy, time, this.rows.map((rp) => new Date(rp.time)));
    const id = recoveryPointId(time, this.rows.length.toString(16).padStart(8, "0"));
    this.rows.push({
      id, instanceName: "sales-prod", time: iso(time), tag, expiresAt, status: "Available", sizeBytes: 1, sha256: "00",
      format: "pg_dump-custom", serverVersion: "15.18", toolVersion: "pg_dump 15.18", blobs: [`backups/sales-prod/${id}/sales.dump`],
    });
  }

  applyRetention(now: Date): void {
    // Newest first, as listRecoveryPoints answers; the instance is protected throughout.
    for (const rp of recoveryPointsToDelete([...this.rows].reverse(), now, true)) rp.status = "Deleted";
  }

  available(): RecoveryPoint[] {
    return this.rows.filter((rp) => rp.status === "Available");
  }
}

const iso = (time: Date) => time.toISOString().replace(/\.\d{3}Z$/, "Z");

// ---- The independent reading of the policy: local calendar dates and plain UTC arithmetic, no shared code. ----

const berlinDate = new Intl.DateTimeFormat("sv-SE", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });

/** `YYYY-MM-DD` of the Monday starting the ISO week that holds the backup's Berlin calendar day. */
function mondayOf(time: Date): string {
  const day = new Date(`${berlinDate.format(time)}T00:00:00Z`);
  const daysSinceMonday = (day.getUTCDay() + 6) % 7;
  return new Date(day.getTime() - daysSinceMonday * dayMs).toISOString().slice(0, 10);
}
const monthOf = (time: Date) => berlinDate.format(time).slice(0, 7);
const yearOf = (time: Date) => berlinDate.format(time).slice(0, 4);

/** Same day of month and time of day, `years` and `months` on (UTC calendar); the simulation never needs clamping. */
function plusCalendar(time: Date, years: number, months: number): Date {
  expect(time.getUTCDate()).toBeLessThanOrEqual(28);
  return new Date(Date.UTC(time.getUTCFullYear() + years, time.getUTCMonth() + months, time.getUTCDate(), time.getUTCHours(), time.getUTCMinutes(), time.getUTCSeconds()));
}

/** Times of the backups that survive at `now`, from the backup times alone. */
function expectedSurvivors(backupTimes: readonly Date[], now: Date): string[] {
  const firstOf = (period: (time: Date) => string) => {
    const seen = new Set<string>();
    return new Set(backupTimes.filter((time) => !seen.has(period(time)) && seen.add(period(time))));
  };
  const [firstOfWeek, firstOfMonth, firstOfYear] = [firstOf(mondayOf), firstOf(monthOf), firstOf(yearOf)];
  const keptUntil = (time: Date): Date[] => [
    new Date(time.getTime() + 30 * dayMs),
    ...(firstOfWeek.has(time) ? [new Date(time.getTime() + 12 * 7 * dayMs)] : []),
    ...(firstOfMonth.has(time) ? [plusCalendar(time, 1, 0)] : []),
    ...(firstOfYear.has(time) ? [plusCalendar(time, 10, 0)] : []),
  ];
  const survivors = backupTimes.filter((time) => time <= now && keptUntil(time).some((until) => until.getTime() > now.getTime()));
  // The newest backup of a protected instance is kept whatever its expiry; with daily backups it is always fresh.
  return survivors.map(iso);
}

// ---- The simulation, run once; each checkpoint is a moment right after a backup and its retention run. ----

const start = new Date("2026-01-03T12:00:00Z"); // the first slot is Sunday 2026-01-04 02:30 in Berlin
const checkpoints = {
  "after one month": "2026-02-06",
  "three weeks after the switch to summer time": "2026-04-19",
  "after one year": "2027-01-04",
  "after a leap day": "2028-03-01",
  "after five years": "2031-01-04",
  "after ten years": "2036-01-04",
} as const;
type Checkpoint = keyof typeof checkpoints;

const instance = new SimulatedInstance();
const backupTimes: Date[] = [];
const snapshots = new Map<Checkpoint, { now: Date; available: RecoveryPoint[] }>();

beforeAll(() => {
  const end = new Date("2036-01-05T00:00:00Z");
  let nextTimer = new Date("2026-01-04T01:30:00Z");
  for (let slot = nextSlot(policy.schedule, start)!; slot < end; slot = nextSlot(policy.schedule, slot)!) {
    const time = new Date(slot.getTime() + jobStartDelayMs);
    // The daily 01:30 UTC retention run, whenever it falls before this backup.
    for (; nextTimer < time; nextTimer = new Date(nextTimer.getTime() + dayMs)) instance.applyRetention(nextTimer);
    instance.backup(time);
    backupTimes.push(time);
    const now = new Date(time.getTime() + dumpDurationMs);
    instance.applyRetention(now);
    for (const [name, date] of Object.entries(checkpoints) as [Checkpoint, string][]) {
      if (berlinDate.format(time) === date) snapshots.set(name, { now, available: instance.available() });
    }
  }
});

function snapshot(name: Checkpoint) {
  const taken = snapshots.get(name);
  if (!taken) throw new Error(`the simulation never reached ${checkpoints[name]}`);
  return { ...taken, times: taken.available.map((rp) => rp.time), expected: expectedSurvivors(backupTimes, taken.now) };
}

const countTags = (rps: RecoveryPoint[]) => Object.fromEntries(["Default", "Weekly", "Monthly", "Yearly"].map((tag) => [tag, rps.filter((rp) => rp.tag === tag).length]));

describe("ten years of daily backups under the spec's example policy", () => {
  test("when a backup is taken every day for ten years, then there is one per Berlin calendar day, at 02:30 local (03:00 on spring-forward days)", () => {
    expect(backupTimes).toHaveLength(3653);
    const localTimes = new Set(backupTimes.map((t) => new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit" }).format(t)));
    expect([...localTimes].sort()).toEqual(["02:30", "03:00"]);
  });

  test.each(Object.keys(checkpoints) as Checkpoint[])("when the clock reaches the day %s, then exactly the independently computed backups survive", (name) => {
    const { times, expected } = snapshot(name);
    expect(times).toEqual(expected);
  });

  test("when a month has passed, then the last 30 days are kept, and the backup of 30 days back is gone at exactly its expiry", () => {
    const { available, now } = snapshot("after one month");
    const lastThirtyDays = available.filter((rp) => Date.parse(rp.time) > now.getTime() - 30 * dayMs);
    expect(lastThirtyDays).toHaveLength(30);
    expect(lastThirtyDays[0]!.time).toBe("2026-01-08T01:30:07Z");
    // Wednesday 2026-01-07, a Default backup: expiresAt 2026-02-06T01:30:07Z, the very moment of this run.
    expect(instance.rows.find((rp) => rp.time === "2026-01-07T01:30:07Z")).toMatchObject({ tag: "Default", expiresAt: "2026-02-06T01:30:07Z", status: "Deleted" });
    // Older ones survive by their tags: the first backup ever (Yearly) and Monday the 5th (Weekly).
    expect(available.slice(0, 2).map((rp) => [rp.time, rp.tag])).toEqual([["2026-01-04T01:30:07Z", "Yearly"], ["2026-01-05T01:30:07Z", "Weekly"]]);
    expect(available).toHaveLength(32);
  });

  test("when 30 days ago was still winter time, then that backup outlives today's 00:30 UTC backup by an hour, so 31 days are kept until the 01:30 run", () => {
    const { available, now } = snapshot("three weeks after the switch to summer time");
    const lastThirtyOneDays = available.filter((rp) => Date.parse(rp.time) > now.getTime() - 31 * dayMs);
    expect(lastThirtyOneDays).toHaveLength(31);
    expect(lastThirtyOneDays[0]).toMatchObject({ time: "2026-03-20T01:30:07Z", expiresAt: "2026-04-19T01:30:07Z" });
  });

  test.each([
    ["after one year", 2],
    ["after five years", 6],
    ["after ten years", 10],
  ] as const)("when the clock reaches the day %s, then about 30 dailies + 12 weeklies + 12 monthlies + %i yearlies survive, minus overlaps", (name, yearlies) => {
    const { available } = snapshot(name);
    const tags = countTags(available);
    // Today's and the 29 days before, less the Mondays and firsts of month among them, which carry a longer tag.
    expect(tags.Default).toBeGreaterThanOrEqual(30 - 5 - 2);
    expect(tags.Default).toBeLessThanOrEqual(30 - 4);
    // One Monday per week for 12 weeks, unless a Monday was the first of a month (then it is Monthly).
    expect(tags.Weekly).toBeGreaterThanOrEqual(11);
    expect(tags.Weekly).toBeLessThanOrEqual(12);
    // Twelve firsts of month, the latest being January 1st, which is Yearly.
    expect(tags.Monthly).toBe(11);
    expect(tags.Yearly).toBe(yearlies);
    expect(available.length).toBeLessThanOrEqual(30 + 12 + 12 + yearlies);
  });

  test("when ten years have passed, then the Yearly points are the first backups of 2027 to 2036, and 2026's expired at its tenth anniversary", () => {
    const { available } = snapshot("after ten years");
    expect(available.filter((rp) => rp.tag === "Yearly").map((rp) => rp.time.slice(0, 10))).toEqual(
      Array.from({ length: 10 }, (_, i) => `${2027 + i}-01-01`),
    );
    expect(instance.rows[0]).toMatchObject({ time: "2026-01-04T01:30:07Z", expiresAt: "2036-01-04T01:30:07Z", status: "Deleted" });
  });
});
