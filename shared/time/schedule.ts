/**
 * Backup policy schedules (SPEC section 3). Pure: no I/O; zone offsets come from `Intl.DateTimeFormat` only.
 *
 * Semantics:
 * - A schedule is `{ repeatingIntervals, timeZone }`. Each interval `R/<start>/<period>` has its start date and time
 *   of day read as wall-clock fields in `timeZone` (a UTC offset written in the start is ignored).
 * - Slot k (k >= 0) is start + k*period in wall-clock arithmetic: P1D = same wall time every day, P1W = same weekday
 *   and wall time every week, PTnH = every n wall-clock hours anchored on the start (n divides 24, so every day has
 *   the same slot times).
 * - A wall time inside a spring-forward gap runs at the first instant after the gap (02:30 -> 03:00 local); an
 *   ambiguous autumn wall time runs once, at its first (earlier) occurrence.
 * - Several intervals: the union of their slot instants; equal instants count once.
 *
 * Efficiency: the slot index near a given instant is computed arithmetically on wall-clock milliseconds, then
 * neighbours are checked, so a start years in the past costs the same as one yesterday.
 */
import { parseRepeatingInterval, type RepeatingInterval, type SchedulePeriod, type WallClock } from "./repeatingInterval";

export interface Schedule {
  repeatingIntervals: readonly string[];
  timeZone: string;
}

const minuteMs = 60_000;
const hourMs = 60 * minuteMs;
const dayMs = 24 * hourMs;

/**
 * "Wall milliseconds": a wall-clock reading encoded as if it were a UTC instant. Wall-clock arithmetic (add a day,
 * an hour) is then plain addition, because every wall-clock day has 24 wall-clock hours whatever DST does.
 */
type WallMs = number;

function wallClockToWallMs(wall: WallClock): WallMs {
  const date = new Date(Date.UTC(2000, 0, 1));
  // setUTCFullYear, not Date.UTC(year, ...): Date.UTC maps years 0..99 to 1900..1999.
  date.setUTCFullYear(wall.year, wall.month - 1, wall.day);
  date.setUTCHours(wall.hour, wall.minute, wall.second, 0);
  return date.getTime();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Formatters are costly to build and each slot evaluation needs several readings, so keep one per zone. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23", // h23, not hour12: false, which renders midnight as "24" in some ICU versions
      era: "short", // so years before 1 AD stay distinguishable
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** What a clock in `timeZone` reads at `instant`, as wall milliseconds (sub-second part carried over). */
function wallReadingAt(instant: number, timeZone: string): WallMs {
  const parts = new Map(formatterFor(timeZone).formatToParts(instant).map((part) => [part.type, part.value]));
  const field = (type: Intl.DateTimeFormatPartTypes) => Number(parts.get(type));
  const era = parts.get("era");
  const year = era === "BC" || era === "B" ? 1 - field("year") : field("year");
  const wholeSeconds = wallClockToWallMs({
    year,
    month: field("month"),
    day: field("day"),
    hour: field("hour"),
    minute: field("minute"),
    second: field("second"),
  });
  return wholeSeconds + (((instant % 1000) + 1000) % 1000);
}

/** UTC offset (wall minus UTC, in ms) in effect at `instant`. */
function offsetAt(instant: number, timeZone: string): number {
  return wallReadingAt(instant, timeZone) - instant;
}

/**
 * The instant a wall time maps to under the gap/overlap rules. Assumes at most one offset change within a day
 * either side of the wall time (true of every IANA zone since at least 1980); a day covers every real offset
 * (-12h..+14h), so the offsets one day before and after are the only ones that can apply.
 */
function wallMsToUtc(wall: WallMs, timeZone: string): number {
  const before = offsetAt(wall - dayMs, timeZone);
  const after = offsetAt(wall + dayMs, timeZone);
  const matches = [wall - before, wall - after].filter((instant) => wallReadingAt(instant, timeZone) === wall);
  if (matches.length > 0) return Math.min(...matches); // two matches = autumn overlap: first occurrence wins
  if (after > before) return endOfGap(wall - after, wall - before, wall, timeZone);
  throw new Error(`time zone ${timeZone}: cannot resolve wall time ${new Date(wall).toISOString()} (offset data changes twice within a day)`);
}

/**
 * Binary search for the first instant whose wall reading is >= `wall`, i.e. the instant the clock jumps forward.
 * `low` reads before the gap and `high` after it; the gap is at most a day, so this takes ~27 readings and only
 * runs for wall times that do not exist.
 */
function endOfGap(low: number, high: number, wall: WallMs, timeZone: string): number {
  let lo = low; // reading < wall
  let hi = high; // reading >= wall
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (wallReadingAt(mid, timeZone) < wall) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * Converts wall-clock fields in `timeZone` to the UTC instant they denote. A wall time skipped by a spring-forward
 * gap maps to the first instant after the gap; an ambiguous autumn wall time maps to its first occurrence.
 */
export function zonedWallClockToUtc(wall: WallClock, timeZone: string): Date {
  return new Date(wallMsToUtc(wallClockToWallMs(wall), timeZone));
}

function periodMs(period: SchedulePeriod): number {
  switch (period.unit) {
    case "day":
      return dayMs;
    case "week":
      return 7 * dayMs;
    case "hour":
      return period.count * hourMs;
  }
}

/** One interval ready for arithmetic: slot k's wall time is `startWall + k * stepMs`. */
interface SlotSeries {
  startWall: WallMs;
  stepMs: number;
  timeZone: string;
}

function toSeries(interval: RepeatingInterval, timeZone: string): SlotSeries {
  return { startWall: wallClockToWallMs(interval.start), stepMs: periodMs(interval.period), timeZone };
}

function slotInstant(series: SlotSeries, k: number): number {
  return wallMsToUtc(series.startWall + k * series.stepMs, series.timeZone);
}

/**
 * Index of the latest slot at or before `at`, or -1 if none. Slot instants are non-decreasing in k (the gap and
 * overlap rules preserve order), so the due slots form a prefix. The slot whose wall time is the last one not
 * after `at`'s own wall reading is always due; only when `at` lies in the second pass of an autumn overlap can a
 * few later slots (mapped to the first pass) be due too, hence the short forward walk.
 */
function lastDueIndex(series: SlotSeries, at: number): number {
  const atWall = wallReadingAt(at, series.timeZone);
  let k = Math.max(0, Math.floor((atWall - series.startWall) / series.stepMs));
  if (slotInstant(series, k) > at) return -1; // only reachable with k = 0: `at` is before the start
  while (slotInstant(series, k + 1) <= at) k += 1;
  return k;
}

function seriesOf(schedule: Schedule): SlotSeries[] {
  return schedule.repeatingIntervals.map((text) => {
    const parsed = parseRepeatingInterval(text);
    // Callers pass validated policies, so an unparsable interval here is a bug, not bad input.
    if (typeof parsed === "string") throw new Error(`invalid repeating interval '${text}': ${parsed}`);
    return toSeries(parsed, schedule.timeZone);
  });
}

/** The latest slot instant <= `at` across all intervals, or undefined when `at` is before every start. */
export function latestDueSlot(schedule: Schedule, at: Date): Date | undefined {
  const atMs = at.getTime();
  let latest: number | undefined;
  for (const series of seriesOf(schedule)) {
    const k = lastDueIndex(series, atMs);
    if (k < 0) continue;
    const instant = slotInstant(series, k);
    if (latest === undefined || instant > latest) latest = instant;
  }
  return latest === undefined ? undefined : new Date(latest);
}

/** The first slot instant strictly after `after` across all intervals (undefined only for an empty schedule). */
export function nextSlot(schedule: Schedule, after: Date): Date | undefined {
  const afterMs = after.getTime();
  let next: number | undefined;
  for (const series of seriesOf(schedule)) {
    // Due slots are a prefix, so the one after the last due slot is the first strictly later one.
    const instant = slotInstant(series, lastDueIndex(series, afterMs) + 1);
    if (next === undefined || instant < next) next = instant;
  }
  return next === undefined ? undefined : new Date(next);
}

const weekMs = 7 * dayMs;

/**
 * The longest time between two consecutive slots the schedule can have, whatever the date: the longest gap of its
 * wall-clock pattern over a week (every period divides a week), plus the largest change of the zone's UTC offset
 * within the two years from `at` (an autumn fall-back inside a gap lengthens it by that much; a spring gap only
 * shortens one). Computed from the intervals, not by walking slots: a year of hourly slots takes seconds.
 */
export function longestSlotGapMs(schedule: Schedule, at: Date): number {
  const points = new Set<number>();
  for (const series of seriesOf(schedule)) {
    for (let k = 0; k * series.stepMs < weekMs; k++) points.add((((series.startWall + k * series.stepMs) % weekMs) + weekMs) % weekMs);
  }
  const sorted = [...points].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  let longest = sorted[0]! + weekMs - sorted[sorted.length - 1]!;
  for (let i = 1; i < sorted.length; i++) longest = Math.max(longest, sorted[i]! - sorted[i - 1]!);
  // Offsets change at most a few times a year and hold for weeks: a reading every 7 days sees each one.
  const offsets = Array.from({ length: 105 }, (_, i) => offsetAt(at.getTime() + i * weekMs, schedule.timeZone));
  return longest + Math.max(...offsets) - Math.min(...offsets);
}

/** One interval's slots within a range of instants: wall times `firstWall`, `firstWall + stepMs`, ... `lastWall`. */
interface SlotRun {
  firstWall: WallMs;
  lastWall: WallMs;
  stepMs: number;
}

const modulo = (value: number, by: number) => ((value % by) + by) % by;

/**
 * How many distinct wall times the runs hold within [low, high] (wall ms, both included). Every period divides a
 * week, so a run's wall times with one remainder modulo a week are that remainder plus consecutive whole weeks: per
 * remainder each run is a range of week numbers, and the union is counted by merging those ranges. At most 168
 * remainders per run, whatever the length of the range.
 */
function distinctWallTimes(runs: readonly SlotRun[], low = -Infinity, high = Infinity): number {
  const weeksByRemainder = new Map<number, [number, number][]>();
  for (const run of runs) {
    const first = low <= run.firstWall ? run.firstWall : run.firstWall + Math.ceil((low - run.firstWall) / run.stepMs) * run.stepMs;
    const last = high >= run.lastWall ? run.lastWall : run.firstWall + Math.floor((high - run.firstWall) / run.stepMs) * run.stepMs;
    for (let wall = first; wall <= last && wall < first + weekMs; wall += run.stepMs) {
      const remainder = modulo(wall, weekMs);
      const week = (wall - remainder) / weekMs;
      const ranges = weeksByRemainder.get(remainder) ?? [];
      ranges.push([week, week + Math.floor((last - wall) / weekMs)]);
      weeksByRemainder.set(remainder, ranges);
    }
  }
  let count = 0;
  for (const ranges of weeksByRemainder.values()) {
    ranges.sort((a, b) => a[0] - b[0]);
    let end = -Infinity;
    for (const [from, to] of ranges) {
      if (to > end) count += to - Math.max(from, end + 1) + 1;
      end = Math.max(end, to);
    }
  }
  return count;
}

/** A change of the zone's UTC offset: from `at` (an instant) on, `after` applies instead of `before`. */
interface OffsetChange {
  at: number;
  before: number;
  after: number;
}

/**
 * The zone's offset changes around [from, to): offsets are read once a week (they hold for weeks, as in
 * longestSlotGapMs) and each change is pinned to the millisecond.
 */
function offsetChanges(timeZone: string, from: number, to: number): OffsetChange[] {
  const changes: OffsetChange[] = [];
  let [at, offset] = [from - weekMs, offsetAt(from - weekMs, timeZone)];
  while (at < to + weekMs) {
    const next = at + weekMs;
    const nextOffset = offsetAt(next, timeZone);
    if (nextOffset !== offset) {
      let [lo, hi] = [at, next]; // offset at lo is the old one, at hi the new one
      while (hi - lo > 1) {
        const mid = lo + Math.floor((hi - lo) / 2);
        if (offsetAt(mid, timeZone) === offset) lo = mid;
        else hi = mid;
      }
      changes.push({ at: hi, before: offset, after: nextOffset });
    }
    [at, offset] = [next, nextOffset];
  }
  return changes;
}

/**
 * The zone's spring-forward gaps around [from, to), as wall ranges [before, after]: every wall time from the last
 * reading before the jump up to the first one after it runs at the same instant (the gap rule above).
 */
function springForwardGaps(timeZone: string, from: number, to: number): [WallMs, WallMs][] {
  return offsetChanges(timeZone, from, to)
    .filter((change) => change.after > change.before)
    .map((change) => [change.at + change.before, change.at + change.after]);
}

/**
 * How many slots the schedule has in [from, to), equal instants of several intervals counted once, as chaining
 * `nextSlot` would count them. Computed from each interval's first and last slot in the range (lastDueIndex) and
 * the weekly pattern of their wall times, so a year of hourly slots costs about what a day does: counting them one
 * by one takes seconds. Two wall times are one instant only in a spring-forward gap (every wall time of the gap,
 * and the one it ends at, runs when the gap ends), so those are merged afterwards; an autumn overlap runs each wall
 * time once and needs nothing.
 */
export function countSlots(schedule: Schedule, from: Date, to: Date): number {
  const [fromMs, toMs] = [from.getTime(), to.getTime()];
  if (toMs <= fromMs) return 0;
  const runs: SlotRun[] = [];
  for (const series of seriesOf(schedule)) {
    const first = lastDueIndex(series, fromMs - 1) + 1;
    const last = lastDueIndex(series, toMs - 1);
    if (last >= first) {
      runs.push({ firstWall: series.startWall + first * series.stepMs, lastWall: series.startWall + last * series.stepMs, stepMs: series.stepMs });
    }
  }
  let count = distinctWallTimes(runs);
  for (const [before, after] of springForwardGaps(schedule.timeZone, fromMs, toMs)) count -= Math.max(0, distinctWallTimes(runs, before, after) - 1);
  return count;
}

/**
 * Every slot instant in [from, to), ascending, equal instants of several intervals once: what chaining `nextSlot`
 * gives, without its cost (a year of hourly slots walked takes about a second; this, a few milliseconds). Each
 * interval's first and last slot come from lastDueIndex; a wall time with the same offset a day either side (the
 * zone's changes are read once, offsetChanges) is that offset away from its instant, and only the wall times near
 * a change go through wallMsToUtc.
 */
export function slotsBetween(schedule: Schedule, from: Date, to: Date): number[] {
  const [fromMs, toMs] = [from.getTime(), to.getTime()];
  if (toMs <= fromMs) return [];
  const changes = offsetChanges(schedule.timeZone, fromMs - 2 * dayMs, toMs + 2 * dayMs);
  const initial = changes[0]?.before ?? offsetAt(fromMs, schedule.timeZone);
  const instants: number[] = [];
  for (const series of seriesOf(schedule)) {
    const first = lastDueIndex(series, fromMs - 1) + 1;
    const last = lastDueIndex(series, toMs - 1);
    let next = 0; // the first change after the current wall time's day before (walls only grow)
    for (let k = first; k <= last; k++) {
      const wall = series.startWall + k * series.stepMs;
      while (next < changes.length && changes[next]!.at <= wall - dayMs) next += 1;
      const offset = next === 0 ? initial : changes[next - 1]!.after;
      const steady = next >= changes.length || changes[next]!.at > wall + dayMs;
      instants.push(steady ? wall - offset : wallMsToUtc(wall, series.timeZone));
    }
  }
  instants.sort((a, b) => a - b);
  return instants.filter((instant, i) => i === 0 || instant !== instants[i - 1]);
}

/**
 * An instant as the clock in `timeZone` reads it, with that zone's UTC offset: `2026-03-29T03:00:00+02:00`. What
 * a person in the policy's zone sees on the wall when the slot runs.
 */
export function zonedIsoTime(instant: Date, timeZone: string): { local: string; utcOffset: string } {
  const ms = Math.floor(instant.getTime() / 1000) * 1000;
  const wall = wallReadingAt(ms, timeZone);
  const offsetMinutes = Math.round((wall - ms) / minuteMs);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  const utcOffset = `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  return { local: `${new Date(wall).toISOString().slice(0, 19)}${utcOffset}`, utcOffset };
}
