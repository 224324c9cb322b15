/**
 * One scheduler tick: read the catalog and the slot claims once (paged queries, no per-instance reads), decide
 * which backups are due, open a run, claim them (one transaction per 100), start their orchestrations with
 * deterministic ids, record the starts that failed, and close the run (slotClaims.ts). A claim whose start never
 * happened (a failed start, or the host died in between and left its run open) is recovered by a later tick after
 * a grace period: the orchestration is started if it does not exist yet.
 */
import { randomUUID } from "node:crypto";
import { readFleetCatalog, type FleetCatalog } from "../catalog/catalog";
import type { BackupPolicy } from "../domain";
import { dueBackups, type DueBackup } from "./dueBackups";
import { startDueVerifications, type DueVerification, type VerificationTickResult } from "./dueVerifications";
import { claimSlots, closeRun, dropLegacyClaims, openRun, readClaims, readOpenRuns, recordStarts, type SlotRow } from "./slotClaims";

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

/** Claims of the current slots whose start may not have happened: marked unstarted, or of a run left open, past the grace period. */
function claimsInDoubt(current: readonly DueBackup[], claims: ReadonlyMap<string, SlotRow>, staleRuns: ReadonlySet<string>, now: Date): DueBackup[] {
  return current.filter((d) => {
    const claim = claims.get(d.instanceName);
    if (!claim || claim.jobId !== d.jobId) return false;
    if (claim.runId !== undefined && staleRuns.has(claim.runId)) return true;
    return !claim.started && now.getTime() - Date.parse(claim.claimedAt) > startGraceMs;
  });
}

/** `catalog`: the instances and policies when the caller has read them already (the timer, for the health evaluation too). */
export async function schedulerTick(now: Date, port: SchedulerPort, catalog?: FleetCatalog): Promise<TickResult> {
  const [{ instances, policies: policyList }, claims, openRuns] = await Promise.all([catalog ?? readFleetCatalog(), readClaims(), readOpenRuns()]);
  const policies = new Map<string, BackupPolicy>(policyList.map((p) => [p.name, p]));
  const claimedSlots = new Map([...claims].map(([name, claim]) => [name, claim.lastSlot]));
  const due = dueBackups(instances, policies, claimedSlots, now);
  // Not an orchestrator: a random id is fine, and two hosts' runs must not share one.
  const runId = due.length > 0 ? randomUUID() : undefined;
  if (runId) await openRun(runId, now);
  const won = runId ? await claimSlots(due, claims, now, runId) : [];

  // Claims of the current slot whose start is in doubt (a failed start, a host that died): start them if absent.
  const staleRuns = new Set([...openRuns].filter(([, openedAt]) => now.getTime() - Date.parse(openedAt) > startGraceMs).map(([id]) => id));
  const current = dueBackups(instances, policies, new Map(), now);
  const recovered: DueBackup[] = [];
  await inParallel(claimsInDoubt(current, claims, staleRuns, now), startsInFlight, async (d) => {
    if (!(await port.exists(d.jobId))) recovered.push(d);
  });

  const started: DueBackup[] = [];
  const unstarted: DueBackup[] = [];
  await inParallel([...won, ...recovered], startsInFlight, async (d) => {
    try {
      await port.start(d);
      started.push(d);
    } catch {
      unstarted.push(d); // a later tick recovers the claim after the grace period
    }
  });
  // Only then are the runs closed: if this write fails, this run stays open and a later tick checks its claims.
  const wasRecovered = new Set(recovered);
  await recordStarts(started.filter((d) => wasRecovered.has(d)), unstarted, claims, now);
  for (const id of [...(runId ? [runId] : []), ...staleRuns]) await closeRun(id);
  // The instances claimed in their shard this tick no longer need a row in the partition of versions before.
  await dropLegacyClaims(claims, [...won, ...recovered]);
  const result: TickResult = { instances: instances.length, due: due.length, started: started.length, recovered: recovered.length, lostRaces: due.length - won.length, failed: unstarted.length };
  // After the backups, with the catalog already read: drills of instances whose policy schedules them.
  const startVerification = port.startVerification?.bind(port);
  if (startVerification) result.verifications = await startDueVerifications(now, instances, policies, { startVerification, exists: (jobId) => port.exists(jobId) });
  return result;
}
