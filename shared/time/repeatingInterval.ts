/**
 * ISO 8601 repeating intervals as policies use them: `R/<start>/<period>` with period `P1D`, `P1W` or `PTnH`
 * (n dividing 24). The start's date and time of day are wall-clock fields in the policy's time zone; its UTC
 * offset, if any, is ignored (that is how a 02:30 backup stays at 02:30 across DST).
 */

export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export type SchedulePeriod = { unit: "day"; count: 1 } | { unit: "week"; count: 1 } | { unit: "hour"; count: number };

export interface RepeatingInterval {
  start: WallClock;
  period: SchedulePeriod;
}

export const hourlyPeriods = [1, 2, 3, 4, 6, 8, 12] as const;

const intervalPattern =
  /^R\/(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\/(P1D|P1W|PT(\d{1,2})H)$/;

/** Parses one interval, or explains in one sentence why it is not one pgvault accepts. */
export function parseRepeatingInterval(text: string): RepeatingInterval | string {
  const match = intervalPattern.exec(text);
  if (!match) {
    return "must look like R/2026-01-04T02:30:00+00:00/P1D with period P1D, P1W or PT1H..PT12H";
  }
  const [, year, month, day, hour, minute, second, period, hours] = match;
  const start: WallClock = {
    year: Number(year),
    month: Number(month),
    day: Number(day),
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second ?? 0),
  };
  const probe = new Date(Date.UTC(start.year, start.month - 1, start.day, start.hour, start.minute, start.second));
  if (
    probe.getUTCMonth() !== start.month - 1 ||
    probe.getUTCDate() !== start.day ||
    start.hour > 23 ||
    start.minute > 59 ||
    start.second > 59
  ) {
    return "start is not a valid date and time";
  }
  if (period === "P1D") return { start, period: { unit: "day", count: 1 } };
  if (period === "P1W") return { start, period: { unit: "week", count: 1 } };
  const count = Number(hours);
  if (!(hourlyPeriods as readonly number[]).includes(count)) {
    return `hourly period must divide 24 (PT${hourlyPeriods.join("H, PT")}H)`;
  }
  return { start, period: { unit: "hour", count } };
}

/**
 * True when the runtime knows the IANA zone (Node ships full ICU). Offsets such as `+01:00` are not IANA zones, but
 * Node 22's Intl accepts them as time zones (ECMA-402 offset time zones), so they are refused before Intl is asked.
 */
export function isValidTimeZone(zone: string): boolean {
  if (/^[+\-\u2212]/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
