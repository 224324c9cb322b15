/**
 * Recovery-point objectives (shared/rpo/rpo.ts, issue 26): the RPO a schedule can promise (its longest gap between
 * two slots, checked against a walk over a year of real slots, plus the grace), the policy's own `rpo`, what a
 * policy body may say about them, and an instance's health against its RPO.
 */
import { describe, expect, test } from "vitest";
import type { BackupPolicy } from "../../shared/domain";
import { ValidationError } from "../../shared/errors";
import { derivedRpoMs, instanceHealth, policyRpo } from "../../shared/rpo/rpo";
import { formatTimeDuration, parseTimeDuration } from "../../shared/time/isoDuration";
import { longestSlotGapMs, nextSlot, type Schedule } from "../../shared/time/schedule";
import { parsePolicy } from "../../shared/validation/policy";
import { specExamplePolicy } from "../support/specExamples";

const hour = 3_600_000;
const at = new Date("2026-12-07T00:00:00Z");
const schedule = (timeZone: string, ...repeatingIntervals: string[]): BackupPolicy["schedule"] => ({ repeatingIntervals, timeZone });
const policy = (s: BackupPolicy["schedule"], extra: Partial<BackupPolicy> = {}): BackupPolicy => ({
  name: "p",
  datasourceType: "database",
  schedule: s,
  retention: { default: { duration: "P30D" }, rules: [] },
  ...extra,
});

/** The longest gap between consecutive real slots over the year from `at`, by walking them one by one. */
function walkedLongestGap(s: Schedule): number {
  let t = nextSlot(s, at)!;
  let longest = 0;
  const end = at.getTime() + 366 * 24 * hour;
  while (t.getTime() < end) {
    const next = nextSlot(s, t)!;
    longest = Math.max(longest, next.getTime() - t.getTime());
    t = next;
  }
  return longest;
}

describe("the longest gap of a schedule", () => {
  test.each([
    ["daily in UTC", schedule("UTC", "R/2026-01-01T02:00:00/P1D"), 24],
    ["daily in Berlin: the autumn night is 25 hours", schedule("Europe/Berlin", "R/2026-01-01T02:30:00/P1D"), 25],
    ["daily at 02:30 in Berlin, a time the spring night skips", schedule("Europe/Berlin", "R/2026-03-01T02:30:00/P1D"), 25],
    ["daily at Lord Howe Island, whose clocks move by half an hour", schedule("Australia/Lord_Howe", "R/2026-01-01T01:45:00/P1D"), 24.5],
    ["every 4 hours in Sydney", schedule("Australia/Sydney", "R/2026-01-01T00:10:00/PT4H"), 5],
    ["two daily slots 2 hours apart", schedule("UTC", "R/2026-01-01T02:00:00/P1D", "R/2026-01-01T04:00:00/P1D"), 22],
    ["weekly, in Kolkata (no DST)", schedule("Asia/Kolkata", "R/2026-01-04T03:00:00/P1W"), 168],
  ])("when %s, then it is what a year of real slots shows", (_, s, hours) => {
    expect(longestSlotGapMs(s, at)).toBe(hours * hour);
    expect(walkedLongestGap(s)).toBe(hours * hour);
  });

  test("when hourly in New York, then the autumn hour counts twice (hourly slots: not walked, a year of them takes seconds)", () => {
    expect(longestSlotGapMs(schedule("America/New_York", "R/2026-01-01T00:15:00/PT1H"), at)).toBe(2 * hour);
  });
});

describe("the RPO of a policy", () => {
  test("when the policy sets none, then it is the longest gap plus one hour, or plus its rpoGrace", () => {
    const daily = schedule("Europe/Berlin", "R/2026-01-01T02:30:00/P1D");
    expect(policyRpo(policy(daily), at)).toMatchObject({ text: "PT26H", derived: true });
    expect(policyRpo(policy(daily, { rpoGrace: "PT30M" }), at).text).toBe("PT25H30M");
    expect(derivedRpoMs(policy(daily, { rpoGrace: "P1DT2H" }), at)).toBe((25 + 26) * hour);
  });

  test("when the policy sets rpo, then its deadline is on the calendar", () => {
    const rpo = policyRpo(policy(schedule("UTC", "R/2026-01-01T02:00:00/P1D"), { rpo: "P1M" }), at);
    expect(rpo).toMatchObject({ text: "P1M", derived: false });
    expect(rpo.deadline(new Date("2026-01-31T10:00:00Z")).toISOString()).toBe("2026-02-28T10:00:00.000Z");
  });

  test("durations of hours and minutes read and print back", () => {
    expect(["PT1H", "PT30M", "P1DT2H", "P7D", "PT0M"].map(parseTimeDuration)).toEqual([hour, hour / 2, 26 * hour, 168 * hour, 0]);
    expect(["P", "PT", "P1DT", "PT1S", "1H", "P1W"].map(parseTimeDuration)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    expect([26 * hour, 25.5 * hour, 0, hour / 4].map(formatTimeDuration)).toEqual(["PT26H", "PT25H30M", "PT0M", "PT15M"]);
  });
});

describe("rpo and rpoGrace in a policy body", () => {
  const refused = (extra: Record<string, unknown>) => {
    try {
      parsePolicy("p", { ...specExamplePolicy(), ...extra });
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      return (err as ValidationError).issues;
    }
    throw new Error("accepted");
  };

  test("when they are valid, then they are kept", () => {
    expect(parsePolicy("p", { ...specExamplePolicy(), rpo: "P2D" })).toMatchObject({ rpo: "P2D" });
    expect(parsePolicy("p", { ...specExamplePolicy(), rpoGrace: "PT3H" })).toMatchObject({ rpoGrace: "PT3H" });
    expect(parsePolicy("p", specExamplePolicy())).not.toHaveProperty("rpo");
  });

  test("when rpo is shorter than the schedule's longest gap, then it is refused, saying the gap", () => {
    const weekly = { repeatingIntervals: ["R/2026-01-04T02:30:00+00:00/P1W"], timeZone: "UTC" };
    expect(refused({ schedule: weekly, rpo: "P3D" })).toEqual([
      { path: "rpo", message: "'P3D' is shorter than the schedule's longest gap between two backups (PT168H): the schedule cannot meet it" },
    ]);
  });

  test("when they are malformed, out of bounds or both set, then each is refused under its path", () => {
    expect(refused({ rpo: "PT5H", rpoGrace: "P8D" }).map((i) => i.path)).toEqual(["rpo", "rpoGrace"]);
    expect(refused({ rpo: "P2Y" })[0]!.message).toBe("must be an ISO 8601 duration of years, months, weeks and days from P1D to P1Y, e.g. P1D");
    expect(refused({ rpo: "P2D", rpoGrace: "PT1H" })).toEqual([{ path: "rpoGrace", message: "applies only to an RPO derived from the schedule: with 'rpo' set, leave it out" }]);
  });
});

describe("an instance's health", () => {
  const rpo = policyRpo(policy(schedule("UTC", "R/2026-01-01T02:00:00/P1D")), at); // PT25H
  const point = "2026-12-07T02:05:00Z";
  const after = (hours: number) => new Date(Date.parse(point) + hours * hour);

  test("when under 80% of the RPO has passed since the newest point, then Healthy; over it, AtRisk; over the RPO, Breached", () => {
    expect(instanceHealth(rpo, point, "2026-01-01T00:00:00Z", after(20)).state).toBe("Healthy"); // exactly 80%
    expect(instanceHealth(rpo, point, "2026-01-01T00:00:00Z", after(20.01)).state).toBe("AtRisk");
    expect(instanceHealth(rpo, point, "2026-01-01T00:00:00Z", after(25)).state).toBe("AtRisk");
    expect(instanceHealth(rpo, point, "2026-01-01T00:00:00Z", after(25.01))).toEqual({
      state: "Breached",
      rpo: "PT25H",
      newestPoint: { time: point, ageSeconds: Math.floor(25.01 * 3600) },
      since: "2026-12-07T02:05:00.000Z",
      breachAt: "2026-12-08T03:05:00.000Z",
    });
  });

  test("when the instance has no point yet, then its RPO counts from when it was protected", () => {
    const health = instanceHealth(rpo, null, "2026-12-07T00:00:00Z", new Date("2026-12-08T02:00:00Z"));
    expect(health).toMatchObject({ state: "Breached", newestPoint: null, since: "2026-12-07T00:00:00.000Z" });
  });
});
