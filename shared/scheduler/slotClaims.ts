/**
 * Which slot each instance's scheduler last claimed, in the vault table `schedulerSlots` (one partition, so 100
 * claims commit in one transaction). A claim is an optimistic-concurrency write (ETag, or create-if-absent):
 * of two ticks or hosts racing for the same slot, exactly one wins and starts the backup.
 */
import type { TransactionAction } from "@azure/data-tables";
import { statusOf, storageFailure } from "../storageErrors";
import { getReadyTableClient } from "../catalog/vaultClients";
import type { DueBackup } from "./dueBackups";

export const slotTable = "schedulerSlots";
const partition = "slot";
const transactionLimit = 100;

export interface SlotRow {
  lastSlot: string;
  /** False between the claim and the successful start of the orchestration. */
  started: boolean;
  claimedAt: string;
  jobId: string;
  etag: string;
}

const table = () => getReadyTableClient(slotTable);

/** Every instance's last claimed slot, in one paged query. */
export async function readClaims(): Promise<Map<string, SlotRow>> {
  const client = await table();
  const claims = new Map<string, SlotRow>();
  try {
    const rows = client.listEntities<Omit<SlotRow, "etag">>({ queryOptions: { filter: `PartitionKey eq '${partition}'` } });
    for await (const row of rows) {
      claims.set(row.rowKey!, { lastSlot: row.lastSlot, started: row.started, claimedAt: row.claimedAt, jobId: row.jobId, etag: row.etag });
    }
  } catch (err) {
    throw storageFailure(err, `reading table '${slotTable}'`);
  }
  return claims;
}

function claimAction(due: DueBackup, existing: SlotRow | undefined, now: Date): TransactionAction {
  const entity = {
    partitionKey: partition,
    rowKey: due.instanceName,
    lastSlot: due.slot.toISOString(),
    jobId: due.jobId,
    started: false,
    claimedAt: now.toISOString(),
  };
  return existing ? ["update", entity, "Replace", { etag: existing.etag }] : ["create", entity];
}

/**
 * Claims the slots; returns the ones this caller won. A batch that loses any race (412 or 409) is retried one
 * claim at a time, so a single lost race never costs the other claims of its batch.
 */
export async function claimSlots(due: readonly DueBackup[], claims: ReadonlyMap<string, SlotRow>, now: Date): Promise<DueBackup[]> {
  const client = await table();
  const won: DueBackup[] = [];
  for (let start = 0; start < due.length; start += transactionLimit) {
    const batch = due.slice(start, start + transactionLimit);
    try {
      await client.submitTransaction(batch.map((d) => claimAction(d, claims.get(d.instanceName), now)));
      won.push(...batch);
    } catch (err) {
      const status = statusOf(err);
      if (status !== 409 && status !== 412 && status !== 400) throw storageFailure(err, "claiming schedule slots");
      for (const single of batch) {
        try {
          await client.submitTransaction([claimAction(single, claims.get(single.instanceName), now)]);
          won.push(single);
        } catch (singleErr) {
          const singleStatus = statusOf(singleErr);
          if (singleStatus !== 409 && singleStatus !== 412 && singleStatus !== 400) throw storageFailure(singleErr, "claiming a schedule slot");
        }
      }
    }
  }
  return won;
}

/** Records that the claimed slots' orchestrations were started (merge, no ETag: the claim is already ours). */
export async function markStarted(started: readonly DueBackup[]): Promise<void> {
  const client = await table();
  for (let start = 0; start < started.length; start += transactionLimit) {
    const actions: TransactionAction[] = started
      .slice(start, start + transactionLimit)
      .map((d) => ["update", { partitionKey: partition, rowKey: d.instanceName, started: true }, "Merge"]);
    try {
      await client.submitTransaction(actions);
    } catch (err) {
      throw storageFailure(err, "recording started schedule slots");
    }
  }
}
