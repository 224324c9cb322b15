import { describe, expect, test } from "vitest";
import { parseRepeatingInterval, type WallClock } from "../../shared/time/repeatingInterval";
import { countSlots, latestDueSlot, nextSlot, zonedWallClockToUtc, type Schedule } from "../../shared/time/schedule";
import { SeededRandom } from "../support/seededRandom";

const utc = (iso: string) => new Date(iso);
const iso = (date: Date | undefined) => date?.toISOString().replace(".000Z", "Z");
const schedule = (timeZone: string, ...repeatingIntervals: string[]): Schedule => ({ repeatingIntervals, timeZone });

/** Independent of the module: what a clock in `timeZone` reads at `date`, as `YYYY-MM-DD HH:mm` plus weekday. */
function local(date: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    weekday: "short",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).formatToParts(date);
  const get = (type: string) => parts.find((part) => part.type === type)?.value ?? "?";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")} ${get("weekday")}`;
}

/** Every slot in [from, to), found by chaining nextSlot from just before `from`. */
function slotsBetween(s: Schedule, from: string, to: string): Date[] {
  const slots: Date[] = [];
  const end = utc(to).getTime();
  let cursor: Date | undefined = new Date(utc(from).getTime() - 1);
  while ((cursor = nextSlot(s, cursor)) && cursor.getTime() < end) slots.push(cursor);
  return slots;
}

/** Index of the first element of sorted `values` that is > `probe` (values.length if none). */
function firstAfter(values: readonly number[], probe: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= probe) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function wall(text: string): WallClock {
  const [date = "", time = ""] = text.split(" ");
  const [year = 0, month = 0, day = 0] = date.split("-").map(Number);
  const [hour = 0, minute = 0, second = 0] = time.split(":").map(Number);
  return { year, month, day, hour, minute, second };
}

describe("zonedWallClockToUtc", () => {
  test.each([
    ["UTC", "2026-06-01 12:00", "2026-06-01T12:00:00Z"],
    ["Europe/Berlin", "2026-01-15 02:30", "2026-01-15T01:30:00Z"],
    ["Europe/Berlin", "2026-07-15 02:30", "2026-07-15T00:30:00Z"],
    // Spring gap (02:00-03:00 does not exist): first instant after the gap, 03:00 CEST.
    ["Europe/Berlin", "2026-03-29 02:00", "2026-03-29T01:00:00Z"],
    ["Europe/Berlin", "2026-03-29 02:30", "2026-03-29T01:00:00Z"],
    ["Europe/Berlin", "2026-03-29 02:59:59", "2026-03-29T01:00:00Z"],
    ["Europe/Berlin", "2026-03-29 03:00", "2026-03-29T01:00:00Z"],
    ["Europe/Berlin", "2026-03-29 01:59", "2026-03-29T00:59:00Z"],
    // Autumn overlap (02:00-03:00 twice): first occurrence, still CEST.
    ["Europe/Berlin", "2026-10-25 02:00", "2026-10-25T00:00:00Z"],
    ["Europe/Berlin", "2026-10-25 02:30", "2026-10-25T00:30:00Z"],
    ["Europe/Berlin", "2026-10-25 03:00", "2026-10-25T02:00:00Z"],
    ["America/New_York", "2026-03-08 02:30", "2026-03-08T07:00:00Z"],
    ["America/New_York", "2026-11-01 01:30", "2026-11-01T05:30:00Z"],
    ["Asia/Kolkata", "2026-03-29 02:30", "2026-03-28T21:00:00Z"],
    // Lord Howe shifts by 30 minutes: 02:00-02:30 missing on 2026-10-04, 01:30-02:00 twice on 2026-04-05.
    ["Australia/Lord_Howe", "2026-10-04 02:15", "2026-10-03T15:30:00Z"],
    ["Australia/Lord_Howe", "2026-04-05 01:45", "2026-04-04T14:45:00Z"],
    ["Australia/Lord_Howe", "2026-04-05 02:00", "2026-04-04T15:30:00Z"],
    // Samoa skipped 2011-12-30 entirely (-10 to +14): a whole-day gap resolves to the next midnight.
    ["Pacific/Apia", "2011-12-30 12:00", "2011-12-30T10:00:00Z"],
  ])("%s %s -> %s", (zone, wallText, expected) => {
    expect(iso(zonedWallClockToUtc(wall(wallText), zone))).toBe(expected);
  });

  test("every minute of both DST days reads back as itself, or lands on the gap's end", () => {
    const zone = "Europe/Berlin";
    for (const day of ["2026-03-29", "2026-10-25"]) {
      for (let minute = 0; minute < 24 * 60; minute += 1) {
        const w = wall(`${day} ${Math.floor(minute / 60)}:${minute % 60}`);
        const instant = zonedWallClockToUtc(w, zone);
        const text = `${day} ${String(w.hour).padStart(2, "0")}:${String(w.minute).padStart(2, "0")}`;
        const inGap = day === "2026-03-29" && w.hour === 2;
        expect(local(instant, zone).slice(0, 16)).toBe(inGap ? "2026-03-29 03:00" : text);
        // Overlap: an hour earlier must not read 02:xx too, or this was the second occurrence.
        if (day === "2026-10-25" && w.hour === 2) expect(local(new Date(instant.getTime() - 3_600_000), zone)).not.toContain(" 02:");
      }
    }
  });
});

describe("UTC schedules", () => {
  const daily = schedule("UTC", "R/2026-01-01T02:30:00Z/P1D");

  test("daily", () => {
    expect(iso(latestDueSlot(daily, utc("2026-05-10T12:00:00Z")))).toBe("2026-05-10T02:30:00Z");
    expect(iso(latestDueSlot(daily, utc("2026-05-10T02:29:59.999Z")))).toBe("2026-05-09T02:30:00Z");
    expect(iso(latestDueSlot(daily, utc("2026-05-10T02:30:00Z")))).toBe("2026-05-10T02:30:00Z");
    expect(iso(nextSlot(daily, utc("2026-05-10T02:30:00Z")))).toBe("2026-05-11T02:30:00Z");
    expect(iso(nextSlot(daily, utc("2026-05-10T02:29:59.999Z")))).toBe("2026-05-10T02:30:00Z");
  });

  test("weekly keeps the start's weekday", () => {
    const weekly = schedule("UTC", "R/2026-01-05T01:00:00Z/P1W"); // a Monday
    expect(slotsBetween(weekly, "2026-03-01T00:00:00Z", "2026-03-31T00:00:00Z").map(iso)).toEqual([
      "2026-03-02T01:00:00Z",
      "2026-03-09T01:00:00Z",
      "2026-03-16T01:00:00Z",
      "2026-03-23T01:00:00Z",
      "2026-03-30T01:00:00Z",
    ]);
    expect(iso(latestDueSlot(weekly, utc("2026-03-08T23:59:59Z")))).toBe("2026-03-02T01:00:00Z");
  });

  test("hourly is anchored on the start's time of day", () => {
    const sixHourly = schedule("UTC", "R/2026-01-01T03:15:00Z/PT6H");
    expect(slotsBetween(sixHourly, "2026-02-10T00:00:00Z", "2026-02-11T00:00:00Z").map(iso)).toEqual([
      "2026-02-10T03:15:00Z",
      "2026-02-10T09:15:00Z",
      "2026-02-10T15:15:00Z",
      "2026-02-10T21:15:00Z",
    ]);
    expect(iso(latestDueSlot(sixHourly, utc("2026-02-10T03:14:00Z")))).toBe("2026-02-09T21:15:00Z");
  });

  test("before the start: nothing due yet, the next slot is the start", () => {
    const s = schedule("UTC", "R/2026-06-01T02:30:00Z/PT1H");
    expect(latestDueSlot(s, utc("2026-06-01T02:29:59Z"))).toBeUndefined();
    expect(latestDueSlot(s, utc("2020-01-01T00:00:00Z"))).toBeUndefined();
    expect(iso(nextSlot(s, utc("2020-01-01T00:00:00Z")))).toBe("2026-06-01T02:30:00Z");
    expect(iso(nextSlot(s, utc("2026-06-01T02:29:59Z")))).toBe("2026-06-01T02:30:00Z");
    expect(iso(latestDueSlot(s, utc("2026-06-01T02:30:00Z")))).toBe("2026-06-01T02:30:00Z");
  });
});

describe("time zones and DST", () => {
  test("the start's written UTC offset is ignored: wall-clock fields in the policy zone", () => {
    const s = schedule("Europe/Berlin", "R/2026-01-01T02:30:00+05:00/P1D");
    expect(iso(latestDueSlot(s, utc("2026-01-10T12:00:00Z")))).toBe("2026-01-10T01:30:00Z");
    const berlinStart = schedule("Europe/Berlin", "R/2026-03-01T02:30:00+01:00/P1D");
    expect(latestDueSlot(berlinStart, utc("2026-03-01T01:29:59Z"))).toBeUndefined();
  });

  test("Europe/Berlin daily 02:30 across the spring gap runs at 03:00 local", () => {
    const s = schedule("Europe/Berlin", "R/2026-01-01T02:30:00/P1D");
    const slots = slotsBetween(s, "2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z");
    expect(slots.map(iso)).toEqual([
      "2026-03-27T01:30:00Z",
      "2026-03-28T01:30:00Z",
      "2026-03-29T01:00:00Z", // 03:00 CEST, the first instant after the gap
      "2026-03-30T00:30:00Z",
    ]);
    expect(slots.map((slot) => local(slot, "Europe/Berlin").slice(11, 16))).toEqual(["02:30", "02:30", "03:00", "02:30"]);
    expect(iso(latestDueSlot(s, utc("2026-03-29T00:59:59Z")))).toBe("2026-03-28T01:30:00Z");
    expect(iso(latestDueSlot(s, utc("2026-03-29T01:00:00Z")))).toBe("2026-03-29T01:00:00Z");
  });

  test("Europe/Berlin daily 02:30 across the autumn overlap runs once, at the first 02:30", () => {
    const s = schedule("Europe/Berlin", "R/2026-01-01T02:30:00/P1D");
    expect(slotsBetween(s, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z").map(iso)).toEqual([
      "2026-10-24T00:30:00Z",
      "2026-10-25T00:30:00Z",
      "2026-10-26T01:30:00Z",
    ]);
    // At the second 02:30 (CET) the slot already ran at the first one; nothing new is due.
    expect(iso(latestDueSlot(s, utc("2026-10-25T01:30:00Z")))).toBe("2026-10-25T00:30:00Z");
    expect(iso(nextSlot(s, utc("2026-10-25T00:30:00Z")))).toBe("2026-10-26T01:30:00Z");
  });

  test("America/New_York daily across both 2026 transitions", () => {
    const spring = schedule("America/New_York", "R/2026-01-01T02:30:00-05:00/P1D");
    expect(slotsBetween(spring, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z").map(iso)).toEqual([
      "2026-03-07T07:30:00Z",
      "2026-03-08T07:00:00Z", // 02:30 does not exist: 03:00 EDT
      "2026-03-09T06:30:00Z",
    ]);
    const autumn = schedule("America/New_York", "R/2026-01-01T01:30:00/P1D");
    expect(slotsBetween(autumn, "2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z").map(iso)).toEqual([
      "2026-10-31T05:30:00Z",
      "2026-11-01T05:30:00Z", // first 01:30 (EDT); the second, 06:30Z, does not run
      "2026-11-02T06:30:00Z",
    ]);
  });

  test("PT4H in Europe/Berlin across both DST days: no duplicates, no skips beyond the gap rule", () => {
    const zone = "Europe/Berlin";
    const s = schedule(zone, "R/2026-01-01T02:00:00/PT4H");
    const spring = slotsBetween(s, "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z");
    expect(spring.map((slot) => local(slot, zone).slice(0, 16))).toEqual([
      ...["02:00", "06:00", "10:00", "14:00", "18:00", "22:00"].map((t) => `2026-03-28 ${t}`),
      ...["03:00", "06:00", "10:00", "14:00", "18:00", "22:00"].map((t) => `2026-03-29 ${t}`), // 02:00 -> 03:00
      ...["02:00", "06:00", "10:00", "14:00", "18:00", "22:00"].map((t) => `2026-03-30 ${t}`),
    ]);
    const autumn = slotsBetween(s, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z");
    expect(autumn.map((slot) => local(slot, zone).slice(0, 16))).toEqual(
      ["2026-10-24", "2026-10-25", "2026-10-26"].flatMap((day) =>
        ["02:00", "06:00", "10:00", "14:00", "18:00", "22:00"].map((t) => `${day} ${t}`),
      ),
    );
    // 02:00 on the overlap day is the first (CEST) one; 06:00 CET is then 5 real hours later.
    expect(autumn.map(iso)).toContain("2026-10-25T00:00:00Z");
    expect(autumn.map(iso)).toContain("2026-10-25T05:00:00Z");
  });

  test("PT1H in Europe/Berlin: 23 slots on the spring day, 24 (each wall hour once) on the autumn day", () => {
    const zone = "Europe/Berlin";
    const s = schedule(zone, "R/2026-01-01T00:00:00/PT1H");
    const spring = slotsBetween(s, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z");
    expect(spring).toHaveLength(23); // 02:00 maps to 03:00, which is also its own slot: one instant, one run
    const autumn = slotsBetween(s, "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z");
    expect(autumn).toHaveLength(24);
    expect(new Set(autumn.map((slot) => local(slot, zone))).size).toBe(24);
    expect(autumn.map(iso)).not.toContain("2026-10-25T01:00:00Z"); // the second 02:00
  });

  test("Asia/Kolkata (+05:30)", () => {
    const daily = schedule("Asia/Kolkata", "R/2026-01-01T02:30:00/P1D");
    expect(iso(latestDueSlot(daily, utc("2026-05-10T12:00:00Z")))).toBe("2026-05-09T21:00:00Z");
    const hourly = schedule("Asia/Kolkata", "R/2026-01-01T00:00:00/PT3H");
    expect(slotsBetween(hourly, "2026-05-10T00:00:00Z", "2026-05-10T12:00:00Z").map(iso)).toEqual([
      "2026-05-10T00:30:00Z",
      "2026-05-10T03:30:00Z",
      "2026-05-10T06:30:00Z",
      "2026-05-10T09:30:00Z",
    ]);
  });

  test("Australia/Lord_Howe (30-minute DST)", () => {
    const gap = schedule("Australia/Lord_Howe", "R/2026-01-01T02:15:00/P1D");
    expect(slotsBetween(gap, "2026-10-02T00:00:00Z", "2026-10-05T00:00:00Z").map(iso)).toEqual([
      "2026-10-02T15:45:00Z", // 02:15 +10:30
      "2026-10-03T15:30:00Z", // gap 02:00-02:30: runs at 02:30 +11
      "2026-10-04T15:15:00Z", // 02:15 +11
    ]);
    const overlap = schedule("Australia/Lord_Howe", "R/2026-01-01T01:45:00/P1D");
    expect(slotsBetween(overlap, "2026-04-03T00:00:00Z", "2026-04-06T00:00:00Z").map(iso)).toEqual([
      "2026-04-03T14:45:00Z",
      "2026-04-04T14:45:00Z", // first 01:45 (+11); the second, 15:15Z, does not run
      "2026-04-05T15:15:00Z",
    ]);
  });
});

describe("several intervals", () => {
  test("Monday and Thursday weekly: the union, in order", () => {
    const s = schedule("Europe/Berlin", "R/2026-01-05T01:00:00/P1W", "R/2026-01-08T23:00:00/P1W");
    const slots = slotsBetween(s, "2026-03-22T00:00:00Z", "2026-04-05T00:00:00Z");
    expect(slots.map((slot) => local(slot, "Europe/Berlin"))).toEqual([
      "2026-03-23 01:00 Mon",
      "2026-03-26 23:00 Thu",
      "2026-03-30 01:00 Mon",
      "2026-04-02 23:00 Thu",
    ]);
    expect(iso(latestDueSlot(s, utc("2026-03-29T12:00:00Z")))).toBe("2026-03-26T22:00:00Z");
  });

  test("equal instants from two intervals count once; latest due is the later start", () => {
    const s = schedule("UTC", "R/2026-01-01T00:00:00Z/PT12H", "R/2026-01-01T12:00:00Z/P1D", "R/2026-03-01T06:00:00Z/P1D");
    expect(slotsBetween(s, "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z").map(iso)).toEqual([
      "2026-02-01T00:00:00Z",
      "2026-02-01T12:00:00Z",
    ]);
    expect(iso(latestDueSlot(s, utc("2026-03-01T07:00:00Z")))).toBe("2026-03-01T06:00:00Z");
    expect(latestDueSlot(schedule("UTC", "R/2030-01-01T00:00:00Z/P1D"), utc("2026-03-01T07:00:00Z"))).toBeUndefined();
  });

  test("a malformed interval is a programming error", () => {
    expect(() => nextSlot(schedule("UTC", "R/2026-01-01T00:00:00Z/PT5H"), utc("2026-01-01T00:00:00Z"))).toThrow(/PT5H/);
  });
});

describe("efficiency and consistency", () => {
  test("a start ten years ago is computed arithmetically, not slot by slot", () => {
    const s = schedule("Europe/Berlin", "R/2016-07-01T00:00:00/PT1H"); // ~87,600 slots ago
    const began = performance.now();
    for (let i = 0; i < 500; i += 1) {
      const at = new Date(utc("2026-07-01T12:34:00Z").getTime() + i * 60_000);
      expect(latestDueSlot(s, at)!.getTime()).toBeLessThanOrEqual(at.getTime());
    }
    expect(performance.now() - began).toBeLessThan(1_000); // slot by slot would take minutes
    expect(iso(latestDueSlot(s, utc("2026-07-01T12:34:00Z")))).toBe("2026-07-01T12:00:00Z");
    expect(iso(nextSlot(s, utc("2026-07-01T12:34:00Z")))).toBe("2026-07-01T13:00:00Z");
  });

  test.each([
    ["Europe/Berlin", "R/2025-12-31T02:30:00/PT1H"],
    ["Europe/Berlin", "R/2025-12-31T02:30:00/P1D"],
    ["America/New_York", "R/2025-12-28T01:30:00/P1W"], // Sundays: hits the 2026-11-01 overlap
    ["America/New_York", "R/2025-12-28T02:30:00/P1W"], // Sundays: hits the 2026-03-08 gap
    ["Australia/Lord_Howe", "R/2025-12-31T01:45:00/PT2H"],
    ["Asia/Kolkata", "R/2025-12-31T05:00:00/PT12H"],
  ])("%s %s matches brute-force enumeration over a year", (zone, interval) => {
    const parsed = parseRepeatingInterval(interval);
    if (typeof parsed === "string") throw new Error(parsed);
    const s = schedule(zone, interval);
    // Reference: walk every slot from the start, convert each wall time, deduplicate.
    const reference: number[] = [];
    const start = Date.UTC(parsed.start.year, parsed.start.month - 1, parsed.start.day, parsed.start.hour, parsed.start.minute);
    const step = { day: 86_400_000, week: 7 * 86_400_000, hour: parsed.period.count * 3_600_000 }[parsed.period.unit];
    for (let w = start; w < Date.UTC(2027, 0, 1); w += step) {
      const d = new Date(w);
      const instant = zonedWallClockToUtc(
        { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: 0 },
        zone,
      ).getTime();
      if (instant !== reference.at(-1)) reference.push(instant);
    }
    for (let i = 1; i < reference.length; i += 1) expect(reference[i]!).toBeGreaterThan(reference[i - 1]!);
    // Probe every 7th slot and every slot near a DST change (spacing != period): a millisecond before, at it,
    // and a pseudo-random instant before the next slot.
    const nearIrregular = (i: number) =>
      [-3, -2, -1, 0, 1, 2, 3].some((d) => {
        const a = reference[i + d];
        const b = reference[i + d + 1];
        return a !== undefined && b !== undefined && b - a !== step;
      });
    const probes = reference
      .slice(0, -1)
      .filter((_, i) => i % 7 === 0 || nearIrregular(i))
      .flatMap((t, i) => [t - 1, t, t + ((t * 7919 + i) % step)]);
    expect(probes.length).toBeGreaterThan(50);
    for (const probe of probes) {
      const nextIndex = firstAfter(reference, probe);
      const due = reference[nextIndex - 1];
      const next = reference[nextIndex];
      expect(latestDueSlot(s, new Date(probe))?.getTime()).toBe(due);
      if (next !== undefined) expect(nextSlot(s, new Date(probe))?.getTime()).toBe(next);
    }
  });
});

describe("leap days", () => {
  test("a daily slot runs on Feb 29 of a leap year and goes straight from Feb 28 to Mar 1 otherwise", () => {
    const daily = schedule("Europe/Berlin", "R/2027-01-01T23:00:00+01:00/P1D");
    expect(slotsBetween(daily, "2028-02-28T00:00:00Z", "2028-03-02T00:00:00Z").map(iso)).toEqual([
      "2028-02-28T22:00:00Z",
      "2028-02-29T22:00:00Z",
      "2028-03-01T22:00:00Z",
    ]);
    expect(slotsBetween(daily, "2027-02-27T00:00:00Z", "2027-03-02T00:00:00Z").map(iso)).toEqual([
      "2027-02-27T22:00:00Z",
      "2027-02-28T22:00:00Z",
      "2027-03-01T22:00:00Z",
    ]);
  });

  test("a weekly slot started on a Feb 29 keeps its weekday, and latestDueSlot counts across the leap day", () => {
    const weekly = schedule("UTC", "R/2028-02-29T03:00:00Z/P1W"); // a Tuesday
    expect(iso(nextSlot(weekly, utc("2028-03-01T00:00:00Z")))).toBe("2028-03-07T03:00:00Z");
    expect(iso(latestDueSlot(weekly, utc("2032-02-29T03:00:00Z")))).toBe("2032-02-24T03:00:00Z");
    expect(iso(latestDueSlot(schedule("UTC", "R/2024-02-28T12:00:00Z/P1D"), utc("2024-02-29T12:00:00Z")))).toBe("2024-02-29T12:00:00Z");
  });
});

describe("countSlots", () => {
  test("when a spring-forward gap makes two intervals' wall times one instant, then it counts once", () => {
    // Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST, so 02:30 runs at 03:00 like the 03:00 slot. Mar 28, 29 and 30 local.
    const s = schedule("Europe/Berlin", "R/2026-01-01T02:30:00/P1D", "R/2026-01-01T03:00:00/P1D");
    expect(countSlots(s, utc("2026-03-27T23:00:00Z"), utc("2026-03-30T22:00:00Z"))).toBe(2 + 1 + 2);
    // New York, 2026-03-08: 02:00 daily lands on 03:00, which the PT4H interval has too.
    const ny = schedule("America/New_York", "R/2026-01-01T02:00:00/P1D", "R/2026-01-01T03:00:00/PT4H");
    expect(countSlots(ny, utc("2026-03-08T05:00:00Z"), utc("2026-03-09T04:00:00Z"))).toBe(6);
    expect(countSlots(ny, utc("2026-03-09T04:00:00Z"), utc("2026-03-10T04:00:00Z"))).toBe(7);
  });

  test("when hourly slots cross both Berlin DST days, then 23 and 24 slots (each wall hour once in autumn)", () => {
    const hourly = schedule("Europe/Berlin", "R/2026-01-01T00:00:00/PT1H");
    expect(countSlots(hourly, utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z"))).toBe(23);
    expect(countSlots(hourly, utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z"))).toBe(24);
  });

  test("when the range's ends fall on slots, then the start counts and the end does not; empty and early ranges count none", () => {
    const daily = schedule("UTC", "R/2026-01-01T02:00:00Z/P1D");
    expect(countSlots(daily, utc("2026-03-01T02:00:00Z"), utc("2026-03-03T02:00:00Z"))).toBe(2);
    expect(countSlots(daily, utc("2026-03-01T02:00:00.001Z"), utc("2026-03-03T02:00:00.001Z"))).toBe(2);
    expect(countSlots(daily, utc("2026-03-01T02:00:00Z"), utc("2026-03-01T02:00:00Z"))).toBe(0);
    expect(countSlots(daily, utc("2026-03-02T00:00:00Z"), utc("2026-03-01T00:00:00Z"))).toBe(0);
    expect(countSlots(daily, utc("2025-06-01T00:00:00Z"), utc("2026-01-01T02:00:00Z"))).toBe(0);
    expect(countSlots(daily, utc("2025-06-01T00:00:00Z"), utc("2026-01-03T00:00:00Z"))).toBe(2);
  });

  test.each([
    ["Europe/Berlin", ["R/2025-12-01T00:30:00/PT1H", "R/2025-12-01T02:30:00/P1D", "R/2025-12-07T03:00:00/P1W"]],
    ["America/New_York", ["R/2025-12-01T02:00:00/P1D", "R/2025-12-01T03:00:00/PT4H", "R/2026-06-01T01:30:00/PT3H"]],
    ["Australia/Lord_Howe", ["R/2025-12-01T01:45:00/PT2H", "R/2025-12-01T02:00:00/PT3H", "R/2025-12-01T02:15:00/P1W"]],
    ["Asia/Kolkata", ["R/2025-12-01T05:00:00/PT12H", "R/2025-12-01T01:00:00/PT8H", "R/2027-01-01T00:00:00/PT1H"]],
    ["UTC", ["R/2026-04-01T00:00:00Z/PT6H", "R/2025-12-01T12:00:00Z/P1D", "R/2026-02-03T06:00:00Z/PT2H"]],
  ])("when %s intervals %j are counted over 300 random ranges of 2026, then each count equals enumerating the slots", (zone, intervals) => {
    const s = schedule(zone, ...intervals);
    const [referenceFrom, referenceTo] = ["2025-12-01T00:00:00Z", "2027-01-15T00:00:00Z"];
    const reference = slotsBetween(s, referenceFrom, referenceTo).map((slot) => slot.getTime());
    const random = new SeededRandom(26);
    const [yearStart, yearMs] = [utc("2026-01-01T00:00:00Z").getTime(), 365 * 86_400_000];
    for (let i = 0; i < 300; i++) {
      const from = yearStart + random.int(0, yearMs);
      // Short ranges around single slots as well as long ones, within the enumerated ones.
      const to = Math.min(from + (i % 3 === 0 ? random.int(0, 86_400_000) : random.int(0, yearMs)), utc(referenceTo).getTime());
      const expected = firstAfter(reference, to - 1) - firstAfter(reference, from - 1);
      expect(countSlots(s, new Date(from), new Date(to)), `${new Date(from).toISOString()}..${new Date(to).toISOString()}`).toBe(expected);
    }
  });

  test("when 24 hourly intervals are counted over 400 days, then it takes milliseconds, not the seconds enumeration takes", () => {
    const s = schedule("Europe/Berlin", ...Array.from({ length: 24 }, (_, i) => `R/2025-01-01T00:${String(i * 2).padStart(2, "0")}:00/PT1H`));
    const began = performance.now();
    // 400 wall days of 24 hours; on 2026-03-29 the 24 wall times of 02:xx run at 03:00, as does the 03:00 slot.
    for (let i = 0; i < 20; i++) expect(countSlots(s, utc("2025-11-01T00:00:00Z"), utc("2026-12-06T00:00:00Z"))).toBe(24 * (400 * 24 - 1));
    expect((performance.now() - began) / 20).toBeLessThan(250); // nextSlot over 230,000 slots of 24 intervals: many minutes
  });
});
