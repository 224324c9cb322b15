/**
 * Jobs in the catalog: one row per job in `jobs` (partition: the job id; flat columns, so progress merges single
 * fields), the truth every change is checked against, and its copies in `jobIndex` that the lists read
 * (jobIndex.ts). Every write to a job row is followed by its copies; how they are kept right is on indexJob.
 */
import type { TableClient, TableEntityResult } from "@azure/data-tables";
import { setTimeout } from "node:timers/promises";
import { allInstances, finishedJobStatuses, type Job } from "../domain";
import { statusOf } from "../storageErrors";
import { jobIndexBackfilled } from "./jobIndexState";
import { jobColumns, jobFromColumns, type JobColumns } from "./jobColumns";
import { jobIndexClient, jobIndexPartitions, jobIndexRowKey, jobRowsClient, removeCopies, staleCopies, writeCopies, type IndexedAs, type JobIndexPartition } from "./jobIndex";
import { summaryFollows } from "./instanceSummaries";
import { guarded } from "./tableAccess";

const jobRow = "job";
/** Etag collisions one write rides out before it fails. */
const maxWriteAttempts = 8;

/**
 * Bookkeeping of the copies on the job row: `indexPending` from each write until its copies are written (a
 * write that crashed in between leaves it set, and the next look at the row finishes the copies);
 * `staleIndex`, JSON, the start times and statuses the job had copies under that may still be there.
 */
interface IndexColumns {
  indexPending?: boolean;
  staleIndex?: string;
}

type StoredJob = TableEntityResult<JobColumns & IndexColumns>;


async function readJobEntity(client: TableClient, id: string): Promise<StoredJob | undefined> {
  return guarded(`reading job ${id}`, async () => {
    try {
      return await client.getEntity<JobColumns & IndexColumns>(id, jobRow);
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}

export async function getJob(id: string): Promise<Job | undefined> {
  const entity = await readJobEntity(await jobRowsClient(), id);
  return entity && jobFromColumns(id, entity);
}

const staleOf = (entity: IndexColumns): IndexedAs[] => (entity.staleIndex ? (JSON.parse(entity.staleIndex) as IndexedAs[]) : []);

/** A job row's state once written: the job, its bookkeeping and the etag the write returned. */
interface Written {
  job: Job;
  stale: IndexedAs[];
  etag: string;
}

/**
 * Brings the job's copies in line with its row, `written` being the row as this caller just wrote it. The copies
 * are written and the stale ones removed; then the row's bookkeeping is cleared under the etag the copies were
 * made from. Whoever wrote the row meanwhile makes that fail (412), and the copies are made again from the row
 * as it is now, also removing the copies this caller made of a state that is no longer the job's (another
 * writer may have removed them before this caller's slower writes landed). So the last to finish always leaves
 * the row's latest state, whichever order concurrent writers of one job (a progress write, a status change)
 * reach the copies in.
 */
async function indexJob(client: TableClient, written: Written): Promise<void> {
  const index = await jobIndexClient();
  const made: IndexedAs[] = [];
  let current: Written | undefined = written;
  for (let attempt = 1; current; attempt++) {
    const { job, stale, etag }: Written = current;
    const stalePairs = [...stale, ...made].flatMap((was) => staleCopies({ ...was, id: job.id, instanceName: job.instanceName, operation: job.operation }, job));
    made.push({ startTime: job.startTime, status: job.status });
    await writeCopies(index, job, jobColumns(job), stalePairs);
    const settled = await guarded(`indexing job ${job.id}`, async () => {
      try {
        await client.updateEntity({ partitionKey: job.id, rowKey: jobRow, indexPending: false, staleIndex: "" }, "Merge", { etag });
        return true;
      } catch (err) {
        if (statusOf(err) !== 412 || attempt >= 8) throw err;
        return false;
      }
    });
    if (settled) return;
    const entity = await readJobEntity(client, job.id);
    current = entity && { job: jobFromColumns(job.id, entity), stale: staleOf(entity), etag: entity.etag };
    // Another writer settled the copies of this same state: only what this caller made of earlier states is left.
    if (current && !entity!.indexPending && sameJob(current.job, job)) {
      const leftovers = made.flatMap((was) => staleCopies({ ...was, id: job.id, instanceName: job.instanceName, operation: job.operation }, job));
      await removeCopies(index, leftovers);
      return;
    }
    await setTimeout(Math.random() * 20 * attempt);
  }
}

function sameJob(a: Job, b: Job): boolean {
  const sorted = (job: Job) => JSON.stringify(Object.entries(jobColumns(job)).sort(([x], [y]) => (x < y ? -1 : 1)));
  return sorted(a) === sorted(b);
}

/**
 * The repair of one copy, for the lists whose copies must be right (the unfinished jobs reconciliation settles):
 * a copy whose job row is gone, or says another start time or status, is removed and the row's own copies made
 * again. Returns the job as its row has it; `undefined` when there is no row.
 */
export async function settleCopy(copy: Job): Promise<Job | undefined> {
  const client = await jobRowsClient();
  const entity = await readJobEntity(client, copy.id);
  const job = entity && jobFromColumns(copy.id, entity);
  if (job && job.status === copy.status && job.startTime === copy.startTime) return job;
  const stale = job ? staleCopies(copy, job) : jobIndexPartitions(copy).map((partition): [JobIndexPartition, string] => [partition, jobIndexRowKey(copy)]);
  await removeCopies(await jobIndexClient(), stale);
  if (entity) await indexJob(client, { job: job!, stale: staleOf(entity), etag: entity.etag });
  return job;
}

export type JobUpdate = Partial<Omit<Job, "id">>;

/**
 * Reads the job row and writes what `decide` makes of it (merged; a missing row is created) under that read's
 * etag, deciding again on a fresh read when someone else wrote in between: what was checked and what is written
 * are one step. `decide` gets undefined for a missing row and returns undefined to write nothing; what it throws
 * reaches the caller as it is. The copies follow (indexJob); a row whose copies an earlier write left unfinished
 * gets them now, even when nothing is written.
 */
async function writeJobRow(id: string, decide: (current: Job | undefined) => JobUpdate | undefined): Promise<void> {
  await jobIndexBackfilled();
  const client = await jobRowsClient();
  for (let attempt = 1; ; attempt++) {
    const current = await readJobEntity(client, id);
    const before = current && jobFromColumns(id, current);
    const update = decide(before);
    if (!update) {
      if (current?.indexPending) await indexJob(client, { job: before!, stale: staleOf(current), etag: current.etag });
      return;
    }
    // Fields given as undefined are not written (a merge keeps the row's), so the copies must not drop them either.
    const fields = Object.fromEntries(Object.entries(update).filter(([, value]) => value !== undefined)) as JobUpdate;
    const job = { ...(before ?? {}), ...fields, id } as Job;
    const stale = current ? staleOf(current) : [];
    if (before && (before.startTime !== job.startTime || before.status !== job.status)) stale.push({ startTime: before.startTime, status: before.status });
    const entity = { partitionKey: id, rowKey: jobRow, ...jobColumns(fields), indexPending: true, staleIndex: stale.length ? JSON.stringify(stale) : "" };
    const etag = await guarded(`updating job ${id}`, async () => {
      try {
        const response = await (current ? client.updateEntity(entity, "Merge", { etag: current.etag }) : client.createEntity(entity));
        return response.etag;
      } catch (err) {
        // Someone else wrote in between (409 on create, 412 on the etag): look again.
        const status = statusOf(err);
        if ((status !== 409 && status !== 412) || attempt >= maxWriteAttempts) throw err;
        return undefined;
      }
    });
    if (etag === undefined) {
      // Writers of one job that keep colliding take turns (a cancel, a status change and a progress write).
      await setTimeout(Math.random() * 20 * attempt);
      continue;
    }
    await indexJob(client, { job, stale, etag });
    // What the Backup Center shows of the instance changes with a job's start, status and end.
    const shown = !before || before.status !== job.status || before.startTime !== job.startTime || before.endTime !== job.endTime || before.recoveryPointId !== job.recoveryPointId;
    if (shown && job.instanceName !== allInstances) await summaryFollows(job.instanceName);
    return;
  }
}

/**
 * Creates or merges a job row; only the given fields change. A finished job (Succeeded, Failed, Cancelled) is
 * not changed again, so a late progress write or a step still running after a cancel cannot revive it; only the
 * cancellation itself may finish a job that failed because it was being cancelled (`afterFinish`). The etag makes
 * the check and the write one step.
 */
export async function updateJob(id: string, update: JobUpdate, options: { afterFinish?: boolean } = {}): Promise<void> {
  await writeJobRow(id, (current) => (current && finishedJobStatuses.includes(current.status) && !options.afterFinish ? undefined : update));
}

/**
 * Changes an existing job row only as `decide` allows after looking at it, in one etag-checked step (see
 * writeJobRow): a cancel and a swap each check the other's mark this way. A missing row is left alone.
 */
export async function changeJob(id: string, decide: (job: Job) => JobUpdate | undefined): Promise<void> {
  await writeJobRow(id, (current) => current && decide(current));
}

/** Whether a cancel was asked for; false for a job without a row. */
export async function isCancelRequested(jobId: string): Promise<boolean> {
  return (await getJob(jobId))?.cancelRequested === true;
}

/** Makes the copies of a job row as it is now (the index backfill, and the repair of a row left pending). */
export async function indexStoredJob(id: string): Promise<void> {
  const client = await jobRowsClient();
  const entity = await readJobEntity(client, id);
  if (entity) await indexJob(client, { job: jobFromColumns(id, entity), stale: staleOf(entity), etag: entity.etag });
}

