/**
 * Which slot each instance's scheduler last claimed, in the vault table `schedulerSlots`. A claim is an
 * optimistic-concurrency write (ETag, or create-if-absent): of two ticks or hosts racing for the same slot,
 * exactly one wins and starts the backup.
 *
 * The rows are spread over 16 partitions (`slot-00` to `slot-15`, by a hash of the instance name): Azure Table
 * storage serves about 2,000 entities a second per partition (Microsoft Learn, "Scalability and performance
 * targets for Table storage"), so 10,000 claims in one partition take 5 s or more, in 16 they are written side by
 * side, 100 per transaction. Versions before wrote one partition, `slot`: its rows are still read (a slot claimed
 * there stays claimed) and removed once the instance has a row of its own in a shard.
 *
 * Each claim is written once. A tick that claims opens a run first (a row in partition `runs`), writes its claims
 * with the run's id and `started: true`, starts the orchestrations, records the few starts that failed
 * (`started: false`) and closes the run (deletes its row). A run still open after the grace period is one whose
 * host died between its claims and its starts: its claims are in doubt, and a later tick starts those whose
 * orchestration does not exist. Versions before wrote `started: false` with the claim and every claim again once
 * started: two writes per due slot (10,000 due: 224 transactions instead of 112, docs/benchmarks.md).
 */
import type { TransactionAction } from "@azure/data-tables";
import { statusOf, storageFailure } from "../storageErrors";
import { nameShard } from "../catalog/nameShard";
import { getReadyTableClient } from "../catalog/vaultClients";
import type { DueBackup } from "./dueBackups";

export const slotTable = "schedulerSlots";
/** The one partition of versions before the shards. */
const legacyPartition = "slot";
const runsPartition = "runs";
const shardCount = 16;
const transactionLimit = 100;
/** Transactions in flight at once: enough to keep the shards busy, few enough for one host's sockets. */
const transactionsInFlight = 8;

/** The instance's shard (catalog/nameShard.ts), the same on every host. */
export function slotPartition(instanceName: string): string {
  return `slot-${String(nameShard(instanceName, shardCount)).padStart(2, "0")}`;
}

const shards = Array.from({ length: shardCount }, (_, i) => `slot-${String(i).padStart(2, "0")}`);

export interface SlotRow {
  lastSlot: string;
  /**
   * False when the start failed (or, in rows of versions before, between the claim and the start); true otherwise,
   * unless the claim's run is still open after the grace period.
   */
  started: boolean;
  /** The run that claimed it; absent in rows of versions before. */
  runId?: string;
  claimedAt: string;
  jobId: string;
  etag: string;
  /** Read from the partition of versions before the shards: the instance has no row of its own yet. */
  legacy?: boolean;
}

const table = () => getReadyTableClient(slotTable);

/** Every instance's last claimed slot: each shard and the legacy partition, read side by side. */
export async function readClaims(): Promise<Map<string, SlotRow>> {
  const client = await table();
  const claims = new Map<string, SlotRow>();
  const read = async (partition: string) => {
    const rows = client.listEntities<Omit<SlotRow, "etag">>({ queryOptions: { filter: `PartitionKey eq '${partition}'` } });
    for await (const row of rows) {
      const legacy = partition === legacyPartition;
      // A shard's row is the claim; the legacy row only until there is one.
      if (legacy && claims.has(row.rowKey!)) continue;
      const runId = row.runId ? { runId: row.runId } : {};
      claims.set(row.rowKey!, { lastSlot: row.lastSlot, started: row.started, claimedAt: row.claimedAt, jobId: row.jobId, etag: row.etag, ...runId, ...(legacy ? { legacy } : {}) });
    }
  };
  try {
    await Promise.all(shards.map(read));
    await read(legacyPartition);
  } catch (err) {
    throw storageFailure(err, `reading table '${slotTable}'`);
  }
  return claims;
}

/** Runs `work` over `items`, a few at a time. */
async function inFlight<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(transactionsInFlight, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/** `items` grouped by their instance's shard, in transactions of at most 100. */
function batchesByShard<T>(items: readonly T[], instanceOf: (item: T) => string): T[][] {
  const byShard = new Map<string, T[]>();
  for (const item of items) {
    const shard = slotPartition(instanceOf(item));
    const list = byShard.get(shard);
    if (list) list.push(item);
    else byShard.set(shard, [item]);
  }
  return [...byShard.values()].flatMap((list) => Array.from({ length: Math.ceil(list.length / transactionLimit) }, (_, i) => list.slice(i * transactionLimit, (i + 1) * transactionLimit)));
}

function claimAction(due: DueBackup, existing: SlotRow | undefined, now: Date, runId: string): TransactionAction {
  const entity = {
    partitionKey: slotPartition(due.instanceName),
    rowKey: due.instanceName,
    lastSlot: due.slot.toISOString(),
    jobId: due.jobId,
    started: true,
    runId,
    claimedAt: now.toISOString(),
  };
  // A legacy row is another partition's: the instance's first claim in its shard is a create.
  return existing && !existing.legacy ? ["update", entity, "Replace", { etag: existing.etag }] : ["create", entity];
}

/**
 * Claims the slots; returns the ones this caller won. A batch that loses any race (412 or 409) is retried one
 * claim at a time, so a single lost race never costs the other claims of its batch.
 */
export async function claimSlots(due: readonly DueBackup[], claims: ReadonlyMap<string, SlotRow>, now: Date, runId: string): Promise<DueBackup[]> {
  const client = await table();
  const won: DueBackup[] = [];
  const lostRace = (status: number | undefined) => status === 409 || status === 412 || status === 400;
  await inFlight(batchesByShard(due, (d) => d.instanceName), async (batch) => {
    try {
      await client.submitTransaction(batch.map((d) => claimAction(d, claims.get(d.instanceName), now, runId)));
      won.push(...batch);
    } catch (err) {
      if (!lostRace(statusOf(err))) throw storageFailure(err, "claiming schedule slots");
      for (const single of batch) {
        try {
          await client.submitTransaction([claimAction(single, claims.get(single.instanceName), now, runId)]);
          won.push(single);
        } catch (singleErr) {
          if (!lostRace(statusOf(singleErr))) throw storageFailure(singleErr, "claiming a schedule slot");
        }
      }
    }
  });
  return won;
}

/**
 * Records how the starts of claims in doubt or of failed starts ended: `started` (recovered claims) and
 * `unstarted` (starts that failed: a later tick recovers them after the grace period). The whole claim is written
 * again without its run (no ETag: the claim is already ours), so one recovered from the legacy partition gets its
 * row in its shard. A tick's own successful starts need no write: its claims say `started` already.
 */
export async function recordStarts(started: readonly DueBackup[], unstarted: readonly DueBackup[], claims: ReadonlyMap<string, SlotRow>, now: Date): Promise<void> {
  const client = await table();
  const outcomes = [...started.map((due) => ({ due, started: true })), ...unstarted.map((due) => ({ due, started: false }))];
  await inFlight(batchesByShard(outcomes, (o) => o.due.instanceName), async (batch) => {
    const actions: TransactionAction[] = batch.map(({ due: d, started: s }) => [
      "upsert",
      { partitionKey: slotPartition(d.instanceName), rowKey: d.instanceName, lastSlot: d.slot.toISOString(), jobId: d.jobId, started: s, claimedAt: claims.get(d.instanceName)?.claimedAt ?? now.toISOString() },
      "Replace",
    ]);
    try {
      await client.submitTransaction(actions);
    } catch (err) {
      throw storageFailure(err, "recording schedule slot starts");
    }
  });
}

/** Every open run (see the top of this file): its id and when it was opened. */
export async function readOpenRuns(): Promise<Map<string, string>> {
  const client = await table();
  const runs = new Map<string, string>();
  try {
    for await (const row of client.listEntities<{ openedAt: string }>({ queryOptions: { filter: `PartitionKey eq '${runsPartition}'` } })) runs.set(row.rowKey!, row.openedAt);
  } catch (err) {
    throw storageFailure(err, `reading table '${slotTable}'`);
  }
  return runs;
}

/** Opens a run before its claims are written. */
export async function openRun(runId: string, now: Date): Promise<void> {
  const client = await table();
  try {
    await client.createEntity({ partitionKey: runsPartition, rowKey: runId, openedAt: now.toISOString() });
  } catch (err) {
    throw storageFailure(err, "opening a scheduler run");
  }
}

/** Closes a run: its claims' starts are settled (its own, or by a tick that recovered them). */
export async function closeRun(runId: string): Promise<void> {
  const client = await table();
  try {
    await client.deleteEntity(runsPartition, runId);
  } catch (err) {
    if (statusOf(err) !== 404) throw storageFailure(err, "closing a scheduler run");
  }
}

/** Removes the legacy rows of instances that now have a row in their shard (`claimed`), 100 per transaction. */
export async function dropLegacyClaims(claims: ReadonlyMap<string, SlotRow>, claimed: readonly DueBackup[]): Promise<void> {
  const client = await table();
  const names = claimed.map((d) => d.instanceName).filter((name) => claims.get(name)?.legacy);
  const batches = Array.from({ length: Math.ceil(names.length / transactionLimit) }, (_, i) => names.slice(i * transactionLimit, (i + 1) * transactionLimit));
  await inFlight(batches, async (batch) => {
    try {
      await client.submitTransaction(batch.map((name): TransactionAction => ["delete", { partitionKey: legacyPartition, rowKey: name }]));
    } catch (err) {
      // Some were gone already (another tick's): the rest go at their instance's next claim.
      if (statusOf(err) !== 404) throw storageFailure(err, "removing legacy schedule slot rows");
    }
  });
}
