/**
 * Catalogs written before `jobIndex` existed: their jobs have rows but no copies, so until every row has them the
 * lists read the rows as before (jobRows.ts, legacyPage). The backfill walks the `jobs` table a page at a time,
 * keeping its continuation in the row `meta/backfill` of `jobIndex`, so a run cut short (its time budget, a
 * restart) carries on where it stopped; when the walk ends the row says `complete` and lists switch over.
 *
 * Finished jobs never change again (jobRows.ts, updateJob), so their copies go in entity-group transactions of
 * 100 per partition; a job still running is indexed one by one under its row's etag, as its own writes are. A
 * catalog with no job rows at all is complete from the start.
 */
import type { TableClient, TableTransaction } from "@azure/data-tables";
import { TableTransaction as Transaction } from "@azure/data-tables";
import { finishedJobStatuses } from "../domain";
import { jobIndexClient, jobIndexPartitions, jobIndexRowKey, jobRowsClient } from "./jobIndex";
import { readState, writeState } from "./jobIndexState";
import { indexStoredJob } from "./jobRows";
import { jobColumns, jobFromColumns, type JobColumns } from "./jobColumns";
import { guarded } from "./tableAccess";

/** Copies of finished jobs, 100 per transaction and partition. */
async function writeFinishedCopies(index: TableClient, entities: readonly (JobColumns & { partitionKey: string })[]): Promise<void> {
  const byPartition = new Map<string, TableTransaction>();
  const batches: TableTransaction[] = [];
  for (const entity of entities) {
    const job = jobFromColumns(entity.partitionKey, entity);
    const rowKey = jobIndexRowKey(job);
    for (const partitionKey of jobIndexPartitions(job)) {
      let batch = byPartition.get(partitionKey);
      if (!batch || batch.actions.length === 100) {
        batch = new Transaction();
        byPartition.set(partitionKey, batch);
        batches.push(batch);
      }
      batch.upsertEntity({ partitionKey, rowKey, id: job.id, ...jobColumns(job) }, "Replace");
    }
  }
  await guarded("backfilling the job index", async () => {
    for (let at = 0; at < batches.length; at += 8) await Promise.all(batches.slice(at, at + 8).map((batch) => index.submitTransaction(batch.actions)));
  });
}

export interface BackfillResult {
  complete: boolean;
  /** Job rows given copies in this run. */
  indexed: number;
}

/** Walks on until the walk is done or `deadline` (epoch ms) has passed. */
export async function backfillJobIndex(deadline: number): Promise<BackfillResult> {
  const index = await jobIndexClient();
  const jobs = await jobRowsClient();
  const state = (await readState(index)) ?? {};
  if (state.complete) return { complete: true, indexed: 0 };
  let indexed = 0;
  const pages = jobs.listEntities<JobColumns & { indexPending?: boolean }>().byPage({ maxPageSize: 1000, ...(state.continuation ? { continuationToken: state.continuation } : {}) });
  const walk = pages[Symbol.asyncIterator]();
  for (;;) {
    const next = await guarded("listing jobs", () => walk.next());
    if (next.done) break;
    const page = next.value;
    // Rows written by this version have copies already (indexPending false) or get them from their writer.
    const legacy = page.filter((entity) => entity.indexPending === undefined);
    const finished = legacy.filter((entity) => finishedJobStatuses.includes(entity.status));
    await writeFinishedCopies(index, finished as (JobColumns & { partitionKey: string })[]);
    for (const entity of legacy) if (!finishedJobStatuses.includes(entity.status)) await indexStoredJob(entity.partitionKey!);
    indexed += legacy.length;
    if (!page.continuationToken) break;
    await writeState(index, { continuation: page.continuationToken });
    if (Date.now() >= deadline) return { complete: false, indexed };
  }
  await writeState(index, { complete: true });
  return { complete: true, indexed };
}
