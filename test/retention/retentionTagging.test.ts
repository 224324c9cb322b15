/**
 * Tagging of a new recovery point (SPEC section 3): the first backup of a year, month or ISO week in the policy's
 * time zone gets the highest matching tag (Yearly > Monthly > Weekly > Default), an on-demand tag overrides, and
 * `expiresAt = time + that tag's duration`.
 */
import { describe, expect, test } from "vitest";
import type { BackupPolicy, RetentionRule } from "../../shared/domain";
import { decideRetention } from "../../shared/retention/retentionTagging";

const weekly: RetentionRule = { tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" };
const monthly: RetentionRule = { tag: "Monthly", criteria: "FirstOfMonth", duration: "P12M" };
const yearly: RetentionRule = { tag: "Yearly", criteria: "FirstOfYear", duration: "P10Y" };

function policy(timeZone: string, rules: RetentionRule[] = [weekly, monthly, yearly]): BackupPolicy {
  return {
    name: "daily-10y",
    datasourceType: "database",
    schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00+00:00/P1D"], timeZone },
    retention: { default: { duration: "P30D" }, rules },
  };
}

function decide(p: BackupPolicy, time: string, earlier: string[] = [], override?: "Default" | "Weekly" | "Monthly" | "Yearly") {
  return decideRetention(p, new Date(time), earlier.map((t) => new Date(t)), override);
}

describe("the first backup of a period", () => {
  test("when it is the instance's first backup ever, then it is Yearly and expires ten years on", () => {
    expect(decide(policy("UTC"), "2026-01-04T02:30:07Z")).toEqual({ tag: "Yearly", expiresAt: "2036-01-04T02:30:07Z" });
  });

  test("when it is the first of the year but the policy has no Yearly rule, then it is Monthly", () => {
    expect(decide(policy("UTC", [weekly, monthly]), "2026-01-04T02:30:07Z")).toEqual({
      tag: "Monthly",
      expiresAt: "2027-01-04T02:30:07Z",
    });
  });

  test("when it is the first of the year and only a Weekly rule exists, then it is Weekly", () => {
    expect(decide(policy("UTC", [weekly]), "2026-01-04T02:30:07Z")).toEqual({ tag: "Weekly", expiresAt: "2026-03-29T02:30:07Z" });
  });

  test("when the policy has only the default rule, then even the very first backup is Default", () => {
    expect(decide(policy("UTC", []), "2026-01-04T02:30:07Z")).toEqual({ tag: "Default", expiresAt: "2026-02-03T02:30:07Z" });
  });

  test("when the year already has a backup but the month has none, then it is Monthly", () => {
    expect(decide(policy("UTC"), "2026-02-01T02:30:00Z", ["2026-01-31T02:30:00Z"])).toEqual({
      tag: "Monthly",
      expiresAt: "2027-02-01T02:30:00Z",
    });
  });

  test("when the month already has a backup but the ISO week has none, then it is Weekly", () => {
    // 2026-02-09 is a Monday; the earlier backup is the Sunday before.
    expect(decide(policy("UTC"), "2026-02-09T02:30:00Z", ["2026-02-01T02:30:00Z", "2026-02-08T02:30:00Z"])).toEqual({
      tag: "Weekly",
      expiresAt: "2026-05-04T02:30:00Z",
    });
  });

  test("when the ISO week already has a backup, then it is Default and expires after the default duration", () => {
    expect(decide(policy("UTC"), "2026-02-11T02:30:00Z", ["2026-02-09T02:30:00Z"])).toEqual({
      tag: "Default",
      expiresAt: "2026-03-13T02:30:00Z",
    });
  });

  test("when the month has a backup and the policy has no Weekly rule, then it is Default", () => {
    expect(decide(policy("UTC", [monthly, yearly]), "2026-02-09T02:30:00Z", ["2026-02-01T02:30:00Z"])).toEqual({
      tag: "Default",
      expiresAt: "2026-03-11T02:30:00Z",
    });
  });

  test("when the only earlier backups are later than or at the same time, then they do not count", () => {
    const time = "2026-05-01T02:30:00Z";
    expect(decide(policy("UTC"), time, [time, "2026-05-02T02:30:00Z"])).toEqual({ tag: "Yearly", expiresAt: "2036-05-01T02:30:00Z" });
  });

  test("when earlier backups come in any order, then the result is the same", () => {
    const earlier = ["2026-03-10T00:00:00Z", "2025-12-31T00:00:00Z", "2026-01-15T00:00:00Z"];
    expect(decide(policy("UTC"), "2026-03-11T00:00:00Z", earlier).tag).toBe("Default");
    expect(decide(policy("UTC"), "2026-03-11T00:00:00Z", [...earlier].reverse()).tag).toBe("Default");
    expect(decide(policy("UTC"), "2026-04-01T00:00:00Z", earlier).tag).toBe("Monthly");
  });

  test("when the backup of the previous year's last day exists, then the first of January is still Yearly", () => {
    expect(decide(policy("UTC"), "2027-01-01T00:00:00Z", ["2026-12-31T23:59:59Z"])).toEqual({
      tag: "Yearly",
      expiresAt: "2037-01-01T00:00:00Z",
    });
  });
});

describe("the policy's time zone", () => {
  const endOfYear = "2026-12-31T23:30:00Z"; // 2027-01-01 00:30 in Berlin, 18:30 on 2026-12-31 in New York
  const earlierThatDay = "2026-12-31T10:00:00Z";

  test("when a backup at 2026-12-31T23:30Z is tagged in UTC, then it shares the year of an earlier one that day", () => {
    expect(decide(policy("UTC"), endOfYear, [earlierThatDay])).toEqual({ tag: "Default", expiresAt: "2027-01-30T23:30:00Z" });
  });

  test("when the same backup is tagged in Europe/Berlin, then it is the first of 2027 there and Yearly", () => {
    expect(decide(policy("Europe/Berlin"), endOfYear, [earlierThatDay])).toEqual({
      tag: "Yearly",
      expiresAt: "2036-12-31T23:30:00Z",
    });
  });

  test("when a backup at 2027-01-01T03:00Z is tagged in America/New_York, then it is still 2026 there", () => {
    expect(decide(policy("UTC"), "2027-01-01T03:00:00Z", [earlierThatDay]).tag).toBe("Yearly");
    expect(decide(policy("America/New_York"), "2027-01-01T03:00:00Z", [earlierThatDay]).tag).toBe("Default");
  });

  test("when an earlier backup was on the last evening of the month in UTC but next morning in Tokyo, then it counts for the new month there", () => {
    // 2026-03-31T20:00Z is 2026-04-01 05:00 in Tokyo.
    expect(decide(policy("UTC"), "2026-04-02T00:00:00Z", ["2026-03-31T20:00:00Z"]).tag).toBe("Monthly");
    expect(decide(policy("Asia/Tokyo"), "2026-04-02T00:00:00Z", ["2026-03-31T20:00:00Z"]).tag).toBe("Default");
  });

  test("when a Sunday 23:30 UTC backup is Monday 00:30 in Berlin, then it starts a new ISO week there", () => {
    // 2026-03-08 is a Sunday (Berlin is on CET, UTC+1); the earlier backup is the Monday of that week.
    const earlier = ["2026-03-02T12:00:00Z"];
    expect(decide(policy("UTC"), "2026-03-08T23:30:00Z", earlier).tag).toBe("Default");
    expect(decide(policy("Europe/Berlin"), "2026-03-08T23:30:00Z", earlier)).toEqual({
      tag: "Weekly",
      expiresAt: "2026-05-31T23:30:00Z",
    });
  });
});

describe("ISO weeks", () => {
  const weeklyOnly = policy("UTC", [weekly]);

  test("when the earlier backup was on Sunday and this one is on Monday, then the week is new (Monday start)", () => {
    expect(decide(weeklyOnly, "2026-03-09T00:00:00Z", ["2026-03-08T23:59:59Z"]).tag).toBe("Weekly");
  });

  test("when the earlier backup was on Monday and this one is on the Sunday after, then it is the same week", () => {
    expect(decide(weeklyOnly, "2026-03-15T23:59:59Z", ["2026-03-09T00:00:00Z"]).tag).toBe("Default");
  });

  test("when 2026-12-28 (Monday of 2026-W53) has a backup, then 2027-01-03 (Sunday) is in the same ISO week", () => {
    expect(decide(weeklyOnly, "2027-01-03T12:00:00Z", ["2026-12-28T12:00:00Z"]).tag).toBe("Default");
  });

  test("when 2026-12-31 (2026-W53) has a backup, then 2027-01-04 starts 2027-W01 and is Weekly", () => {
    expect(decide(weeklyOnly, "2027-01-04T00:00:00Z", ["2026-12-31T12:00:00Z", "2027-01-03T23:00:00Z"])).toEqual({
      tag: "Weekly",
      expiresAt: "2027-03-29T00:00:00Z",
    });
  });

  test("when 2021-01-03 follows a backup on 2020-12-28, then both are in 2020-W53", () => {
    expect(decide(weeklyOnly, "2021-01-03T12:00:00Z", ["2020-12-28T12:00:00Z"]).tag).toBe("Default");
    expect(decide(weeklyOnly, "2021-01-04T12:00:00Z", ["2020-12-28T12:00:00Z"]).tag).toBe("Weekly");
  });

  test("when a backup from the same week number a year earlier exists, then the week is still new", () => {
    // 2025-03-10 and 2026-03-09 are both Mondays of ISO week 11.
    expect(decide(weeklyOnly, "2026-03-09T12:00:00Z", ["2025-03-10T12:00:00Z"]).tag).toBe("Weekly");
  });

  test("when the ISO week straddles New Year and already has a backup, then the first of the new year is still Yearly", () => {
    expect(decide(policy("UTC"), "2027-01-02T00:00:00Z", ["2026-12-31T12:00:00Z"])).toEqual({
      tag: "Yearly",
      expiresAt: "2037-01-02T00:00:00Z",
    });
  });

  test("when the same month number a year earlier has a backup, then the month is still new", () => {
    expect(decide(policy("UTC", [monthly]), "2026-05-20T00:00:00Z", ["2025-05-01T00:00:00Z"]).tag).toBe("Monthly");
  });
});

describe("an on-demand retention tag", () => {
  test("when Weekly is asked for on the first backup of a year, then Weekly wins over Yearly", () => {
    expect(decide(policy("UTC"), "2026-01-04T02:30:07Z", [], "Weekly")).toEqual({ tag: "Weekly", expiresAt: "2026-03-29T02:30:07Z" });
  });

  test("when Default is asked for on the first backup of a year, then it is Default", () => {
    expect(decide(policy("UTC"), "2026-01-04T02:30:07Z", [], "Default")).toEqual({ tag: "Default", expiresAt: "2026-02-03T02:30:07Z" });
  });

  test("when Yearly is asked for in a week that already has backups, then it is Yearly", () => {
    expect(decide(policy("UTC"), "2026-06-17T09:00:00Z", ["2026-06-15T09:00:00Z"], "Yearly")).toEqual({
      tag: "Yearly",
      expiresAt: "2036-06-17T09:00:00Z",
    });
  });

  test("when the asked-for tag has no rule in the policy, then the backup is Default under the default duration", () => {
    expect(decide(policy("UTC", [weekly]), "2026-01-04T02:30:07Z", [], "Yearly")).toEqual({
      tag: "Default",
      expiresAt: "2026-02-03T02:30:07Z",
    });
  });
});

describe("expiresAt", () => {
  test("when a Monthly backup is taken on January 31 with a P1M rule, then it expires on the last day of February", () => {
    const p = policy("UTC", [{ ...monthly, duration: "P1M" }]);
    expect(decide(p, "2026-01-31T02:30:00Z", ["2025-12-31T02:30:00Z"])).toEqual({ tag: "Monthly", expiresAt: "2026-02-28T02:30:00Z" });
  });

  test("when a Yearly backup is taken on February 29, then it expires on February 28 ten years on", () => {
    expect(decide(policy("UTC"), "2028-02-29T02:30:00Z", [], "Yearly")).toEqual({ tag: "Yearly", expiresAt: "2038-02-28T02:30:00Z" });
  });

  test("when a Default backup is taken on January 31, then it expires 30 days later (March 2)", () => {
    expect(decide(policy("UTC"), "2026-01-31T02:30:00Z", ["2026-01-30T02:30:00Z"])).toEqual({
      tag: "Default",
      expiresAt: "2026-03-02T02:30:00Z",
    });
  });

  test("when the backup time has milliseconds, then expiresAt is whole seconds without them", () => {
    expect(decide(policy("UTC"), "2026-01-04T02:30:07.999Z").expiresAt).toBe("2036-01-04T02:30:07Z");
  });
});
