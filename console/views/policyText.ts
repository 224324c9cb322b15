/** Policies in words, for the list and the editor: "every day at 02:30", "30 days". Pure, from shared/time. */
import type { BackupPolicy } from "../../shared/domain";
import { parseDuration } from "../../shared/time/isoDuration";
import { parseRepeatingInterval } from "../../shared/time/repeatingInterval";

const weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const pad = (n: number) => String(n).padStart(2, "0");

/** One interval in words: `every Monday at 21:15`, `every 4 hours from 00:00`; the text itself when it does not parse. */
export function describeInterval(text: string): string {
  const parsed = parseRepeatingInterval(text);
  if (typeof parsed === "string") return text;
  const { start, period } = parsed;
  const time = `${pad(start.hour)}:${pad(start.minute)}${start.second ? `:${pad(start.second)}` : ""}`;
  if (period.unit === "day") return `every day at ${time}`;
  if (period.unit === "week") return `every ${weekdays[new Date(Date.UTC(start.year, start.month - 1, start.day)).getUTCDay()]} at ${time}`;
  return period.count === 1 ? `every hour from ${time}` : `every ${period.count} hours from ${time}`;
}

const units: [keyof NonNullable<ReturnType<typeof parseDuration>>, string][] = [
  ["years", "year"],
  ["months", "month"],
  ["weeks", "week"],
  ["days", "day"],
];

/** `P1Y6M` → `1 year 6 months`; the text itself when it is not a calendar duration. */
export function describeDuration(text: string): string {
  const duration = parseDuration(text);
  if (!duration) return text;
  const parts = units.filter(([key]) => duration[key] > 0).map(([key, unit]) => `${duration[key]} ${unit}${duration[key] === 1 ? "" : "s"}`);
  return parts.length > 0 ? parts.join(" ") : text;
}

/** `30 days; weekly 12 weeks; monthly 12 months; yearly 10 years`. */
export function describeRetention(retention: BackupPolicy["retention"]): string {
  return [describeDuration(retention.default.duration), ...retention.rules.map((rule) => `${rule.tag.toLowerCase()} ${describeDuration(rule.duration)}`)].join("; ");
}
