/**
 * One instance's figures in the compliance report (GET /reports/compliance, issue 26), from what the catalog holds
 * about it: its jobs started in the period and its recovery points. Pure: the reads are in complianceReport.ts.
 *
 * Definitions (docs/api.md, "Compliance report"):
 * - A point counts from its `time` once its backup recorded it (`recording` absent) until its data started to go:
 *   `deletionStartedAt` (retention's claim, kept on the `Deleted` row), or for a `Deleted` row from before that field
 *   its `purgeAfter`, else its `expiresAt` (the earliest retention could have deleted it). `SoftDeleted` points
 *   count: they restore like `Available` ones.
 * - Within RPO at instant t: some point with time <= t <= its RPO deadline (Rpo.deadline) counts at t.
 * - The figures cover the period from the instance's creation on, if that is later than `from`.
 */
import { datasourceLabel } from "../backupCenter/summary";
import { isRecorded, type BackupInstance, type BackupPolicy, type DatasourceType, type Job, type ProtectionState, type RecoveryPoint } from "../domain";
import { policyRpo, type Rpo } from "../rpo/rpo";
import { isoSeconds } from "../time/isoTime";
import { countSlots } from "../time/schedule";

export type ImmutabilityState = "Immutable" | "PartlyImmutable" | "NotImmutable" | "NoPoints";

export interface InstanceCompliance {
  instanceName: string;
  datasourceType: DatasourceType;
  datasource: string;
  protectionState: ProtectionState;
  policyName: string;
  /** The policy's RPO as of the report (`PT26H`, `P1D`); null when the policy is missing. */
  rpo: string | null;
  rpoDerived: boolean | null;
  /** Where the figures below start: `from`, or the instance's creation if later; null when it was created after the period. */
  evaluatedFrom: string | null;
  /** Share (0..1, four decimals) of [evaluatedFrom, to) that was within RPO; null without a policy or a period to evaluate. */
  withinRpoShare: number | null;
  withinRpoSeconds: number | null;
  /** The policy's slots in [evaluatedFrom, to); null when the policy is missing. */
  scheduledSlots: number | null;
  /** Backup jobs started in [from, to) that succeeded, and that failed. */
  backupsTaken: number;
  backupsFailed: number;
  /** The longest time in [evaluatedFrom, to] without a new point, the period's ends included; null when there is nothing to evaluate. */
  longestGap: { from: string; to: string; seconds: number } | null;
  /** Restore drills (Verify jobs) started in [from, to) that ended, and those that passed. */
  drillsRun: number;
  drillsPassed: number;
  /** Points restorable at the report's time. */
  restorablePoints: number;
  oldestRestorablePoint: string | null;
  newestRestorablePoint: string | null;
  immutability: { state: ImmutabilityState; immutablePoints: number; lockedPoints: number };
}

/** What the instances of one policy share in a report: its RPO, and its slot counts (most instances count from `from`). */
export interface PolicyTerms {
  rpo: Rpo;
  slots(from: Date, to: Date): number;
}

/** The policy's terms as of `now`, each slot count computed once (a derived RPO and a year's count take about 1 ms each). */
export function policyTerms(policy: BackupPolicy, now: Date): PolicyTerms {
  const counted = new Map<string, number>();
  return {
    rpo: policyRpo(policy, now),
    slots: (from, to) => {
      const key = `${from.getTime()}/${to.getTime()}`;
      const count = counted.get(key) ?? countSlots(policy.schedule, from, to);
      counted.set(key, count);
      return count;
    },
  };
}

export interface ComplianceInput {
  instance: BackupInstance;
  /** Its policy's terms; undefined when the policy is missing. */
  terms: PolicyTerms | undefined;
  /** The instance's jobs started in [from, to). */
  jobs: readonly Job[];
  /** Every recovery point row of the instance, `Deleted` ones included. */
  points: readonly RecoveryPoint[];
  from: Date;
  to: Date;
  now: Date;
}

/** [start, end) in epoch milliseconds. */
type Span = [number, number];

/** Until when the point counted as restorable; Infinity while it still does. */
export function restorableUntil(rp: RecoveryPoint): number {
  if (rp.deletionStartedAt !== undefined) return Date.parse(rp.deletionStartedAt);
  if (rp.status === "Deleted") return Date.parse(rp.purgeAfter ?? rp.expiresAt);
  return Infinity;
}

/** The points that were restorable at some time: recorded, and not claimed for deletion at their own time. */
function countedPoints(points: readonly RecoveryPoint[]): { rp: RecoveryPoint; time: number; until: number }[] {
  return points
    .filter(isRecorded)
    .map((rp) => ({ rp, time: Date.parse(rp.time), until: restorableUntil(rp) }))
    .filter((point) => point.until > point.time)
    .sort((a, b) => a.time - b.time);
}

/** How much of `window` the spans cover together. */
function coveredMs(spans: Span[], [start, end]: Span): number {
  let covered = 0;
  let reached = start;
  for (const [from, to] of spans.sort((a, b) => a[0] - b[0])) {
    const [clippedFrom, clippedTo] = [Math.max(from, reached), Math.min(to, end)];
    if (clippedTo > clippedFrom) covered += clippedTo - clippedFrom;
    reached = Math.max(reached, Math.min(to, end));
  }
  return covered;
}

function withinRpoMs(points: ReturnType<typeof countedPoints>, rpo: Rpo, window: Span): number {
  return coveredMs(
    points.map(({ time, until }): Span => [time, Math.min(until, rpo.deadline(new Date(time)).getTime())]),
    window,
  );
}

function longestGap(times: readonly number[], [start, end]: Span): InstanceCompliance["longestGap"] {
  const marks = [start, ...times.filter((time) => time > start && time < end), end];
  let [from, to] = [start, start];
  for (let i = 1; i < marks.length; i++) if (marks[i]! - marks[i - 1]! > to - from) [from, to] = [marks[i - 1]!, marks[i]!];
  return { from: isoSeconds(new Date(from)), to: isoSeconds(new Date(to)), seconds: Math.floor((to - from) / 1000) };
}

function immutabilityOf(restorable: readonly RecoveryPoint[], now: Date): InstanceCompliance["immutability"] {
  const immutable = restorable.filter((rp) => rp.immutableUntil !== undefined && Date.parse(rp.immutableUntil) > now.getTime());
  const lockedPoints = immutable.filter((rp) => rp.immutabilityMode === "Locked").length;
  const state: ImmutabilityState =
    restorable.length === 0 ? "NoPoints" : immutable.length === restorable.length ? "Immutable" : immutable.length > 0 ? "PartlyImmutable" : "NotImmutable";
  return { state, immutablePoints: immutable.length, lockedPoints };
}

const countJobs = (jobs: readonly Job[], operation: Job["operation"], statuses: readonly Job["status"][]) =>
  jobs.filter((job) => job.operation === operation && statuses.includes(job.status)).length;

export function instanceCompliance({ instance, terms, jobs, points, from, to, now }: ComplianceInput): InstanceCompliance {
  const counted = countedPoints(points);
  const start = Math.max(from.getTime(), Date.parse(instance.createdAt));
  const window: Span | undefined = start < to.getTime() ? [start, to.getTime()] : undefined;
  const rpo = terms?.rpo;
  const withinMs = rpo && window ? withinRpoMs(counted, rpo, window) : undefined;
  const restorable = counted.filter((point) => point.until === Infinity).map((point) => point.rp);
  return {
    instanceName: instance.name,
    datasourceType: instance.datasource.type,
    datasource: datasourceLabel(instance.datasource),
    protectionState: instance.protectionState,
    policyName: instance.policyName,
    rpo: rpo?.text ?? null,
    rpoDerived: rpo?.derived ?? null,
    evaluatedFrom: window ? isoSeconds(new Date(window[0])) : null,
    withinRpoShare: window && withinMs !== undefined ? Math.round((withinMs / (window[1] - window[0])) * 10_000) / 10_000 : null,
    withinRpoSeconds: withinMs === undefined ? null : Math.floor(withinMs / 1000),
    scheduledSlots: terms ? (window ? terms.slots(new Date(window[0]), new Date(window[1])) : 0) : null,
    backupsTaken: countJobs(jobs, "Backup", ["Succeeded"]),
    backupsFailed: countJobs(jobs, "Backup", ["Failed"]),
    longestGap: window ? longestGap(counted.map((point) => point.time), window) : null,
    drillsRun: countJobs(jobs, "Verify", ["Succeeded", "Failed"]),
    drillsPassed: countJobs(jobs, "Verify", ["Succeeded"]),
    restorablePoints: restorable.length,
    oldestRestorablePoint: restorable[0]?.time ?? null,
    newestRestorablePoint: restorable.at(-1)?.time ?? null,
    immutability: immutabilityOf(restorable, now),
  };
}
