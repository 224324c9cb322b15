/**
 * Azure Functions timer schedules: six-field NCRONTAB `{second} {minute} {hour} {day} {month} {day-of-week}`,
 * evaluated in UTC (the local host does not emulate WEBSITE_TIME_ZONE). Pure: no I/O, no clock reads.
 *
 * Syntax per field: `*`, `n`, `a-b`, lists `a,b,c`, and steps: `/n` after `*` or a range, and `a/n` meaning
 * `a-max/n` (as NCrontab reads it). Months accept Jan..Dec and days Sun..Sat, as three-letter abbreviations or
 * full names, in any case. Day-of-week 0 and 7 are both Sunday (NCrontab itself only knows 0-6; accepting 7 as
 * well costs nothing).
 *
 * Day-of-month and day-of-week combine with AND, like NCrontab, the library the Functions host uses: it checks the
 * weekday after finding a matching date, so `0 0 8 1-7 * Mon` is "the first Monday of the month", not Vixie cron's
 * "days 1-7 plus every Monday". A local host should fire exactly when Azure would.
 *
 * Only the six-field form is accepted: the Functions host parses timer schedules with seconds included.
 */

export interface NcrontabSchedule {
  readonly expression: string;
  /** Allowed values per field, sorted ascending and unique. Day-of-week uses 0-6 (0 = Sunday). */
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly days: readonly number[];
  readonly months: readonly number[];
  readonly daysOfWeek: readonly number[];
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for the values min, min+1, ... (lower case, full form; the first three letters also match). */
  readonly names?: readonly string[];
}

const monthNames = [
  "january", "february", "march", "april", "may", "june",
  "july", "august", "september", "october", "november", "december",
];
const dayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

const fields: readonly FieldSpec[] = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: monthNames },
  // max 7 so that 7 parses (and ranges like 5-7 work); it is folded onto 0 afterwards.
  { name: "day-of-week", min: 0, max: 7, names: dayNames },
];

const daysInMonthMax = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function parseNcrontab(expression: string): NcrontabSchedule {
  const fail = (detail: string): never => {
    throw new Error(`Invalid NCRONTAB expression "${expression}": ${detail}`);
  };
  const tokens = expression.trim().split(/\s+/).filter((token) => token.length > 0);
  if (tokens.length !== fields.length) {
    fail(`expected 6 fields {second} {minute} {hour} {day} {month} {day-of-week}, got ${tokens.length}`);
  }
  const values = fields.map((spec, index) => {
    try {
      return parseField(tokens[index] ?? "", spec);
    } catch (error) {
      return fail(`${spec.name} field "${tokens[index]}": ${(error as Error).message}`);
    }
  });
  const [seconds = [], minutes = [], hours = [], days = [], months = [], weekdays = []] = values;
  const daysOfWeek = [...new Set(weekdays.map((day) => day % 7))].sort((a, b) => a - b);

  // Rejecting dates that never exist (30 Feb, 31 Apr) here is what guarantees nextOccurrence terminates: every real
  // date falls on every weekday within a 400-year Gregorian cycle, so with AND semantics some instant always matches.
  const firstDay = days[0] ?? 1;
  if (!months.some((month) => firstDay <= (daysInMonthMax[month - 1] ?? 0))) {
    fail(`day ${days.join(",")} never occurs in month ${months.join(",")}`);
  }
  return { expression, seconds, minutes, hours, days, months, daysOfWeek };
}

/** Parses one field into its sorted, unique allowed values; throws with a message naming the offending part. */
function parseField(token: string, spec: FieldSpec): number[] {
  const allowed = new Set<number>();
  for (const part of token.split(",")) {
    const match = /^([^/]+)(?:\/(.+))?$/.exec(part);
    if (!match) throw new Error(`"${part}" is not a value, range or step`);
    const [, base = "", stepText] = match;
    const step = stepText === undefined ? 1 : parseNumber(stepText, "step");
    if (step < 1) throw new Error(`step ${step} must be at least 1`);

    let low: number;
    let high: number;
    if (base === "*") {
      [low, high] = [spec.min, spec.max];
    } else if (base.includes("-")) {
      const [from = "", to = "", ...rest] = base.split("-");
      if (rest.length > 0) throw new Error(`"${base}" is not a range a-b`);
      [low, high] = [parseValue(from, spec), parseValue(to, spec)];
      if (low > high) throw new Error(`range ${base} runs backwards`);
    } else {
      low = parseValue(base, spec);
      // A single value with a step (`5/15`) runs to the field's maximum, as in NCrontab.
      high = stepText === undefined ? low : spec.max;
    }
    for (let value = low; value <= high; value += step) allowed.add(value);
  }
  return [...allowed].sort((a, b) => a - b);
}

function parseValue(text: string, spec: FieldSpec): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < spec.min || value > spec.max) throw new Error(`value ${value} is out of range ${spec.min}-${spec.max}`);
    return value;
  }
  const lower = text.toLowerCase();
  const index = spec.names?.findIndex((name) => name === lower || name.slice(0, 3) === lower) ?? -1;
  if (index < 0) {
    const hint = spec.names ? ` (use ${spec.min}-${spec.max} or a name such as ${spec.names[0]?.slice(0, 3)})` : "";
    throw new Error(`"${text}" is not a number${spec.names ? " or name" : ""}${hint}`);
  }
  return spec.min + index;
}

function parseNumber(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${what} "${text}" is not a number`);
  return Number(text);
}

/** First allowed value >= `from`, if any. */
function nextAllowed(allowed: readonly number[], from: number): number | undefined {
  return allowed.find((value) => value >= from);
}

/** A UTC instant from calendar fields; overflowing fields roll over (day 32 = next month's 1st, hour 24 = next day). */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): Date {
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date;
}

/**
 * The first instant strictly after `after` (whole seconds) that the schedule matches.
 *
 * Walks from the coarsest field down: when a field's value is not allowed, jump to that field's next allowed value
 * (or roll the next coarser field over) and restart from that field's first instant, so the cost is a handful of
 * steps per field rather than one per second.
 */
export function nextOccurrence(schedule: NcrontabSchedule, after: Date): Date {
  const afterMs = after.getTime();
  if (Number.isNaN(afterMs)) throw new Error("nextOccurrence: `after` is not a valid date");
  let t = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
  const giveUpYear = t.getUTCFullYear() + 400; // defensive only: parseNcrontab rejects schedules that never match

  while (t.getUTCFullYear() <= giveUpYear) {
    const [year, month, day] = [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()];
    const [hour, minute, second] = [t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()];

    const nextMonth = nextAllowed(schedule.months, month);
    if (nextMonth !== month) {
      t = nextMonth === undefined ? utc(year + 1, schedule.months[0] ?? 1, 1) : utc(year, nextMonth, 1);
      continue;
    }
    const nextDay = nextAllowed(schedule.days, day);
    if (nextDay !== day) {
      // Day 31 in a 30-day month rolls into the next month, which the month check then judges.
      t = nextDay === undefined ? utc(year, month + 1, 1) : utc(year, month, nextDay);
      continue;
    }
    if (!schedule.daysOfWeek.includes(t.getUTCDay())) {
      t = utc(year, month, day + 1);
      continue;
    }
    const nextHour = nextAllowed(schedule.hours, hour);
    if (nextHour !== hour) {
      t = nextHour === undefined ? utc(year, month, day + 1) : utc(year, month, day, nextHour);
      continue;
    }
    const nextMinute = nextAllowed(schedule.minutes, minute);
    if (nextMinute !== minute) {
      t = nextMinute === undefined ? utc(year, month, day, hour + 1) : utc(year, month, day, hour, nextMinute);
      continue;
    }
    const nextSecond = nextAllowed(schedule.seconds, second);
    if (nextSecond !== second) {
      t = nextSecond === undefined
        ? utc(year, month, day, hour, minute + 1)
        : utc(year, month, day, hour, minute, nextSecond);
      continue;
    }
    return t;
  }
  const start = after.toISOString();
  throw new Error(`NCRONTAB expression "${schedule.expression}" has no occurrence within 400 years of ${start}`);
}

/**
 * Replaces `%NAME%` with the app setting NAME, as the Functions host does for binding properties such as a timer's
 * `schedule: "%SCHEDULER_SCHEDULE%"`. A missing setting is an error rather than an empty string, because a silently
 * empty schedule or route would hide the misconfiguration.
 */
export function resolveSettingReferences(text: string, settings: Record<string, string | undefined>): string {
  return text.replace(/%([^%\s]+)%/g, (reference, name: string) => {
    const value = settings[name];
    if (value === undefined) {
      throw new Error(`App setting "${name}" (referenced as ${reference} in "${text}") is not set`);
    }
    return value;
  });
}
