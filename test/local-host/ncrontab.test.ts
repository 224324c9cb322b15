/**
 * Timer schedules for the local host: six-field NCRONTAB in UTC, with day-of-month AND day-of-week (as NCrontab,
 * which the Functions host uses), and `%SETTING%` references.
 */
import { describe, expect, test } from "vitest";
import { nextOccurrence, parseNcrontab, resolveSettingReferences, type NcrontabSchedule } from "../../local-host/ncrontab";

/** The next occurrence as a compact ISO string (`...T10:05:00Z`), for exact comparisons. */
function next(expression: string, after: string): string {
  return nextOccurrence(parseNcrontab(expression), new Date(after)).toISOString().replace(".000Z", "Z");
}

/** Chains nextOccurrence from `after` and returns the first `count` occurrences. */
function occurrences(expression: string, after: string, count: number): string[] {
  const schedule = parseNcrontab(expression);
  const result: string[] = [];
  let cursor = new Date(after);
  while (result.length < count) {
    cursor = nextOccurrence(schedule, cursor);
    result.push(cursor.toISOString().replace(".000Z", "Z"));
  }
  return result;
}

/** Independent reference: does `date` match the schedule's field sets? (second-by-second use only in tests) */
function matches(schedule: NcrontabSchedule, date: Date): boolean {
  return (
    schedule.seconds.includes(date.getUTCSeconds()) &&
    schedule.minutes.includes(date.getUTCMinutes()) &&
    schedule.hours.includes(date.getUTCHours()) &&
    schedule.days.includes(date.getUTCDate()) &&
    schedule.months.includes(date.getUTCMonth() + 1) &&
    schedule.daysOfWeek.includes(date.getUTCDay())
  );
}

describe("nextOccurrence", () => {
  test.each([
    ["2026-03-10T10:00:00Z", "2026-03-10T10:05:00Z"], // strictly after: an instant on the schedule is skipped
    ["2026-03-10T10:02:30Z", "2026-03-10T10:05:00Z"],
    ["2026-03-10T10:04:59.999Z", "2026-03-10T10:05:00Z"],
    ["2026-03-10T10:05:00.001Z", "2026-03-10T10:10:00Z"], // sub-second past a slot still counts as past it
    ["2026-03-10T10:55:00Z", "2026-03-10T11:00:00Z"],
    ["2026-03-10T23:57:00Z", "2026-03-11T00:00:00Z"],
    ["2026-02-28T23:59:59Z", "2026-03-01T00:00:00Z"],
  ])("0 */5 * * * * after %s is %s", (after, expected) => {
    expect(next("0 */5 * * * *", after)).toBe(expected);
  });

  test.each([
    ["2026-11-20T09:29:59Z", "2026-11-20T09:30:00Z"], // Friday, before the slot
    ["2026-11-20T09:30:00Z", "2026-11-23T09:30:00Z"], // Friday's slot itself -> Monday
    ["2026-11-21T12:00:00Z", "2026-11-23T09:30:00Z"], // Saturday
    ["2026-11-22T23:59:59Z", "2026-11-23T09:30:00Z"], // Sunday
    ["2026-11-23T10:00:00Z", "2026-11-24T09:30:00Z"], // Monday, after the slot
  ])("0 30 9 * * 1-5 (weekdays) after %s is %s", (after, expected) => {
    expect(next("0 30 9 * * 1-5", after)).toBe(expected);
  });

  test("*/10 * * * * * fires every ten seconds", () => {
    expect(next("*/10 * * * * *", "2026-03-10T10:00:00Z")).toBe("2026-03-10T10:00:10Z");
    expect(next("*/10 * * * * *", "2026-03-10T10:00:09.500Z")).toBe("2026-03-10T10:00:10Z");
    expect(next("*/10 * * * * *", "2026-03-10T10:59:55Z")).toBe("2026-03-10T11:00:00Z");
    expect(occurrences("*/10 * * * * *", "2026-03-10T10:00:35Z", 4)).toEqual([
      "2026-03-10T10:00:40Z",
      "2026-03-10T10:00:50Z",
      "2026-03-10T10:01:00Z",
      "2026-03-10T10:01:10Z",
    ]);
  });

  test("Feb 29 schedules skip to the next leap year, and 2100 is not one", () => {
    expect(next("0 0 0 29 2 *", "2026-01-01T00:00:00Z")).toBe("2028-02-29T00:00:00Z");
    expect(next("0 0 0 29 2 *", "2028-02-29T00:00:00Z")).toBe("2032-02-29T00:00:00Z");
    expect(next("0 0 0 29 2 *", "2096-03-01T00:00:00Z")).toBe("2104-02-29T00:00:00Z");
    expect(next("0 0 0 29 Feb *", "2026-01-01T00:00:00Z")).toBe("2028-02-29T00:00:00Z");
  });

  test("a day that some months lack is skipped in those months", () => {
    expect(occurrences("0 0 0 31 * *", "2026-01-31T00:00:00Z", 3)).toEqual([
      "2026-03-31T00:00:00Z",
      "2026-05-31T00:00:00Z",
      "2026-07-31T00:00:00Z",
    ]);
  });

  test("year rollover", () => {
    expect(next("0 0 0 1 1 *", "2026-12-31T23:59:59Z")).toBe("2027-01-01T00:00:00Z");
    expect(next("0 0 0 1 1 *", "2026-01-01T00:00:00Z")).toBe("2027-01-01T00:00:00Z");
    expect(next("59 59 23 31 12 *", "2026-12-31T23:59:59Z")).toBe("2027-12-31T23:59:59Z");
    expect(next("* * * * * *", "2026-12-31T23:59:59Z")).toBe("2027-01-01T00:00:00Z");
    expect(next("0 0 12 * Jan,Jul *", "2026-07-31T12:00:00Z")).toBe("2027-01-01T12:00:00Z");
  });

  test("day-of-month and day-of-week combine with AND, as in NCrontab", () => {
    // First Monday of the month (Vixie cron's OR would give Monday 2026-11-23 or the 1st of December).
    expect(next("0 0 8 1-7 * Mon", "2026-11-22T00:00:00Z")).toBe("2026-12-07T08:00:00Z");
    // Friday the 13th (OR would give Friday 2026-11-27).
    expect(next("0 0 0 13 * Fri", "2026-11-22T00:00:00Z")).toBe("2027-08-13T00:00:00Z");
    // A Feb 29 that is a Monday: 2044. Found by skipping months and years, not by walking every day.
    expect(next("0 0 0 29 2 Mon", "2026-01-01T00:00:00Z")).toBe("2044-02-29T00:00:00Z");
  });

  test("agrees with a second-by-second reference over four days across a month end", () => {
    const expressions = ["*/10 */7 1-3 * * *", "15,45 0 */6 * * Sun,Mon,Wed", "0 */5 * * * *", "*/20 30 12 30,1 * *"];
    const start = Date.parse("2026-11-28T00:00:00Z"); // Saturday
    const end = start + 4 * 86_400_000;
    for (const expression of expressions) {
      const schedule = parseNcrontab(expression);
      const expected: number[] = [];
      for (let t = start + 1000; t <= end; t += 1000) {
        if (matches(schedule, new Date(t))) expected.push(t);
      }
      const actual: number[] = [];
      let cursor = new Date(start);
      while ((cursor = nextOccurrence(schedule, cursor)).getTime() <= end) actual.push(cursor.getTime());
      expect(actual, expression).toEqual(expected);
      expect(actual.length, expression).toBeGreaterThan(0);
    }
  });

  test("returns whole seconds in UTC", () => {
    const result = nextOccurrence(parseNcrontab("* * * * * *"), new Date("2026-03-10T10:00:00.250Z"));
    expect(result.getTime() % 1000).toBe(0);
    expect(result.toISOString()).toBe("2026-03-10T10:00:01.000Z");
  });

  test("rejects an invalid date", () => {
    expect(() => nextOccurrence(parseNcrontab("* * * * * *"), new Date("nope"))).toThrow(/not a valid date/);
  });
});

describe("parseNcrontab", () => {
  test("expands values, ranges, lists and steps", () => {
    const schedule = parseNcrontab("5/20 */15 9-17/4 1,15 Jan-Mar Sun,7");
    expect(schedule.seconds).toEqual([5, 25, 45]);
    expect(schedule.minutes).toEqual([0, 15, 30, 45]);
    expect(schedule.hours).toEqual([9, 13, 17]);
    expect(schedule.days).toEqual([1, 15]);
    expect(schedule.months).toEqual([1, 2, 3]);
    expect(schedule.daysOfWeek).toEqual([0]);
    expect(schedule.expression).toBe("5/20 */15 9-17/4 1,15 Jan-Mar Sun,7");
  });

  test("month and day names are case-insensitive, abbreviated or full", () => {
    const numeric = parseNcrontab("0 0 0 * 1,7,12 1-5");
    for (const expression of ["0 0 0 * jan,JUL,Dec mon-fri", "0 0 0 * January,july,DECEMBER Monday-FRIDAY"]) {
      const named = parseNcrontab(expression);
      expect(named.months).toEqual(numeric.months);
      expect(named.daysOfWeek).toEqual(numeric.daysOfWeek);
    }
  });

  test("0 and 7 are both Sunday, also inside ranges", () => {
    expect(parseNcrontab("0 0 0 * * 0").daysOfWeek).toEqual([0]);
    expect(parseNcrontab("0 0 0 * * 7").daysOfWeek).toEqual([0]);
    expect(parseNcrontab("0 0 0 * * 5-7").daysOfWeek).toEqual([0, 5, 6]);
    expect(parseNcrontab("0 0 0 * * *").daysOfWeek).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(next("0 0 0 * * 7", "2026-11-20T00:00:00Z")).toBe("2026-11-22T00:00:00Z");
  });

  test("tolerates extra whitespace between and around fields", () => {
    expect(parseNcrontab("  0\t*/5  *  * * *  ").minutes).toEqual(parseNcrontab("0 */5 * * * *").minutes);
  });

  test.each([
    ["0 */5 * * *", /expected 6 fields.*got 5/],
    ["0 0 */5 * * * *", /expected 6 fields.*got 7/],
    ["", /expected 6 fields.*got 0/],
    ["61 * * * * *", /second field "61": value 61 is out of range 0-59/],
    ["a b c d e f", /second field "a": "a" is not a number/],
    ["0 60 * * * *", /minute field "60"/],
    ["0 0 24 * * *", /hour field "24"/],
    ["0 0 0 0 * *", /day field "0": value 0 is out of range 1-31/],
    ["0 0 0 * 13 *", /month field "13"/],
    ["0 0 0 * Foo *", /month field "Foo": "Foo" is not a number or name/],
    ["0 0 0 * * 8", /day-of-week field "8": value 8 is out of range 0-7/],
    ["0 0 0 * * Funday", /day-of-week field "Funday"/],
    ["*/0 * * * * *", /second field "\*\/0": step 0 must be at least 1/],
    ["*/x * * * * *", /second field "\*\/x": step "x" is not a number/],
    ["0 0 17-9 * * *", /hour field "17-9": range 17-9 runs backwards/],
    ["0 1,,2 * * * *", /minute field "1,,2"/],
    ["0 1-2-3 * * * *", /minute field "1-2-3"/],
    ["0 0 0 30 2 *", /day 30 never occurs in month 2/],
    ["0 0 0 31 4,6,9,11 *", /day 31 never occurs/],
  ])("rejects %j", (expression, message) => {
    expect(() => parseNcrontab(expression)).toThrow(message);
    expect(() => parseNcrontab(expression)).toThrow(`Invalid NCRONTAB expression "${expression}"`);
  });
});

describe("resolveSettingReferences", () => {
  test("replaces %NAME% with the app setting", () => {
    const settings = { SCHEDULER_SCHEDULE: "0 */5 * * * *", A: "x", EMPTY: "" };
    expect(resolveSettingReferences("%SCHEDULER_SCHEDULE%", settings)).toBe("0 */5 * * * *");
    expect(resolveSettingReferences("%A%-%A%/%EMPTY%", settings)).toBe("x-x/");
    expect(resolveSettingReferences("0 */5 * * * *", settings)).toBe("0 */5 * * * *");
  });

  test("a referenced schedule parses like a literal one", () => {
    const expression = resolveSettingReferences("%SCHEDULER_SCHEDULE%", { SCHEDULER_SCHEDULE: "0 */5 * * * *" });
    expect(nextOccurrence(parseNcrontab(expression), new Date("2026-03-10T10:01:00Z")).toISOString()).toBe(
      "2026-03-10T10:05:00.000Z",
    );
  });

  test("a missing setting is an error naming it", () => {
    expect(() => resolveSettingReferences("%SCHEDULER_SCHEDULE%", {})).toThrow(/App setting "SCHEDULER_SCHEDULE"/);
    expect(() => resolveSettingReferences("%X%", { X: undefined })).toThrow(/"X".*is not set/);
  });
});
