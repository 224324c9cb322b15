/** ISO 8601 date durations (`P30D`, `P12W`, `P1Y6M`) as retention uses them: calendar parts only, no times. */

export interface CalendarDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
}

const durationPattern = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/;

export function parseDuration(text: string): CalendarDuration | undefined {
  const match = durationPattern.exec(text);
  if (!match) return undefined;
  const [, years, months, weeks, days] = match;
  return { years: Number(years ?? 0), months: Number(months ?? 0), weeks: Number(weeks ?? 0), days: Number(days ?? 0) };
}

const daysPerMonth = 365.2425 / 12;

/** Length in mean Gregorian days; used only to check bounds, never to compute an expiry. */
export function approximateDays(duration: CalendarDuration): number {
  return (duration.years * 12 + duration.months) * daysPerMonth + duration.weeks * 7 + duration.days;
}

export const minRetentionDays = 1;
export const maxRetentionDays = 10 * 365.2425;

/** `time + duration` on the UTC calendar; a month end clamps (Jan 31 + P1M = Feb 28/29). */
export function addDuration(time: Date, duration: CalendarDuration): Date {
  const totalMonths = time.getUTCMonth() + duration.years * 12 + duration.months;
  const year = time.getUTCFullYear() + Math.floor(totalMonths / 12);
  const month = totalMonths % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const shifted = new Date(time.getTime());
  shifted.setUTCFullYear(year, month, Math.min(time.getUTCDate(), lastDay));
  shifted.setUTCDate(shifted.getUTCDate() + duration.weeks * 7 + duration.days);
  return shifted;
}

const timeDurationPattern = /^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?)?$/;

/** An ISO 8601 duration of days, hours and minutes (`PT1H`, `PT30M`, `P1DT2H`), in milliseconds. */
export function parseTimeDuration(text: string): number | undefined {
  const match = timeDurationPattern.exec(text);
  if (!match || text.endsWith("T")) return undefined;
  const [, days, hours, minutes] = match;
  return ((Number(days ?? 0) * 24 + Number(hours ?? 0)) * 60 + Number(minutes ?? 0)) * 60_000;
}

/** Milliseconds written as an ISO 8601 duration of hours and minutes (`PT26H`, `PT1H30M`; `PT0M` for none). */
export function formatTimeDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const [hours, rest] = [Math.floor(minutes / 60), minutes % 60];
  return `PT${hours > 0 ? `${hours}H` : ""}${rest > 0 || hours === 0 ? `${rest}M` : ""}`;
}
