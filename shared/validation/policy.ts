import type { BackupPolicy, DatasourceType, PolicyCompression, PolicyEncryption, PolicyNotifications, PolicyVerification, RetentionRule } from "../domain";
import { compressionAlgorithms, criteriaOfTag } from "../domain";
import { compressionLevels } from "../compression/compressionSettings";
import { quoted } from "../errors";
import { parseKeyRef } from "../secrets/keyRef";
import { referenceInScope } from "../secrets/referenceScope";
import { addDuration, approximateDays, formatTimeDuration, maxRetentionDays, minRetentionDays, parseDuration, parseTimeDuration } from "../time/isoDuration";
import { isValidTimeZone, parseRepeatingInterval, type RepeatingInterval } from "../time/repeatingInterval";
import { longestSlotGapMs, type Schedule } from "../time/schedule";
import { IssueCollector, join } from "./issues";

const datasourceTypes: readonly DatasourceType[] = ["database", "flexibleServer"];
const ruleTags = Object.keys(criteriaOfTag) as RetentionRule["tag"][];

function retentionDuration(issues: IssueCollector, value: unknown, path: string): string | undefined {
  const text = issues.string(value, path);
  if (text === undefined) return undefined;
  const duration = parseDuration(text);
  if (!duration) {
    issues.add(path, "must be an ISO 8601 duration of years, months, weeks and days, e.g. P30D or P10Y");
    return undefined;
  }
  const days = approximateDays(duration);
  if (days < minRetentionDays || days > maxRetentionDays) {
    issues.add(path, "must be at least P1D and at most P10Y");
    return undefined;
  }
  return text;
}

function readRules(issues: IssueCollector, value: unknown, path: string): RetentionRule[] {
  if (value === undefined) return [];
  const rules: RetentionRule[] = [];
  // Every tag seen so far, valid rule or not, so a duplicate is reported even when its first use has other issues.
  const seenTags = new Set<RetentionRule["tag"]>();
  issues.array(value, path, 0, ruleTags.length).forEach((item, index) => {
    const itemPath = join(path, index);
    const body = issues.object(item, itemPath, ["tag", "criteria", "duration"]);
    const tag = issues.oneOf(body.tag, join(itemPath, "tag"), ruleTags);
    const criteria = issues.oneOf(body.criteria, join(itemPath, "criteria"), Object.values(criteriaOfTag));
    const duration = retentionDuration(issues, body.duration, join(itemPath, "duration"));
    const duplicate = tag !== undefined && seenTags.has(tag);
    if (tag) seenTags.add(tag);
    if (duplicate) issues.add(join(itemPath, "tag"), `tag '${tag}' appears more than once`);
    if (tag && criteria && criteriaOfTag[tag] !== criteria) {
      issues.add(join(itemPath, "criteria"), `tag '${tag}' goes with criteria '${criteriaOfTag[tag]}'`);
    } else if (tag && criteria && duration && !duplicate) {
      rules.push({ tag, criteria, duration });
    }
  });
  return rules;
}

/** Optional client-side encryption: only for `database` policies, with a key reference that parses. */
function readEncryption(issues: IssueCollector, value: unknown, datasourceType: DatasourceType | undefined): PolicyEncryption | undefined {
  if (value === undefined) return undefined;
  const body = issues.object(value, "encryption", ["keyRef"]);
  if (datasourceType === "flexibleServer") {
    issues.add("encryption", "applies to 'database' policies only: a Flexible Server writes its own backup files");
  }
  const keyRef = issues.string(body.keyRef, "encryption.keyRef", { maxLength: 2048 });
  if (keyRef === undefined) return undefined;
  // The reference rules bind new references; a recorded point keeps unwrapping with the key that wrapped it.
  const parsed = issues.parsed("encryption.keyRef", () => referenceInScope(parseKeyRef(keyRef), "keyRef"));
  return parsed === undefined ? undefined : { keyRef };
}

/** Optional compression of new `database` recovery points: an algorithm, and a level within its range (none: no level). */
function readCompression(issues: IssueCollector, value: unknown, datasourceType: DatasourceType | undefined): PolicyCompression | undefined {
  if (value === undefined) return undefined;
  const body = issues.object(value, "compression", ["algorithm", "level"]);
  if (datasourceType === "flexibleServer") {
    issues.add("compression", "applies to 'database' policies only: a Flexible Server writes its own backup files");
  }
  const algorithm = issues.oneOf(body.algorithm, "compression.algorithm", compressionAlgorithms);
  if (algorithm === undefined) return undefined;
  if (algorithm === "none") {
    if (body.level !== undefined) issues.add("compression.level", "does not apply to algorithm 'none'");
    return { algorithm };
  }
  const range = compressionLevels[algorithm];
  const level = body.level === undefined ? undefined : issues.integer(body.level, "compression.level", range.min, range.max);
  return level === undefined ? { algorithm } : { algorithm, level };
}

/** How often a drill may be scheduled: at least daily, at least once a year. */
const minVerificationDays = 1;
const maxVerificationDays = 365.2425;

/**
 * Optional scheduled restore drills, an ISO duration from P1D to P1Y. Flexible Server policies too: their instances
 * are drilled once they name a drill server (the instance's `verification`).
 */
function readVerification(issues: IssueCollector, value: unknown): PolicyVerification | undefined {
  if (value === undefined) return undefined;
  const body = issues.object(value, "verification", ["interval"]);
  const interval = issues.string(body.interval, "verification.interval");
  if (interval === undefined) return undefined;
  const duration = parseDuration(interval);
  const days = duration && approximateDays(duration);
  if (days === undefined || days < minVerificationDays || days > maxVerificationDays) {
    issues.add("verification.interval", "must be an ISO 8601 duration of years, months, weeks and days from P1D to P1Y, e.g. P7D");
    return undefined;
  }
  return { interval };
}

/** Optional events: `{ "jobSucceeded": true }` publishes `pgvault.job.succeeded` (failures are always published). */
function readNotifications(issues: IssueCollector, value: unknown): PolicyNotifications | undefined {
  if (value === undefined) return undefined;
  const body = issues.object(value, "notifications", ["jobSucceeded"]);
  return { jobSucceeded: issues.boolean(body.jobSucceeded, "notifications.jobSucceeded", false) };
}

/**
 * Microsoft's support matrix ("Limitation"): "Only one weekly backup is currently supported. If multiple vaulted
 * backups are scheduled in a week, only the first backup operation of the week is executed, and the subsequent
 * backup jobs in the same week fail." (`backup-azure-database-postgresql-flex-support-matrix.md`). A
 * `flexibleServer` policy therefore has one interval, and its period is a week.
 */
const flexWeeklyLimit =
  "a Flexible Server's long-term-retention backup runs at most once a week (Azure runs the first backup of a week and fails later ones), " +
  "so a 'flexibleServer' policy has exactly one interval with period P1W";

function checkFlexServerFrequency(issues: IssueCollector, intervals: readonly RepeatingInterval[]): void {
  if (intervals.length > 1) issues.add("schedule.repeatingIntervals", flexWeeklyLimit);
  intervals.forEach((interval, index) => {
    if (interval.period.unit !== "week") issues.add(join("schedule.repeatingIntervals", index), flexWeeklyLimit);
  });
}

const maxRpoGraceMs = 7 * 86_400_000;

/**
 * The optional RPO (issue 26): `rpo` from P1D to P1Y, which the schedule must be able to meet, or `rpoGrace` (PT0M
 * to P7D) added to the schedule's longest gap when the RPO is derived; not both.
 */
function readRpo(issues: IssueCollector, rpoValue: unknown, graceValue: unknown, schedule: Schedule | undefined): Pick<BackupPolicy, "rpo" | "rpoGrace"> {
  const rpo = issues.string(rpoValue, "rpo", { optional: true });
  const rpoGrace = issues.string(graceValue, "rpoGrace", { optional: true });
  const read: Pick<BackupPolicy, "rpo" | "rpoGrace"> = {};
  if (rpo !== undefined) {
    const duration = parseDuration(rpo);
    const days = duration && approximateDays(duration);
    if (days === undefined || days < 1 || days > 365.2425) {
      issues.add("rpo", "must be an ISO 8601 duration of years, months, weeks and days from P1D to P1Y, e.g. P1D");
    } else if (schedule) {
      const now = new Date();
      const gap = longestSlotGapMs(schedule, now);
      if (addDuration(now, duration!).getTime() - now.getTime() < gap) {
        issues.add("rpo", `${quoted(rpo)} is shorter than the schedule's longest gap between two backups (${formatTimeDuration(gap)}): the schedule cannot meet it`);
      } else read.rpo = rpo;
    }
  }
  if (rpoGrace !== undefined) {
    const ms = parseTimeDuration(rpoGrace);
    if (ms === undefined || ms > maxRpoGraceMs) issues.add("rpoGrace", "must be an ISO 8601 duration of days, hours and minutes from PT0M to P7D, e.g. PT1H");
    else if (rpo !== undefined) issues.add("rpoGrace", "applies only to an RPO derived from the schedule: with 'rpo' set, leave it out");
    else read.rpoGrace = rpoGrace;
  }
  return read;
}

/** Validates a PUT body against the full policy schema (SPEC sections 2-3), reporting every issue at once. */
export function parsePolicy(name: string, body: unknown): BackupPolicy {
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["datasourceType", "schedule", "retention", "encryption", "compression", "verification", "rpo", "rpoGrace", "notifications"]);
  const datasourceType = issues.oneOf(root.datasourceType, "datasourceType", datasourceTypes);

  const schedule = issues.object(root.schedule, "schedule", ["repeatingIntervals", "timeZone"]);
  const intervals = issues.array(schedule.repeatingIntervals, "schedule.repeatingIntervals", 1, 24);
  const repeatingIntervals: string[] = [];
  const parsedIntervals: RepeatingInterval[] = [];
  intervals.forEach((item, index) => {
    const path = join("schedule.repeatingIntervals", index);
    if (typeof item !== "string") return issues.add(path, "must be a string");
    const parsed = parseRepeatingInterval(item);
    if (typeof parsed === "string") return issues.add(path, parsed);
    repeatingIntervals.push(item);
    parsedIntervals.push(parsed);
  });
  if (datasourceType === "flexibleServer") checkFlexServerFrequency(issues, parsedIntervals);
  const timeZone = issues.string(schedule.timeZone, "schedule.timeZone", { optional: true }) ?? "UTC";
  if (!isValidTimeZone(timeZone)) issues.add("schedule.timeZone", `${quoted(timeZone)} is not an IANA time zone`);

  const retention = issues.object(root.retention, "retention", ["default", "rules"]);
  const defaultRule = issues.object(retention.default, "retention.default", ["duration"]);
  const defaultDuration = retentionDuration(issues, defaultRule.duration, "retention.default.duration");
  const rules = readRules(issues, retention.rules, "retention.rules");
  const encryption = readEncryption(issues, root.encryption, datasourceType);
  const compression = readCompression(issues, root.compression, datasourceType);
  const verification = readVerification(issues, root.verification);
  const scheduleRead = repeatingIntervals.length === intervals.length && repeatingIntervals.length > 0 && isValidTimeZone(timeZone);
  const rpo = readRpo(issues, root.rpo, root.rpoGrace, scheduleRead ? { repeatingIntervals, timeZone } : undefined);
  const notifications = readNotifications(issues, root.notifications);

  issues.throwIfAny();
  return {
    name,
    datasourceType: datasourceType!,
    schedule: { repeatingIntervals, timeZone },
    retention: { default: { duration: defaultDuration! }, rules },
    ...(encryption ? { encryption } : {}),
    ...(compression ? { compression } : {}),
    ...(verification ? { verification } : {}),
    ...rpo,
    ...(notifications ? { notifications } : {}),
  };
}

/** The preview's `from` query parameter (an ISO date-time with a zone); absent: now. */
export function parsePreviewFrom(value: string | null, now = new Date()): Date {
  const issues = new IssueCollector();
  const from = issues.dateTime(value, "from");
  issues.throwIfAny();
  return from === undefined ? now : new Date(from);
}
