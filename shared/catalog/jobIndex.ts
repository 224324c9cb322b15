/**
 * Where jobs are found. The `jobs` table keys each job by its id (SPEC section 1: one row per job, the
 * orchestration's instance id), which answers `GET /jobs/{id}` in one read and nothing else: every list would
 * read the whole history. So each job also has copies in the table `jobIndex`, one per list it belongs to, keyed
 * so that a list is one range of row keys in one partition, newest first:
 *
 * | partition                | holds                          |
 * | ------------------------ | ------------------------------ |
 * | `all`                    | every job                      |
 * | `instance\|<name>`       | the jobs of one instance       |
 * | `status\|<status>`       | the jobs in one status         |
 * | `operation\|<operation>` | the jobs of one operation      |
 *
 * Row key: the start second, inverted (so ascending keys are newest first, the only order Table storage
 * returns), then the job id: `<11 digits>-<job id>`. A time window is a row-key range, and a page continues from
 * the last key shown. Other filters of a list go into the same query as column filters, evaluated by the service
 * within the partition's key range.
 *
 * A copy holds all of the job's columns, so a page of 50 is one query, not 50 reads. The row in `jobs` stays the
 * truth: it is written first (etag-checked, catalog/jobRows.ts) and the copies follow (indexSync below).
 */
import type { TableClient } from "@azure/data-tables";
import type { Job } from "../domain";
import { statusOf } from "../storageErrors";
import { isoSeconds } from "../time/isoTime";
import { catalogTables } from "./documents";
import { guarded, odataString } from "./tableAccess";
import { getReadyTableClient } from "./vaultClients";

export const jobIndexTable = "jobIndex";

/** The tables a job lives in: its row (`jobs`) and its copies. */
export const jobRowsClient = () => getReadyTableClient(catalogTables.jobs);
export const jobIndexClient = () => getReadyTableClient(jobIndexTable);

export type JobIndexPartition = "all" | `instance|${string}` | `status|${Job["status"]}` | `operation|${Job["operation"]}`;

/** Start seconds are subtracted from this (year 5138) so that later starts sort first. */
const invertFrom = 99_999_999_999;

/** The row key part of a start time: its second, inverted, 11 digits. */
export function invertedSecond(time: string): string {
  return String(invertFrom - Math.floor(Date.parse(time) / 1000)).padStart(11, "0");
}

/** A copy's row key: newest first, then by job id. */
export function jobIndexRowKey(job: Pick<Job, "startTime" | "id">): string {
  return `${invertedSecond(job.startTime)}-${job.id}`;
}

/** The partitions a job in this state has copies in. */
export function jobIndexPartitions(job: Pick<Job, "instanceName" | "status" | "operation">): JobIndexPartition[] {
  return ["all", `instance|${job.instanceName}`, `status|${job.status}`, `operation|${job.operation}`];
}

export interface JobFilter {
  instanceName?: string;
  operation?: Job["operation"];
  status?: Job["status"];
  /** Jobs started at or after this ISO time. */
  from?: string;
  /** Jobs started before this ISO time. */
  to?: string;
}

/**
 * The query a filter is answered with: the narrowest partition it names (an instance's jobs are fewest, then a
 * status's, then an operation's), the time window and continuation as a row-key range, the rest as columns.
 * `after`: the row key of the last job of the previous page.
 */
export function jobIndexQuery(filter: JobFilter, after?: string): { partition: JobIndexPartition; filter: string } {
  const partition: JobIndexPartition = filter.instanceName
    ? `instance|${filter.instanceName}`
    : filter.status
      ? `status|${filter.status}`
      : filter.operation
        ? `operation|${filter.operation}`
        : "all";
  const conditions = [`PartitionKey eq ${odataString(partition)}`];
  // Started before `to`: a later inverted second than `to`'s. '.' sorts right after '-', so `<second>.` is above
  // every key of that second.
  if (filter.to) conditions.push(`RowKey gt ${odataString(`${invertedSecond(isoSeconds(filter.to))}.`)}`);
  // Started at or after `from`: that second or an earlier inverted one.
  if (filter.from) conditions.push(`RowKey lt ${odataString(`${invertedSecond(isoSeconds(filter.from))}.`)}`);
  if (after !== undefined) conditions.push(`RowKey gt ${odataString(after)}`);
  if (filter.instanceName && filter.status) conditions.push(`status eq ${odataString(filter.status)}`);
  if ((filter.instanceName || filter.status) && filter.operation) conditions.push(`operation eq ${odataString(filter.operation)}`);
  return { partition, filter: conditions.join(" and ") };
}

/** Where a job's copies are: a start time and a status it was (or is) indexed under. */
export interface IndexedAs {
  startTime: string;
  status: Job["status"];
}

/** The copies `was` left that a job indexed as `now` must not keep: `[partition, row key]` pairs. */
export function staleCopies(was: IndexedAs & Pick<Job, "id" | "instanceName" | "operation">, now: IndexedAs): [JobIndexPartition, string][] {
  const wasKey = jobIndexRowKey({ startTime: was.startTime, id: was.id });
  const nowKey = jobIndexRowKey({ startTime: now.startTime, id: was.id });
  const current = new Set(jobIndexPartitions({ ...was, status: now.status }).map((partition) => `${partition}\n${nowKey}`));
  return jobIndexPartitions(was)
    .map((partition): [JobIndexPartition, string] => [partition, wasKey])
    .filter(([partition, key]) => !current.has(`${partition}\n${key}`));
}

/** Writes the job's copies as `columns` (the `jobs` row's columns) and removes the stale ones. */
export async function writeCopies(
  client: TableClient,
  job: Pick<Job, "id" | "instanceName" | "operation" | "status" | "startTime">,
  columns: Record<string, unknown>,
  stale: readonly [JobIndexPartition, string][],
): Promise<void> {
  const rowKey = jobIndexRowKey(job);
  await guarded(`indexing job ${job.id}`, async () => {
    await Promise.all([
      ...jobIndexPartitions(job).map((partitionKey) => client.upsertEntity({ partitionKey, rowKey, id: job.id, ...columns }, "Replace")),
      removeCopies(client, stale),
    ]);
  });
}

/** Removes copies; one already gone is fine. */
export async function removeCopies(client: TableClient, copies: readonly [JobIndexPartition, string][]): Promise<void> {
  await guarded("removing stale job copies", async () => {
    await Promise.all(
      copies.map(([partitionKey, key]) =>
        client.deleteEntity(partitionKey, key).catch((err: unknown) => {
          if (statusOf(err) !== 404) throw err;
        }),
      ),
    );
  });
}
