/**
 * Whether the job index is complete (jobIndexBackfill.ts): the row `meta/backfill` of `jobIndex`, with the
 * backfill's continuation while it runs.
 */
import type { TableClient } from "@azure/data-tables";
import { statusOf } from "../storageErrors";
import { jobIndexClient, jobRowsClient } from "./jobIndex";
import { guarded } from "./tableAccess";

const metaPartition = "meta";
const backfillRow = "backfill";

interface BackfillState {
  complete?: boolean;
  /** The `jobs` table's continuation token where the walk goes on. */
  continuation?: string;
}

/** Once complete, always complete: remembered for the process. */
let known: Promise<boolean> | undefined;

export async function readState(index: TableClient): Promise<BackfillState | undefined> {
  return guarded("reading the job index's backfill state", async () => {
    try {
      const { complete, continuation } = await index.getEntity<BackfillState>(metaPartition, backfillRow);
      return { complete, continuation };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}

export async function writeState(index: TableClient, state: BackfillState): Promise<void> {
  await guarded("recording the job index's backfill", () =>
    index.upsertEntity({ partitionKey: metaPartition, rowKey: backfillRow, complete: state.complete ?? false, continuation: state.continuation ?? "" }, "Replace"),
  );
}

async function hasJobRows(jobs: TableClient): Promise<boolean> {
  return guarded("listing jobs", async () => {
    for await (const page of jobs.listEntities({ queryOptions: { select: ["PartitionKey"] } }).byPage({ maxPageSize: 1 })) return page.length > 0;
    return false;
  });
}

async function lookUp(): Promise<boolean> {
  const index = await jobIndexClient();
  const state = await readState(index);
  if (state) return state.complete === true;
  // No state yet: a new catalog needs no backfill (its job rows all get copies as they are written); one with
  // rows from before needs it, and says so, so that this is asked once.
  const complete = !(await hasJobRows(await jobRowsClient()));
  await writeState(index, { complete });
  return complete;
}

/**
 * Whether every job row has its copies, so lists may read the index. Asked before the first job write of a
 * process too, so that a new catalog is marked complete before its first row exists.
 */
export async function jobIndexBackfilled(): Promise<boolean> {
  known ??= lookUp();
  const complete = await known.catch((err: unknown) => {
    known = undefined;
    throw err;
  });
  if (!complete) known = undefined;
  return complete;
}

