/**
 * A catalog written before the job index (job rows only) keeps working through the upgrade: its lists read the
 * rows as before until the backfill (shared/catalog/jobIndexBackfill.ts) has given every row its copies, in runs
 * cut short by their time budget that carry on where the last stopped; then the lists read the index and list the
 * same jobs. Running it again changes nothing. The vault is this file's own Azurite: the backfill's state is the
 * catalog's.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { backupCenterSummary } from "../../shared/backupCenter/summary";
import { putInstance } from "../../shared/catalog/catalog";
import { readInstanceSummaries } from "../../shared/catalog/instanceSummaries";
import { jobIndexTable, type JobFilter } from "../../shared/catalog/jobIndex";
import { backfillJobIndex } from "../../shared/catalog/jobIndexBackfill";
import { jobIndexBackfilled } from "../../shared/catalog/jobIndexState";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import { jobColumns } from "../../shared/catalog/jobColumns";
import { listJobs } from "../../shared/catalog/jobLists";
import { getReadyTableClient } from "../../shared/catalog/vaultClients";
import type { Job } from "../../shared/domain";
import { startRestartableAzurite, type RestartableAzurite } from "../support/restartableAzurite";
import { SeededRandom } from "../support/seededRandom";

let vault: RestartableAzurite;
const jobs: Job[] = [];
const instances = ["legacy-a", "legacy-b", "legacy-c", "legacy-d"];
const statuses: Job["status"][] = ["Succeeded", "Failed", "Cancelled", "Succeeded", "InProgress"];
const operations: Job["operation"][] = ["Backup", "Backup", "Restore", "Verify"];

beforeAll(async () => {
  vault = await startRestartableAzurite();
  // Before any app module reads its configuration: this file's vault is its own.
  process.env.VaultStorage = vault.connectionString;
  const random = new SeededRandom(25);
  const base = Date.parse("2024-01-01T02:00:00Z");
  for (let i = 0; i < 2300; i++) {
    const status = i < 6 ? "InProgress" : random.pick(statuses.slice(0, 4));
    jobs.push({
      id: `backup-legacy-${String(i).padStart(5, "0")}`,
      operation: random.pick(operations),
      trigger: "Scheduled",
      instanceName: random.pick(instances),
      status,
      phase: status === "InProgress" ? "Uploading" : "Done",
      startTime: new Date(base + i * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      bytes: i,
    });
  }
  // Rows as every version before the index wrote them: the job's columns, nothing else.
  const rows = await getReadyTableClient("jobs");
  for (let at = 0; at < jobs.length; at += 50) {
    await Promise.all(jobs.slice(at, at + 50).map((job) => rows.createEntity({ partitionKey: job.id, rowKey: "job", ...jobColumns(job) })));
  }
}, 120_000);
afterAll(() => vault?.destroy());

const filters: JobFilter[] = [
  {},
  { instanceName: "legacy-b" },
  { status: "Failed", from: "2024-03-01T00:00:00Z", to: "2024-03-31T00:00:00Z" },
  { operation: "Restore", instanceName: "legacy-c" },
  { status: "InProgress" },
];
const ids = (list: Job[]) => list.map((job) => job.id);

async function copyCount(): Promise<number> {
  const index = await getReadyTableClient(jobIndexTable);
  let count = 0;
  for await (const _ of index.listEntities({ queryOptions: { filter: "PartitionKey ne 'meta'", select: ["RowKey"] } })) count++;
  return count;
}

test("when a catalog from before the index is upgraded, then lists work before, during and after the backfill, which runs in parts and then reads the index", async () => {
  expect(await jobIndexBackfilled()).toBe(false);
  const before = await Promise.all(filters.map((filter) => listJobs(filter)));
  const newestFirst = [...jobs].sort((a, b) => b.startTime.localeCompare(a.startTime));
  expect(ids(before[0]!)).toEqual(ids(newestFirst));
  expect(ids(before[4]!).sort()).toEqual(jobs.slice(0, 6).map((job) => job.id).sort());

  // The Backup Center works meanwhile, counting as before the summaries, and keeps none (each would cost a scan).
  await putInstance({ name: "legacy-b", policyName: "none", datasource: { type: "database", host: "h", port: 5432, database: "d", secretRef: "env:NONE" }, protectionState: "ProtectionStopped", createdAt: "2024-01-01T00:00:00Z" });
  const lastJob = [...jobs].filter((job) => job.instanceName === "legacy-b").sort((a, b) => b.startTime.localeCompare(a.startTime))[0]!;
  const pageNow = new Date(Date.parse(lastJob.startTime) + 3_600_000);
  const page = await backupCenterSummary(pageNow);
  const shown = page.instances.find((row) => row.name === "legacy-b")!;
  expect(shown.timeline.at(-1)!.counts[lastJob.status]).toBeGreaterThanOrEqual(1);
  expect((await readInstanceSummaries()).size).toBe(0);

  // While the backfill runs, the app goes on writing: a legacy job finishes, a new one starts.
  await updateJob(jobs[0]!.id, { status: "Succeeded", phase: "Done", endTime: "2024-01-01T03:00:00Z" });
  Object.assign(jobs[0]!, { status: "Succeeded", phase: "Done", endTime: "2024-01-01T03:00:00Z" });
  const fresh: Job = { id: "backup-new-1", operation: "Backup", trigger: "OnDemand", instanceName: "legacy-a", status: "Queued", phase: "Queued", startTime: "2026-12-07T00:00:00Z", bytes: 0 };
  await updateJob(fresh.id, fresh);
  jobs.push(fresh);

  // Each run past its deadline stops after one page of 1,000 rows and says where it is.
  const runs: { complete: boolean; indexed: number }[] = [];
  do runs.push(await backfillJobIndex(Date.now()));
  while (!runs.at(-1)!.complete);
  expect(runs.length).toBe(3);
  // Every legacy row indexed once; the two written by this version had their copies already.
  expect(runs.reduce((sum, run) => sum + run.indexed, 0)).toBe(2299);
  expect(await jobIndexBackfilled()).toBe(true);

  const truth = await Promise.all(jobs.map(async (job) => (await getJob(job.id))!));
  for (const filter of filters) {
    const expected = truth
      .filter((job) => (!filter.instanceName || job.instanceName === filter.instanceName) && (!filter.status || job.status === filter.status) && (!filter.operation || job.operation === filter.operation))
      .filter((job) => (!filter.from || job.startTime >= filter.from) && (!filter.to || job.startTime < filter.to))
      .sort((a, b) => b.startTime.localeCompare(a.startTime));
    expect(ids(await listJobs(filter))).toEqual(ids(expected));
  }
  expect(await copyCount()).toBe(4 * jobs.length);

  // Again, from the start: the same copies, no more.
  const index = await getReadyTableClient(jobIndexTable);
  await index.upsertEntity({ partitionKey: "meta", rowKey: "backfill", complete: false, continuation: "" }, "Replace");
  let again;
  do again = await backfillJobIndex(Date.now() + 60_000);
  while (!again.complete);
  expect(await copyCount()).toBe(4 * jobs.length);
}, 180_000);
