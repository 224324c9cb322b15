/**
 * The fleet's RPO health as last notified (issue 26), evaluated by every scheduler tick and by the nightly
 * reconciliation, whether or not any job ran: each protected instance's health (rpo.ts) from the newest Available
 * point its summary holds, compared with its row here, and an event for each change for the worse.
 *
 * Table `instanceHealth`, partition `health`, row key the instance name: a row for each instance that is AtRisk or
 * Breached (a Healthy instance, or one that owes no RPO, has none). A row changes only when the state does (or
 * for the daily reminder while Breached), each write conditional (create-if-absent, or under the etag it was
 * read with), and an event goes out only for a write that succeeded: of two evaluations at once, one makes the
 * transition and sends its event, the other finds its write refused and leaves the instance to the next
 * evaluation. Events: `pgvault.rpo.atRisk` on entering AtRisk, `pgvault.rpo.breached` on entering Breached and
 * once a day while still Breached; none for a recovery. Their ids are made of the instance, the state and the
 * breach time (which names both the point the RPO counts from and the RPO), so a retried publish repeats the same
 * id, and a second breach after a policy's RPO changed has an id of its own.
 *
 * Reads, whatever the fleet's size: the instances, the policies, the summaries and these rows (one query each).
 * An instance without a summary of this version is counted once (its summary is kept), or, before the job index
 * is complete (no summaries are kept then), its held points are read at each evaluation.
 */
import type { TableClient } from "@azure/data-tables";
import { readFleetCatalog, type FleetCatalog } from "../catalog/catalog";
import { isCurrentSummary, readInstanceSummaries, refreshInstanceSummary, type StoredSummary } from "../catalog/instanceSummaries";
import { jobIndexBackfilled } from "../catalog/jobIndexState";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import { guarded } from "../catalog/tableAccess";
import { getReadyTableClient } from "../catalog/vaultClients";
import { newestAvailablePoint, type BackupInstance } from "../domain";
import { jobErrorFromFailure, type JobError } from "../errors";
import { instanceSubject, type PgvaultEvent } from "../events/pgvaultEvents";
import { scanInOrder } from "../orderedScan";
import { statusOf } from "../storageErrors";
import { recordRpoBreached } from "../telemetry";
import { protectedInstanceHealth, rposByPolicy, type InstanceHealth, type RpoState } from "./rpo";

const instanceHealthTable = "instanceHealth";
const partition = "health";
const dayMs = 86_400_000;
/** Instances counted or written at a time. */
const concurrency = 8;

type NotifiedState = Exclude<RpoState, "Healthy">;

/** The stored health of an instance that is not Healthy. */
export interface HealthRow {
  state: NotifiedState;
  /** What the RPO counts from (the newest Available point's time, or the instance's creation). */
  since: string;
  breachAt: string;
  /** When its last event was made: entering the state, or the daily reminder while Breached. */
  lastNotifiedAt: string;
  /**
   * The instant of the evaluation that wrote it. An evaluation of an earlier instant (the nightly run measures from
   * its start, hours before the tick that wrote the row) leaves the row alone, so no state goes back and forth.
   */
  evaluatedAt: string;
}

type StoredRow = HealthRow & { etag: string };

/** Where the events go (the caller's publisher). */
export type HealthEventSink = (events: PgvaultEvent[]) => Promise<void> | void;

export interface FleetHealthResult {
  /** Instances that owe an RPO (protection configured, policy found), by state at `now`. */
  states: Record<RpoState, number>;
  /** Rows created, changed or removed by this evaluation. */
  written: number;
  /** Rows another evaluation wrote between this one's read and write: left to it, decided again next time. */
  lostRaces: number;
  /** In the order they were decided; each also went to the sink. */
  events: PgvaultEvent[];
  /** Instances whose health could not be read or written: their rows are left as they are. */
  failed: { instanceName: string; error: JobError }[];
}

/** What an evaluation does with one instance's row. */
type HealthChange = { remove: true } | { remove?: false; row: HealthRow; event?: PgvaultEvent };

const severity: Record<RpoState, number> = { Healthy: 0, AtRisk: 1, Breached: 2 };

const client = () => getReadyTableClient(instanceHealthTable);

/** Every row, by instance name: one query of one partition. */
export async function readHealthRows(table?: TableClient): Promise<Map<string, StoredRow>> {
  const rows = table ?? (await client());
  return guarded("reading the instances' health", async () => {
    const found = new Map<string, StoredRow>();
    for await (const entity of rows.listEntities<HealthRow>({ queryOptions: { filter: `PartitionKey eq '${partition}'` } })) {
      const { state, since, breachAt, lastNotifiedAt, evaluatedAt } = entity;
      found.set(entity.rowKey!, { state, since, breachAt, lastNotifiedAt, evaluatedAt, etag: entity.etag });
    }
    return found;
  });
}

function healthMessage(instanceName: string, health: InstanceHealth): string {
  const basis = health.newestPoint ? `its newest Available recovery point is from ${health.newestPoint.time}` : `it has had no Available recovery point since protection began at ${health.since}`;
  return health.state === "Breached"
    ? `Instance '${instanceName}' is past its recovery-point objective (${health.rpo}) since ${health.breachAt}: ${basis}.`
    : `Instance '${instanceName}' is at risk of missing its recovery-point objective (${health.rpo}) at ${health.breachAt}: ${basis}.`;
}

const recommendedAction = (instanceName: string) =>
  "Check that the scheduler timer runs (its log lines, the heartbeat alert), that the policy's schedule still has slots " +
  `(nextScheduledBackup of GET /api/backupInstances/${instanceName}) and why the last backups failed ` +
  `(GET /api/jobs?instanceName=${instanceName}&operation=Backup&status=Failed); then take a backup on demand ` +
  `(POST /api/backupInstances/${instanceName}/backup).`;

/** The event of entering the state (or, with `reminderDay`, of still being Breached that UTC day). */
function rpoEvent(instanceName: string, health: InstanceHealth, now: Date, recoveryPointId: string | undefined, reminderDay?: string): PgvaultEvent {
  return {
    id: `${instanceName}/rpo/${health.state}/${health.breachAt}${reminderDay ? `/${reminderDay}` : ""}`,
    type: health.state === "Breached" ? "pgvault.rpo.breached" : "pgvault.rpo.atRisk",
    subject: instanceSubject(instanceName),
    time: now.toISOString(),
    data: {
      instanceName,
      ...(recoveryPointId ? { recoveryPointId } : {}),
      state: health.state,
      rpo: health.rpo,
      newestPointTime: health.newestPoint?.time ?? null,
      newestPointAgeSeconds: health.newestPoint?.ageSeconds ?? null,
      since: health.since,
      breachAt: health.breachAt,
      message: healthMessage(instanceName, health),
      recommendedAction: recommendedAction(instanceName),
    },
  };
}

/**
 * What to do with an instance's row at `now`, given its health (null: it owes no RPO, or no longer exists) and the
 * newest point's id; undefined: nothing.
 */
function decideHealthChange(instanceName: string, row: HealthRow | undefined, health: InstanceHealth | null, now: Date, recoveryPointId?: string): HealthChange | undefined {
  if (row && Date.parse(row.evaluatedAt) > now.getTime()) return undefined;
  if (!health || health.state === "Healthy") return row ? { remove: true } : undefined;
  const at = now.toISOString();
  if (row?.state === health.state) {
    if (health.state !== "Breached" || now.getTime() - Date.parse(row.lastNotifiedAt) < dayMs) return undefined;
    const reminded: HealthRow = { state: health.state, since: health.since, breachAt: health.breachAt, lastNotifiedAt: at, evaluatedAt: at };
    return { row: reminded, event: rpoEvent(instanceName, health, now, recoveryPointId, at.slice(0, 10)) };
  }
  // Worse (or new): its event. Better (Breached to AtRisk: a policy's RPO grew, an older point came back): none.
  const worse = !row || severity[health.state] > severity[row.state];
  const written: HealthRow = { state: health.state, since: health.since, breachAt: health.breachAt, lastNotifiedAt: worse ? at : row.lastNotifiedAt, evaluatedAt: at };
  return worse ? { row: written, event: rpoEvent(instanceName, health, now, recoveryPointId) } : { row: written };
}

/** Applies a change under the row's etag (or only if absent); false when another evaluation wrote first. */
async function applyChange(table: TableClient, instanceName: string, stored: StoredRow | undefined, change: HealthChange): Promise<boolean> {
  return guarded(`recording the health of ${instanceName}`, async () => {
    try {
      if (change.remove) await table.deleteEntity(partition, instanceName, { etag: stored!.etag });
      else {
        const entity = { partitionKey: partition, rowKey: instanceName, ...change.row };
        await (stored ? table.updateEntity(entity, "Replace", { etag: stored.etag }) : table.createEntity(entity));
      }
      return true;
    } catch (err) {
      // 409: created meanwhile; 412: changed meanwhile; 404: removed meanwhile.
      if ([404, 409, 412].includes(statusOf(err) ?? 0)) return false;
      throw err;
    }
  });
}

type NewestPoint = StoredSummary["newestAvailable"];

/**
 * The newest Available point of each protected instance: from its summary, or counted for the few without one of
 * this version (kept once the job index is complete, else read from its held points each time). Instances that
 * could not be counted are missing from the map and listed in `failed`.
 */
async function newestPoints(instances: readonly BackupInstance[], summaries: ReadonlyMap<string, StoredSummary>, failed: FleetHealthResult["failed"]): Promise<Map<string, NewestPoint>> {
  const newest = new Map<string, NewestPoint>();
  const uncounted: string[] = [];
  for (const { name, protectionState } of instances) {
    if (protectionState !== "ProtectionConfigured") continue;
    const summary = summaries.get(name);
    if (isCurrentSummary(summary)) newest.set(name, summary.newestAvailable);
    else uncounted.push(name);
  }
  if (uncounted.length === 0) return newest;
  const keep = await jobIndexBackfilled();
  const count = async (name: string): Promise<NewestPoint> => {
    // Counted as of the present whatever `now` is: the newest point does not depend on it, the job days do.
    if (keep) return (await refreshInstanceSummary(name)).newestAvailable ?? null;
    const point = newestAvailablePoint(await listRecoveryPoints(name, { heldOnly: true }));
    return point ? { id: point.id, time: point.time } : null;
  };
  await scanInOrder(
    uncounted,
    concurrency,
    (name) => count(name).then((point) => ({ point }), (err: unknown) => ({ error: jobErrorFromFailure(err) })),
    (outcome, index) => {
      const name = uncounted[index]!;
      if ("error" in outcome) failed.push({ instanceName: name, error: outcome.error });
      else newest.set(name, outcome.point);
      return "more";
    },
  );
  return newest;
}

/**
 * Evaluates every instance's health at `now` (the tick's time, or the nightly run's), records the changes and
 * hands their events to `emit` (after every row is written; also returned). A breached instance also counts once
 * in the `pgvault.rpo.breached` metric, at each evaluation.
 */
export async function evaluateFleetHealth(now: Date, emit?: HealthEventSink, catalog?: FleetCatalog): Promise<FleetHealthResult> {
  const table = await client();
  const [{ instances, policies }, summaries, rows] = await Promise.all([catalog ?? readFleetCatalog(), readInstanceSummaries(), readHealthRows(table)]);
  const result: FleetHealthResult = { states: { Healthy: 0, AtRisk: 0, Breached: 0 }, written: 0, lostRaces: 0, events: [], failed: [] };
  const newest = await newestPoints(instances, summaries, result.failed);
  const rpos = rposByPolicy(policies, now);

  const changes: { instanceName: string; change: HealthChange }[] = [];
  const decide = (instanceName: string, health: InstanceHealth | null, point?: NewestPoint) => {
    const change = decideHealthChange(instanceName, rows.get(instanceName), health, now, point?.id);
    if (change) changes.push({ instanceName, change });
  };
  const known = new Set<string>();
  for (const instance of instances) {
    known.add(instance.name);
    const point = newest.get(instance.name);
    // A protected instance that could not be counted: its health is unknown, its row stays.
    if (instance.protectionState === "ProtectionConfigured" && point === undefined) continue;
    const health = protectedInstanceHealth(instance, rpos.get(instance.policyName), point?.time ?? null, now);
    if (health) {
      result.states[health.state]++;
      if (health.state === "Breached") recordRpoBreached(instance.name);
    }
    decide(instance.name, health, point);
  }
  // Rows of instances deleted since.
  for (const name of rows.keys()) if (!known.has(name)) decide(name, null);

  await scanInOrder(
    changes,
    concurrency,
    ({ instanceName, change }) => applyChange(table, instanceName, rows.get(instanceName), change).then((applied) => ({ applied }), (err: unknown) => ({ error: jobErrorFromFailure(err) })),
    (outcome, index) => {
      const { instanceName, change } = changes[index]!;
      if ("error" in outcome) result.failed.push({ instanceName, error: outcome.error });
      else if (!outcome.applied) result.lostRaces++;
      else {
        result.written++;
        if (!change.remove && change.event) result.events.push(change.event);
      }
      return "more";
    },
  );
  if (emit && result.events.length > 0) await emit(result.events);
  return result;
}
