/**
 * Writes bench/catalogFleet.ts's fleet into Azurite in the shapes the app writes (not measured): documents as
 * shared/catalog/documents.ts stores them, job rows and their `jobIndex` copies as shared/catalog/jobColumns.ts and
 * jobIndex.ts do. Imported by bench/catalog.ts only after `VaultStorage` is set, like the app's modules.
 */
import { TableClient, type TableEntity, type TransactionAction } from "@azure/data-tables";
import { catalogTables } from "../shared/catalog/documents";
import { instanceSummariesTable, summarize, summaryStart } from "../shared/catalog/instanceSummaries";
import { jobIndexPartitions, jobIndexRowKey, jobIndexTable } from "../shared/catalog/jobIndex";
import { jobColumns } from "../shared/catalog/jobColumns";
import type { Job } from "../shared/domain";
import { log } from "./common";
import type { Fleet } from "./catalogFleet";
import { insertRows } from "./schedulerHarness";

const client = (connectionString: string, table: string) => TableClient.fromConnectionString(connectionString, table, { allowInsecureConnection: true });

/** Runs `work(0..count-1)`, `inFlight` at a time, logging progress about every tenth. */
async function inParallel(what: string, count: number, inFlight: number, work: (i: number) => Promise<unknown>): Promise<void> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  const step = Math.max(1, Math.ceil(count / 10));
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) {
      await work(next++);
      if (++done % step === 0) log(`  ${what}: ${done}/${count} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
  }));
}

const docRow = (partitionKey: string, rowKey: string, doc: object, columns: Record<string, string> = {}): TableEntity => ({ partitionKey, rowKey, doc: JSON.stringify(doc), ...columns });

/** Policies, instances and recovery points, in entity-group transactions of 100 per partition. */
export async function seedDocuments(connectionString: string, fleet: Fleet): Promise<void> {
  await insertRows(connectionString, catalogTables.policies, fleet.policies.map((p) => docRow("policy", p.name, p)));
  await insertRows(connectionString, catalogTables.instances, fleet.instances.map((d) => docRow("instance", d.name, d, { policyName: d.policyName })));
  await insertRows(
    connectionString,
    catalogTables.recoveryPoints,
    fleet.points.map((rp) => docRow(rp.instanceName, rp.id, rp, { status: rp.status, expiresAt: rp.expiresAt, tag: rp.tag })),
    16,
  );
}

/** One row per job (its own partition, so no transactions), 64 requests in flight. */
export async function seedJobRows(connectionString: string, jobs: readonly Job[]): Promise<void> {
  const jobsTable = client(connectionString, catalogTables.jobs);
  await jobsTable.createTable();
  await inParallel("job rows", jobs.length, 64, (i) => {
    const job = jobs[i]!;
    return jobsTable.createEntity({ partitionKey: job.id, rowKey: "job", ...jobColumns(job), indexPending: false });
  });
}

/** The row that says whether the index is complete (shared/catalog/jobIndexState.ts). */
export async function writeBackfillState(connectionString: string, complete: boolean): Promise<void> {
  const index = client(connectionString, jobIndexTable);
  await index.createTable();
  await index.upsertEntity({ partitionKey: "meta", rowKey: "backfill", complete, continuation: "" }, "Replace");
}

/**
 * Every job's four copies, 100 per transaction and partition, built batch by batch (millions of rows). Sent in row
 * key order (newest first): Azurite keeps a sorted array of all row keys per table and inserts into it with
 * `splice`, so keys arriving in order are appended instead of moving the array each time.
 */
export async function seedJobCopies(connectionString: string, jobs: readonly Job[]): Promise<void> {
  const index = client(connectionString, jobIndexTable);
  await index.createTable();
  const keys = jobs.map((job) => jobIndexRowKey(job));
  const order = jobs.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0));
  const byPartition = new Map<string, number[]>();
  for (const i of order) {
    for (const partition of jobIndexPartitions(jobs[i]!)) {
      const list = byPartition.get(partition);
      if (list) list.push(i);
      else byPartition.set(partition, [i]);
    }
  }
  const batches: [string, number[]][] = [];
  for (const [partition, list] of byPartition) for (let at = 0; at < list.length; at += 100) batches.push([partition, list.slice(at, at + 100)]);
  batches.sort(([, a], [, b]) => (keys[a[0]!]! < keys[b[0]!]! ? -1 : 1));
  await inParallel("job index transactions", batches.length, 16, (b) => {
    const [partitionKey, members] = batches[b]!;
    const actions = members.map((i): TransactionAction => {
      const job = jobs[i]!;
      return ["upsert", { partitionKey, rowKey: keys[i]!, id: job.id, ...jobColumns(job) }, "Replace"];
    });
    return index.submitTransaction(actions);
  });
}

/**
 * Every instance's summary as the app stores it (shared/catalog/instanceSummaries.ts `summarize`, from the jobs of
 * its last 31 days and its points, both newest first as the catalog lists them), counted at the fleet's "now".
 */
export async function seedSummaries(connectionString: string, fleet: Fleet): Promise<void> {
  const from = summaryStart(fleet.now);
  const jobsOf = new Map<string, Job[]>();
  for (const job of fleet.jobs) {
    if (job.startTime < from) continue;
    const list = jobsOf.get(job.instanceName);
    if (list) list.push(job);
    else jobsOf.set(job.instanceName, [job]);
  }
  const pointsOf = new Map<string, Fleet["points"]>();
  for (const rp of fleet.points) {
    const list = pointsOf.get(rp.instanceName);
    if (list) list.push(rp);
    else pointsOf.set(rp.instanceName, [rp]);
  }
  const byKey = (key: (x: { id: string }) => string) => (a: { id: string }, b: { id: string }) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  const rows = fleet.instances.map((instance) => {
    const jobs = (jobsOf.get(instance.name) ?? []).sort(byKey((job) => jobIndexRowKey(job as Job)));
    const points = (pointsOf.get(instance.name) ?? []).sort(byKey((rp) => rp.id)).reverse();
    const summary = summarize(instance.name, jobs, points, fleet.now);
    return { partitionKey: "summary", rowKey: instance.name, summary: JSON.stringify(summary) };
  });
  await insertRows(connectionString, instanceSummariesTable, rows);
}

/** Fails unless every job id is unique: seeding writes each key once, without Azurite's check (bench/azuriteSeedMode.ts). */
export function assertUniqueJobIds(jobs: readonly Job[]): void {
  const ids = new Set(jobs.map((job) => job.id));
  if (ids.size !== jobs.length) throw new Error(`the fleet has ${jobs.length - ids.size} duplicate job ids`);
}
