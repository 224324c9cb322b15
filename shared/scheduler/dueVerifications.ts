/**
 * Scheduled restore drills (a policy's `verification.interval`): a scheduler tick starts a drill of an instance's
 * latest Available recovery point once the instance's last drill (its newest `verification.verifiedAt`, on any of
 * its points) is older than the interval, or it never had one. A drill that could not reach a verdict (no CREATEDB,
 * server down) records nothing on the point: the next one is then due an interval after it was started, not at
 * the next tick.
 *
 * Like backup slots, each drill is claimed first (a row in the scheduler's table, partition `verify`, under its
 * ETag: of two ticks or hosts exactly one wins) and started under a deterministic id, `verify-scheduled-<instance>-
 * <due time, YYYYMMDDTHHMM>Z`. The claim also says when the instance next needs a look (`nextCheckAt`), so a tick
 * reads the recovery points only of instances that may be due: about once per interval each.
 */
import type { TableEntityResult } from "@azure/data-tables";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import type { BackupInstance, BackupPolicy, RecoveryPoint } from "../domain";
import { addDuration, parseDuration, type CalendarDuration } from "../time/isoDuration";
import { statusOf, storageFailure } from "../storageErrors";
import { getReadyTableClient } from "../catalog/vaultClients";
import { drillSubjectOf, type DrillSubject } from "../verify/drillServer";
import { slotTable } from "./slotClaims";

const partition = "verify";
/** How long a claim may stay unstarted before a later tick starts it (its host died in between). */
const startGraceMs = 2 * 60_000;
const readsInFlight = 8;

/** A drill to start: the instance's datasource (and a Flexible Server's drill server), the point, when and under which id. */
export type DueVerification = {
  instanceName: string;
  recoveryPoint: RecoveryPoint;
  /** When the drill became due; its job id is made of it. */
  dueAt: Date;
  jobId: string;
} & DrillSubject;

export interface VerificationClaim {
  /** The due time of the last drill claimed (ISO); empty when none was (the row only remembers `nextCheckAt`). */
  lastDueAt: string;
  jobId: string;
  /** False between the claim and the successful start of the orchestration. */
  started: boolean;
  claimedAt: string;
  /** Before this (ISO), the instance is not due: its recovery points need not be read. */
  nextCheckAt: string;
  /** The interval `nextCheckAt` was computed with; another one (a changed policy) looks again at once. */
  interval: string;
  etag: string;
}

/** `verify-scheduled-<instance>-<YYYYMMDDTHHMM>Z`: distinct from backup ids (`scheduled-`, `backup-`) and on-demand drills (`verify-<instance>-<seconds>-<hex>`). */
export function scheduledVerifyJobId(instanceName: string, dueAt: Date): string {
  return `verify-scheduled-${instanceName}-${dueAt.toISOString().replace(/[-:]/g, "").slice(0, 13)}Z`;
}

export type VerificationDecision =
  | { due: true; dueAt: Date; recoveryPoint: RecoveryPoint }
  | { due: false; nextCheckAt?: Date };

/**
 * Pure: whether a drill of the instance is due at `now`, given its recovery points and its claim. Due at the later
 * of (newest verification + interval, or the latest point's time when none) and (last claimed due time + interval).
 */
export function decideVerification(interval: CalendarDuration, rps: readonly RecoveryPoint[], claim: Pick<VerificationClaim, "lastDueAt"> | undefined, now: Date): VerificationDecision {
  const latest = latestVerifiablePoint(rps);
  if (!latest) return { due: false };
  const verifiedAt = rps.map((rp) => rp.verification?.verifiedAt).filter((t): t is string => t !== undefined).sort().at(-1);
  const candidates = [verifiedAt ? addDuration(new Date(verifiedAt), interval) : new Date(latest.time)];
  if (claim?.lastDueAt) candidates.push(addDuration(new Date(claim.lastDueAt), interval));
  const dueAt = new Date(Math.max(...candidates.map((d) => d.getTime())));
  return dueAt.getTime() <= now.getTime() ? { due: true, dueAt, recoveryPoint: latest } : { due: false, nextCheckAt: dueAt };
}

/** The newest Available point (a `database` instance's dump, a Flexible Server instance's server backup): what a scheduled drill verifies. */
export function latestVerifiablePoint(rps: readonly RecoveryPoint[]): RecoveryPoint | undefined {
  return rps.filter((rp) => rp.status === "Available").sort((a, b) => b.id.localeCompare(a.id))[0];
}

const table = () => getReadyTableClient(slotTable);

export async function readVerificationClaims(): Promise<Map<string, VerificationClaim>> {
  const client = await table();
  const claims = new Map<string, VerificationClaim>();
  try {
    for await (const row of client.listEntities<Omit<VerificationClaim, "etag">>({ queryOptions: { filter: `PartitionKey eq '${partition}'` } })) {
      const { lastDueAt, jobId, started, claimedAt, nextCheckAt, interval, etag } = row as TableEntityResult<Omit<VerificationClaim, "etag">>;
      claims.set(row.rowKey!, { lastDueAt, jobId, started, claimedAt, nextCheckAt, interval, etag });
    }
  } catch (err) {
    throw storageFailure(err, `reading table '${slotTable}'`);
  }
  return claims;
}

/** One ETag-checked write of the instance's claim row; false when another tick wrote it first. */
async function writeClaim(instanceName: string, fields: Omit<VerificationClaim, "etag">, existing: VerificationClaim | undefined): Promise<boolean> {
  const client = await table();
  const entity = { partitionKey: partition, rowKey: instanceName, ...fields };
  try {
    if (existing) await client.updateEntity(entity, "Replace", { etag: existing.etag });
    else await client.createEntity(entity);
    return true;
  } catch (err) {
    const status = statusOf(err);
    if (status === 409 || status === 412) return false;
    throw storageFailure(err, `claiming the scheduled drill of '${instanceName}'`);
  }
}

async function markStarted(instanceName: string): Promise<void> {
  const client = await table();
  try {
    await client.updateEntity({ partitionKey: partition, rowKey: instanceName, started: true }, "Merge");
  } catch (err) {
    throw storageFailure(err, `recording the started drill of '${instanceName}'`);
  }
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

export interface VerificationPort {
  /** Starts the verify orchestration under `due.jobId`. */
  startVerification(due: DueVerification): Promise<void>;
  /** Whether an orchestration with this id exists (any status). */
  exists(jobId: string): Promise<boolean>;
}

export interface VerificationTickResult {
  /** Instances whose policy schedules drills. */
  scheduled: number;
  due: number;
  started: number;
  recovered: number;
  lostRaces: number;
  failed: number;
}

/**
 * The drills part of a scheduler tick, with the instances and policies the tick already read: claims due drills and
 * starts them, and starts claimed ones whose start was lost.
 */
export async function startDueVerifications(
  now: Date,
  instances: readonly BackupInstance[],
  policies: ReadonlyMap<string, BackupPolicy>,
  port: VerificationPort,
): Promise<VerificationTickResult> {
  const result: VerificationTickResult = { scheduled: 0, due: 0, started: 0, recovered: 0, lostRaces: 0, failed: 0 };
  const withDrills = instances.flatMap((instance) => {
    const interval = policies.get(instance.policyName)?.verification?.interval;
    const duration = interval && parseDuration(interval);
    // A Flexible Server instance without a drill server cannot be drilled: its policy's interval waits for one.
    const subject = drillSubjectOf(instance);
    if (instance.protectionState !== "ProtectionConfigured" || !subject || !duration) return [];
    return [{ instance, subject, interval, duration }];
  });
  result.scheduled = withDrills.length;
  if (withDrills.length === 0) return result;
  const claims = await readVerificationClaims();
  const toStart: { due: DueVerification; recovered: boolean }[] = [];
  const candidates = withDrills.filter(({ instance, interval }) => {
    const claim = claims.get(instance.name);
    const lost = claim && !claim.started && now.getTime() - Date.parse(claim.claimedAt) > startGraceMs;
    return !claim || lost || claim.interval !== interval || Date.parse(claim.nextCheckAt) <= now.getTime();
  });
  await inParallel(candidates, readsInFlight, async ({ instance, subject, interval, duration }) => {
    const claim = claims.get(instance.name);
    const rps = await listRecoveryPoints(instance.name);
    if (claim && !claim.started && now.getTime() - Date.parse(claim.claimedAt) > startGraceMs) {
      // Claimed by a tick whose start never happened: start it now, if it really does not exist.
      const latest = latestVerifiablePoint(rps);
      if (latest && !(await port.exists(claim.jobId))) {
        toStart.push({ due: { instanceName: instance.name, ...subject, recoveryPoint: latest, dueAt: new Date(claim.lastDueAt), jobId: claim.jobId }, recovered: true });
      }
      return;
    }
    const decision = decideVerification(duration, rps, claim, now);
    if (!decision.due) {
      // Remember when to look again, so the next ticks need not read this instance's points (a lost race is fine).
      if (decision.nextCheckAt) {
        const remembered = claim ? withoutEtag(claim) : { lastDueAt: "", jobId: "", started: true, claimedAt: now.toISOString() };
        await writeClaim(instance.name, { ...remembered, nextCheckAt: decision.nextCheckAt.toISOString(), interval }, claim);
      }
      return;
    }
    result.due++;
    const jobId = scheduledVerifyJobId(instance.name, decision.dueAt);
    const fields = {
      lastDueAt: decision.dueAt.toISOString(),
      jobId,
      started: false,
      claimedAt: now.toISOString(),
      nextCheckAt: addDuration(decision.dueAt, duration).toISOString(),
      interval,
    };
    if (!(await writeClaim(instance.name, fields, claim))) {
      result.lostRaces++;
      return;
    }
    toStart.push({ due: { instanceName: instance.name, ...subject, recoveryPoint: decision.recoveryPoint, dueAt: decision.dueAt, jobId }, recovered: false });
  });
  await inParallel(toStart, readsInFlight, async ({ due, recovered }) => {
    try {
      await port.startVerification(due);
    } catch {
      result.failed++; // left unstarted: a later tick starts it after the grace period
      return;
    }
    result.started++;
    if (recovered) result.recovered++;
    await markStarted(due.instanceName);
  });
  return result;
}

function withoutEtag(claim: VerificationClaim): Omit<VerificationClaim, "etag"> {
  const { etag: _etag, ...fields } = claim;
  return fields;
}
