/** Lists of jobs: pages of the job index (jobIndex.ts), or of the rows themselves until its backfill is done. */
import type { Job } from "../domain";
import { isoSeconds } from "../time/isoTime";
import { jobFromColumns, type JobColumns } from "./jobColumns";
import { jobIndexClient, jobIndexQuery, jobIndexRowKey, jobRowsClient, type JobFilter } from "./jobIndex";
import { jobIndexBackfilled } from "./jobIndexState";
import { guarded, odataString } from "./tableAccess";

export type { JobFilter } from "./jobIndex";


export interface JobPage {
  jobs: Job[];
  /** The row key to continue after; absent on the last page. */
  next?: string;
}

/**
 * Up to `top` jobs matching the filter, newest first (start time, then job id), after the row key `after`. One
 * query of one partition's key range (jobIndex.ts); the service may split it into several responses, each read
 * only as far as the page needs.
 */
export async function listJobsPage(filter: JobFilter, top: number, after?: string): Promise<JobPage> {
  if (!(await jobIndexBackfilled())) return legacyPage(filter, top, after);
  const client = await jobIndexClient();
  const query = jobIndexQuery(filter, after);
  return guarded("listing jobs", async () => {
    const found: { key: string; job: Job }[] = [];
    const pages = client.listEntities<JobColumns & { id: string }>({ queryOptions: { filter: query.filter } }).byPage({ maxPageSize: Math.min(top + 1, 1000) });
    for await (const page of pages) {
      for (const entity of page) found.push({ key: entity.rowKey!, job: jobFromColumns(entity.id, entity) });
      if (found.length > top) break;
    }
    const jobs = found.slice(0, top);
    return { jobs: jobs.map((entry) => entry.job), ...(found.length > top ? { next: jobs.at(-1)!.key } : {}) };
  });
}

/** Every job matching the filter, newest first: for lists whose length is bounded by what they select. */
export async function listJobs(filter: JobFilter): Promise<Job[]> {
  if (!(await jobIndexBackfilled())) return (await legacyPage(filter, Number.MAX_SAFE_INTEGER)).jobs;
  const client = await jobIndexClient();
  // One query followed through its continuations: each copy read once, 1,000 per response.
  return guarded("listing jobs", async () => {
    const jobs: Job[] = [];
    for await (const entity of client.listEntities<JobColumns & { id: string }>({ queryOptions: { filter: jobIndexQuery(filter).filter } })) {
      jobs.push(jobFromColumns(entity.id, entity));
    }
    return jobs;
  });
}

/**
 * Until the backfill of a catalog written before the index finished (jobIndexBackfill.ts): every job row is read,
 * filtered and sorted here, as all versions before did. Same order and cursors as the index.
 */
async function legacyPage(filter: JobFilter, top: number, after?: string): Promise<JobPage> {
  const client = await jobRowsClient();
  const conditions = [
    filter.instanceName && `instanceName eq ${odataString(filter.instanceName)}`,
    filter.operation && `operation eq ${odataString(filter.operation)}`,
    filter.status && `status eq ${odataString(filter.status)}`,
    filter.from && `startTime ge ${odataString(isoSeconds(filter.from))}`,
    filter.to && `startTime lt ${odataString(isoSeconds(filter.to))}`,
  ].filter(Boolean);
  return guarded("listing jobs", async () => {
    const keyed: { key: string; job: Job }[] = [];
    const queryOptions = conditions.length ? { filter: conditions.join(" and ") } : {};
    for await (const entity of client.listEntities<JobColumns>({ queryOptions })) {
      const job = jobFromColumns(entity.partitionKey!, entity);
      const key = jobIndexRowKey(job);
      if (after === undefined || key > after) keyed.push({ key, job });
    }
    keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const jobs = keyed.slice(0, top);
    return { jobs: jobs.map((entry) => entry.job), ...(keyed.length > top ? { next: jobs.at(-1)!.key } : {}) };
  });
}
