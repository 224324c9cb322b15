/**
 * POST /api/backupPolicies/preview (issue 27, policies): the next slots are the scheduler's, across a DST change;
 * the ten-year retention picture equals a calculation written here from the SPEC's rules, independently of
 * shared/retention; a body PUT would refuse is refused the same way; hourly policies stay fast.
 */
import { describe, expect, test } from "vitest";
import { previewBackupPolicy } from "../../functions/backupPolicies";
import type { BackupPolicy, RetentionTag } from "../../shared/domain";
import { handled } from "../../shared/http";
import type { PolicyPreview, RetentionSample, TagCounts } from "../../shared/policies/preview";
import { latestDueSlot, nextSlot, slotsBetween } from "../../shared/time/schedule";
import { bodyOf, invocation, request } from "../support/http";

const preview = (body: unknown, from?: string) => {
  const req = request("POST", `backupPolicies/preview${from ? `?from=${encodeURIComponent(from)}` : ""}`, { body: body as object });
  return handled(previewBackupPolicy)(req, invocation("previewBackupPolicy"));
};

const retention = {
  default: { duration: "P30D" },
  rules: [
    { tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" },
    { tag: "Monthly", criteria: "FirstOfMonth", duration: "P12M" },
    { tag: "Yearly", criteria: "FirstOfYear", duration: "P10Y" },
  ],
};
const policyBody = (repeatingIntervals: string[], timeZone = "Europe/Berlin") => ({ datasourceType: "database", schedule: { repeatingIntervals, timeZone }, retention });

describe("next slots", () => {
  test("when a daily 02:30 Berlin policy is previewed across the spring change, then its ten slots are the scheduler's, 02:30 becoming 03:00 on the day the clock jumps", async () => {
    const body = policyBody(["R/2026-01-04T02:30:00/P1D"]);
    const from = "2026-03-24T12:00:00Z";
    const response = await preview(body, from);
    expect(response.status).toBe(200);
    const answer = bodyOf<PolicyPreview>(response);
    expect(answer.nextSlots).toHaveLength(10);
    expect(answer.nextSlots.slice(3, 6)).toEqual([
      { time: "2026-03-28T01:30:00Z", local: "2026-03-28T02:30:00+01:00", utcOffset: "+01:00" },
      { time: "2026-03-29T01:00:00Z", local: "2026-03-29T03:00:00+02:00", utcOffset: "+02:00" },
      { time: "2026-03-30T00:30:00Z", local: "2026-03-30T02:30:00+02:00", utcOffset: "+02:00" },
    ]);
    // What the scheduler computes: each slot is the next one after the one before, and latestDueSlot finds it due.
    let after = new Date(from);
    for (const slot of answer.nextSlots) {
      const expected = nextSlot(body.schedule, after)!;
      expect(slot.time).toBe(expected.toISOString().replace(".000", ""));
      expect(latestDueSlot(body.schedule, expected)?.getTime()).toBe(expected.getTime());
      expect(latestDueSlot(body.schedule, new Date(expected.getTime() - 1))?.getTime()).toBeLessThan(expected.getTime());
      after = expected;
    }
  });

  test("when a two-hourly Berlin policy is previewed across the autumn change, then the repeated hour runs once and the offsets change with it", async () => {
    const answer = bodyOf<PolicyPreview>(await preview(policyBody(["R/2026-01-04T00:00:00/PT2H"]), "2026-10-24T21:30:00Z"));
    expect(answer.nextSlots.map((slot) => slot.local)).toEqual([
      "2026-10-25T00:00:00+02:00",
      "2026-10-25T02:00:00+02:00",
      "2026-10-25T04:00:00+01:00",
      "2026-10-25T06:00:00+01:00",
      "2026-10-25T08:00:00+01:00",
      "2026-10-25T10:00:00+01:00",
      "2026-10-25T12:00:00+01:00",
      "2026-10-25T14:00:00+01:00",
      "2026-10-25T16:00:00+01:00",
      "2026-10-25T18:00:00+01:00",
    ]);
    expect(answer.nextSlots[2]!.time).toBe("2026-10-25T03:00:00Z");
  });
});

describe("slotsBetween, the preview's enumeration of ten years of slots", () => {
  const chained = (schedule: BackupPolicy["schedule"], from: Date, to: Date) => {
    const slots: number[] = [];
    for (let slot = nextSlot(schedule, new Date(from.getTime() - 1)); slot && slot < to; slot = nextSlot(schedule, slot)) slots.push(slot.getTime());
    return slots;
  };
  test.each([
    ["Europe/Berlin", ["R/2026-01-04T00:00:00/PT1H"]],
    ["Europe/Berlin", ["R/2026-01-04T02:30:00/P1D", "R/2026-01-05T02:30:00/PT3H", "R/2026-01-06T21:15:00/P1W"]],
    ["Australia/Lord_Howe", ["R/2026-01-04T01:45:00/PT1H", "R/2026-01-04T02:00:00/PT2H"]],
    ["America/Santiago", ["R/2026-01-04T00:00:00/PT4H"]],
  ])("when the %s schedule %j is enumerated over a year, then it equals chaining the scheduler's nextSlot", (timeZone, repeatingIntervals) => {
    const schedule = { repeatingIntervals, timeZone };
    const [from, to] = [new Date("2026-02-10T07:00:00Z"), new Date("2027-02-10T07:00:00Z")];
    expect(slotsBetween(schedule, from, to)).toEqual(chained(schedule, from, to));
  });
});

/**
 * The SPEC's retention rules for a daily 12:00 Berlin policy, written on calendar dates: a backup is Yearly when it
 * is the first of its year, else Monthly the first of its month, else Weekly the first of its ISO week (Monday),
 * else Default; it expires its duration later on the UTC calendar (a month end clamps), at the time it was taken.
 */
function expectedRetention(from: Date, days: number) {
  const noonBerlin = (date: Date) => {
    // EU summer time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October.
    const lastSunday = (month: number) => {
      const last = new Date(Date.UTC(date.getUTCFullYear(), month + 1, 0));
      return Date.UTC(date.getUTCFullYear(), month, last.getUTCDate() - last.getUTCDay(), 1);
    };
    const noonUtc = date.getTime() + 12 * 3_600_000;
    const summer = noonUtc - 2 * 3_600_000 >= lastSunday(2) && noonUtc - 2 * 3_600_000 < lastSunday(9);
    return noonUtc - (summer ? 2 : 1) * 3_600_000;
  };
  const plus = (time: number, months: number, extraDays: number) => {
    const t = new Date(time);
    const target = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + months, 1, t.getUTCHours(), t.getUTCMinutes()));
    const monthLength = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
    target.setUTCDate(Math.min(t.getUTCDate(), monthLength) + extraDays);
    return target.getTime();
  };
  const points: { time: number; expires: number; tag: RetentionTag }[] = [];
  for (let i = 0; i < days; i++) {
    const date = new Date(from.getTime() + i * 86_400_000);
    const time = noonBerlin(date);
    const tag: RetentionTag =
      i === 0 || (date.getUTCMonth() === 0 && date.getUTCDate() === 1)
        ? "Yearly"
        : date.getUTCDate() === 1
          ? "Monthly"
          : date.getUTCDay() === 1
            ? "Weekly"
            : "Default";
    const expires = { Yearly: plus(time, 120, 0), Monthly: plus(time, 12, 0), Weekly: plus(time, 0, 84), Default: plus(time, 0, 30) }[tag];
    points.push({ time, expires, tag });
  }
  const countAt = (at: number): TagCounts => {
    const counts: TagCounts = { Default: 0, Weekly: 0, Monthly: 0, Yearly: 0, total: 0 };
    for (const point of points) if (point.time <= at && point.expires > at) (counts[point.tag]++, counts.total++);
    return counts;
  };
  const monthEnds: RetentionSample[] = [];
  for (let month = 1; month <= 120; month++) {
    const at = Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + month, 1);
    monthEnds.push({ at: new Date(at).toISOString().replace(".000", ""), ...countAt(at) });
  }
  // Counts grow only when a backup is taken, so each maximum is reached just after one.
  const maximum: TagCounts = { Default: 0, Weekly: 0, Monthly: 0, Yearly: 0, total: 0 };
  for (const point of points) {
    const counts = countAt(point.time);
    for (const key of Object.keys(maximum) as (keyof TagCounts)[]) maximum[key] = Math.max(maximum[key], counts[key]);
  }
  return { monthEnds, maximum, atEnd: countAt(from.getTime() + days * 86_400_000 - 1), backups: points.length };
}

describe("retention over ten years", () => {
  test("when a daily 30D + 12W + 12M + 10Y policy is previewed, then the counts at each month's turn, their maxima and the final ones equal the calculation from the rules", async () => {
    const from = new Date("2026-03-20T00:00:00Z");
    const answer = bodyOf<PolicyPreview>(await preview(policyBody(["R/2026-01-04T12:00:00/P1D"]), from.toISOString()));
    const expected = expectedRetention(from, 3653); // 2026-03-20 to 2036-03-20: three leap days
    expect(answer.retention).toMatchObject({ from: "2026-03-20T00:00:00Z", to: "2036-03-20T00:00:00Z", backups: expected.backups, truncated: false });
    expect(answer.retention.tags).toEqual(["Default", "Weekly", "Monthly", "Yearly"]);
    expect(answer.retention.monthEnds).toEqual(expected.monthEnds);
    expect(answer.retention.maximum).toEqual(expected.maximum);
    expect(answer.retention.atEnd).toEqual(expected.atEnd);
    // The picture a person checks: eleven yearly points (the first backup and ten New Years), January's first
    // backup Yearly rather than Monthly, so eleven monthly ones; twelve weeks; a month of the rest.
    expect(answer.retention.atEnd).toMatchObject({ Yearly: 11, Monthly: 11, Weekly: 12 });
  });

  test("when the default duration is shorter than the gap between weekly backups, then the newest point is still kept, as retention keeps it", async () => {
    const body = { datasourceType: "database", schedule: { repeatingIntervals: ["R/2026-01-05T03:00:00/P1W"], timeZone: "UTC" }, retention: { default: { duration: "P1D" } } };
    const answer = bodyOf<PolicyPreview>(await preview(body, "2026-01-01T00:00:00Z"));
    expect(answer.retention.monthEnds.every((sample) => sample.total === 1 && sample.Default === 1)).toBe(true);
    expect(answer.retention.maximum.total).toBe(1);
  });

  test("when an hourly Berlin policy is previewed, then ten years of backups (87,662 slots) are simulated in bounded time", async () => {
    const started = performance.now();
    const answer = bodyOf<PolicyPreview>(await preview(policyBody(["R/2026-01-04T00:00:00/PT1H"]), "2026-03-20T00:00:00Z"));
    const elapsed = performance.now() - started;
    console.log(`preview of an hourly policy over ten years: ${answer.retention.backups} backups in ${elapsed.toFixed(0)} ms`);
    // 3,653 days of 24 slots, less the hour each of the ten spring changes skips.
    expect(answer.retention.backups).toBe(3653 * 24 - 10);
    expect(answer.retention.truncated).toBe(false);
    expect(answer.retention.atEnd).toMatchObject({ Yearly: 11, Monthly: 11, Weekly: 12 });
    expect(elapsed).toBeLessThan(5000);
  });

  test("when the schedule has more backups than are simulated, then the picture ends early and says so", async () => {
    const body = policyBody(["R/2026-01-04T00:00:00/PT1H", "R/2026-01-04T00:20:00/PT1H", "R/2026-01-04T00:40:00/PT1H"]);
    const answer = bodyOf<PolicyPreview>(await preview(body, "2026-03-20T00:00:00Z"));
    expect(answer.retention).toMatchObject({ truncated: true, backups: 175_200 });
    expect(Date.parse(answer.retention.to)).toBeLessThan(Date.parse("2036-03-20T00:00:00Z"));
  });
});

describe("refusals", () => {
  test("when the body breaks the policy schema, then 400 lists each problem with its path, as PUT would", async () => {
    const body = { datasourceType: "database", schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00Z/PT5H"], timeZone: "Mars/Olympus" }, retention: { default: { duration: "P11Y" } } };
    const response = await preview(body);
    expect(response.status).toBe(400);
    expect(bodyOf<{ error: { code: string; details: { path: string }[] } }>(response).error).toMatchObject({
      code: "InvalidRequest",
      details: [{ path: "schedule.repeatingIntervals[0]" }, { path: "schedule.timeZone" }, { path: "retention.default.duration" }],
    });
  });

  test("when from is not a date-time with a zone, then 400 on from", async () => {
    const response = await preview(policyBody(["R/2026-01-04T02:30:00/P1D"]), "2026-03-20");
    expect(response.status).toBe(400);
    expect(bodyOf<{ error: { details: unknown[] } }>(response).error.details).toEqual([{ path: "from", message: "must be an ISO 8601 date-time with a zone, e.g. 2026-11-01T00:00:00Z" }]);
  });
});
