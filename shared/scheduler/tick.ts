/**
 * One scheduler tick: read the catalog and the slot claims once (paged queries, no per-instance reads), decide
 * which backups are due, claim them (one transaction per 100), start their orchestrations with deterministic
 * ids, and record the starts. A claim whose start never happened (the host died in between) is recovered by a
 * later tick after a grace period: the orchestration is started if it does not exist yet.
 */
import { listInstances, listPolicies } from "../catalog/catalog";
import type { BackupPolicy } from "../domain";
import { dueBackups, type DueBackup } from "./dueBackups";
import { startDueVerifications, type DueVerification, type VerificationTickResult } from "./dueVerifications";
import { claimSlots, dropLegacyClaims, markStarted, readClaims, type SlotRow } from "./slotClaims";

export interface SchedulerPort {
  /** Starts the backup orchestration under `jobId`. */
  start(due: DueBackup): Promise<void>;
  /** Whether an orchestration with this id exists (any status). */
  exists(jobId: string): Promise<boolean>;
  /** Starts the verify orchestration of a scheduled restore drill under `due.jobId`; without it, no drills are scheduled. */
  startVerification?(due: DueVerification): Promise<void>;
}

export interface TickResult {
  instances: number;
  due: number;
  started: number;
  recovered: number;
  lostRaces: number;
  failed: number;
  /** Scheduled restore drills (policies with `verification`), when the port starts them. */
  verifications?: VerificationTickResult;
}

/** How long a claim may stay unstarted before another tick recovers it. */
const startGraceMs = 2 * 60_000;
const startsInFlight = 16;

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

function unstartedClaims(due: readonly DueBackup[], claims: ReadonlyMap<string, SlotRow>, now: Date): DueBackup[] {
  return due.filter((d) => {
    const claim = claims.get(d.instanceName);
    return claim && !claim.started && claim.jobId === d.jobId && now.getTime() - Date.parse(claim.claimedAt) > startGraceMs;
  });
}

export async function schedulerTick(now: Date, port: SchedulerPort): Promise<TickResult> {
  const [instances, policyList, claims] = await Promise.all([listInstances(), listPolicies(), readClaims()]);
  const policies = new Map<string, BackupPolicy>(policyList.map((p) => [p.name, p]));
  const claimedSlots = new Map([...claims].map(([name, claim]) => [name, claim.lastSlot]));
  const due = dueBackups(instances, policies, claimedSlots, now);
  const won = await claimSlots(due, claims, now);

  // Claims of the current slot that were never started (their host died): start them if they are really absent.
  const current = dueBackups(instances, policies, new Map(), now);
  const orphaned = unstartedClaims(current, claims, now);
  const recovered: DueBackup[] = [];
  await inParallel(orphaned, startsInFlight, async (d) => {
    if (!(await port.exists(d.jobId))) recovered.push(d);
  });

  const started: DueBackup[] = [];
  let failed = 0;
  await inParallel([...won, ...recovered], startsInFlight, async (d) => {
    try {
      await port.start(d);
      started.push(d);
    } catch {
      failed++; // left unstarted: a later tick recovers the claim after the grace period
    }
  });
  await markStarted(started, claims, now);
  // The instances claimed in their shard this tick no longer need a row in the partition of versions before.
  await dropLegacyClaims(claims, [...won, ...recovered]);
  const result: TickResult = { instances: instances.length, due: due.length, started: started.length, recovered: recovered.length, lostRaces: due.length - won.length, failed };
  // After the backups, with the catalog already read: drills of instances whose policy schedules them.
  const startVerification = port.startVerification?.bind(port);
  if (startVerification) result.verifications = await startDueVerifications(now, instances, policies, { startVerification, exists: (jobId) => port.exists(jobId) });
  return result;
}
