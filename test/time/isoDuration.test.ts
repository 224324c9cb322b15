/**
 * Retention durations (SPEC section 3): calendar-only ISO 8601 durations, added on the UTC calendar with month
 * ends clamped, and a mean-day length used only for the P1D..P10Y bounds.
 */
import { describe, expect, test } from "vitest";
import {
  addDuration,
  approximateDays,
  maxRetentionDays,
  minRetentionDays,
  parseDuration,
  type CalendarDuration,
} from "../../shared/time/isoDuration";

/** `time + duration` as an ISO string, for exact comparisons. */
function plus(time: string, duration: string): string {
  const parsed = parseDuration(duration);
  if (!parsed) throw new Error(`test bug: ${duration} does not parse`);
  return addDuration(new Date(time), parsed).toISOString();
}

describe("parseDuration", () => {
  test.each<[string, CalendarDuration]>([
    ["P30D", { years: 0, months: 0, weeks: 0, days: 30 }],
    ["P12W", { years: 0, months: 0, weeks: 12, days: 0 }],
    ["P12M", { years: 0, months: 12, weeks: 0, days: 0 }],
    ["P10Y", { years: 10, months: 0, weeks: 0, days: 0 }],
    ["P1Y6M", { years: 1, months: 6, weeks: 0, days: 0 }],
    ["P1Y2M3W4D", { years: 1, months: 2, weeks: 3, days: 4 }],
    ["P0D", { years: 0, months: 0, weeks: 0, days: 0 }],
    ["P007D", { years: 0, months: 0, weeks: 0, days: 7 }],
  ])("when the text is %s, then each part is read", (text, expected) => {
    expect(parseDuration(text)).toEqual(expected);
  });

  test.each(["", "P", "PT1H", "P1DT1H", "P1.5D", "P-1D", "1D", "p1d", "P1D2Y", "P1M1Y", " P1D", "P1D ", "P1H", "R/P1D"])(
    "when the text is %j, then it is not a duration",
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe("addDuration", () => {
  test("when a month is added to January 31 of a common year, then the result clamps to February 28", () => {
    expect(plus("2026-01-31T02:30:07Z", "P1M")).toBe("2026-02-28T02:30:07.000Z");
  });

  test("when a month is added to January 31 of a leap year, then the result clamps to February 29", () => {
    expect(plus("2028-01-31T02:30:07Z", "P1M")).toBe("2028-02-29T02:30:07.000Z");
  });

  test.each([
    ["2026-03-31T00:00:00Z", "P1M", "2026-04-30T00:00:00.000Z"],
    ["2026-05-31T12:00:00Z", "P1M", "2026-06-30T12:00:00.000Z"],
    ["2026-12-31T23:59:59Z", "P2M", "2027-02-28T23:59:59.000Z"],
    ["2026-08-31T08:00:00Z", "P6M", "2027-02-28T08:00:00.000Z"],
    ["2026-01-30T00:00:00Z", "P1M", "2026-02-28T00:00:00.000Z"],
    ["2026-02-28T00:00:00Z", "P1M", "2026-03-28T00:00:00.000Z"],
  ])("when %s + %s crosses into a shorter month, then the day clamps to that month's end (%s)", (time, duration, expected) => {
    expect(plus(time, duration)).toBe(expected);
  });

  test("when a year is added to February 29, then the result is February 28 of the next year", () => {
    expect(plus("2028-02-29T02:30:00Z", "P1Y")).toBe("2029-02-28T02:30:00.000Z");
  });

  test("when four years are added to February 29, then the result is February 29 again", () => {
    expect(plus("2028-02-29T02:30:00Z", "P4Y")).toBe("2032-02-29T02:30:00.000Z");
  });

  test.each([
    ["2026-01-04T02:30:07Z", "2036-01-04T02:30:07.000Z"],
    ["2026-12-31T23:59:59Z", "2036-12-31T23:59:59.000Z"],
    ["2028-02-29T00:00:00Z", "2038-02-28T00:00:00.000Z"],
    ["2027-03-01T00:00:00Z", "2037-03-01T00:00:00.000Z"],
    ["2099-06-15T12:00:00Z", "2109-06-15T12:00:00.000Z"],
    ["2026-01-31T00:00:00Z", "2036-01-31T00:00:00.000Z"],
  ])("when P10Y is added to %s, then the result is the same calendar day ten years on (%s)", (time, expected) => {
    expect(plus(time, "P10Y")).toBe(expected);
    expect(plus(time, "P120M")).toBe(expected);
  });

  test("when months overflow a year (P13M from mid-December), then the year carries", () => {
    expect(plus("2026-12-15T00:00:00Z", "P13M")).toBe("2028-01-15T00:00:00.000Z");
  });

  test("when P12M and P1Y are added to the same time, then they agree", () => {
    expect(plus("2026-07-31T10:00:00Z", "P12M")).toBe(plus("2026-07-31T10:00:00Z", "P1Y"));
  });

  test.each([
    ["2026-02-25T00:00:00Z", "P1W3D", "2026-03-07T00:00:00.000Z"],
    ["2028-02-25T00:00:00Z", "P1W3D", "2028-03-06T00:00:00.000Z"],
    ["2026-12-28T06:00:00Z", "P2W", "2027-01-11T06:00:00.000Z"],
    ["2026-01-04T02:30:07Z", "P12W", "2026-03-29T02:30:07.000Z"],
    ["2026-12-31T00:00:00Z", "P1D", "2027-01-01T00:00:00.000Z"],
    ["2026-01-01T00:00:00Z", "P52W", "2026-12-31T00:00:00.000Z"],
    ["2026-01-01T00:00:00Z", "P365D", "2027-01-01T00:00:00.000Z"],
    ["2028-01-01T00:00:00Z", "P365D", "2028-12-31T00:00:00.000Z"],
  ])("when %s + %s (weeks and days), then days are counted exactly (%s)", (time, duration, expected) => {
    expect(plus(time, duration)).toBe(expected);
  });

  test("when months and days are combined, then months are added first (Jan 31 + P1M1D = Mar 1)", () => {
    expect(plus("2026-01-31T00:00:00Z", "P1M1D")).toBe("2026-03-01T00:00:00.000Z");
  });

  test("when a duration is added, then the time of day and milliseconds are kept", () => {
    expect(plus("2026-06-30T23:59:59.987Z", "P1Y1M1W1D")).toBe("2027-08-07T23:59:59.987Z");
  });

  test("when a duration is added, then the input Date is left unchanged", () => {
    const time = new Date("2026-01-31T00:00:00Z");
    addDuration(time, { years: 1, months: 1, weeks: 1, days: 1 });
    expect(time.toISOString()).toBe("2026-01-31T00:00:00.000Z");
  });

  test("when the zero duration is added, then the time is the same", () => {
    expect(plus("2026-01-31T02:30:07Z", "P0D")).toBe("2026-01-31T02:30:07.000Z");
  });
});

describe("approximateDays", () => {
  test.each<[string, number]>([
    ["P1D", 1],
    ["P1W", 7],
    ["P52W", 364],
    ["P1M", 30.436875],
    ["P1Y", 365.2425],
    ["P1Y1M1W1D", 365.2425 + 30.436875 + 8],
  ])("when the duration is %s, then its length is %d mean days", (text, days) => {
    expect(approximateDays(parseDuration(text)!)).toBeCloseTo(days, 9);
  });

  test("when the duration is P10Y or P120M, then its length is exactly the retention maximum", () => {
    expect(approximateDays(parseDuration("P10Y")!)).toBe(maxRetentionDays);
    expect(approximateDays(parseDuration("P120M")!)).toBe(maxRetentionDays);
    expect(maxRetentionDays).toBe(3652.425);
  });

  test("when the duration is P10Y1D, P121M or P11Y, then it is longer than the maximum", () => {
    for (const text of ["P10Y1D", "P121M", "P11Y"]) expect(approximateDays(parseDuration(text)!)).toBeGreaterThan(maxRetentionDays);
  });

  test("when the duration is P1D, then it is exactly the minimum; P0D is below it", () => {
    expect(approximateDays(parseDuration("P1D")!)).toBe(minRetentionDays);
    expect(approximateDays(parseDuration("P0D")!)).toBeLessThan(minRetentionDays);
  });
});
