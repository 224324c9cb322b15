/**
 * The job index (shared/catalog/jobIndex.ts, jobRows.ts): every list is one partition's key range, and the
 * copies it reads agree with the job rows after any sequence of writes, concurrent writes of one job, and a
 * writer that died between the row and its copies. Jobs here start in 2041 (a window no other test writes in)
 * on instances of their own, in the suite's shared vault.
 */
import { describe, expect, test } from "vitest";
import { jobIndexPartitions, jobIndexRowKey, jobIndexTable, type JobFilter } from "../../shared/catalog/jobIndex";
import { getJob, settleCopy, updateJob } from "../../shared/catalog/jobRows";
import { jobColumns } from "../../shared/catalog/jobColumns";
import { listJobs, listJobsPage } from "../../shared/catalog/jobLists";
import { getReadyTableClient } from "../../shared/catalog/vaultClients";
import type { Job } from "../../shared/domain";
import { SeededRandom } from "../support/seededRandom";
import { uniqueName } from "../support/testDatabase";

const operations: Job["operation"][] = ["Backup", "Restore", "Verify", "Retention"];
const statuses: Job["status"][] = ["Queued", "InProgress", "Succeeded", "Failed", "Cancelled"];
const instanceNames = (count: number) => Array.from({ length: count }, (_, i) => uniqueName(`jix${i}`).replaceAll("_", "-"));
const second = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The lists' order, as the copies' row keys give it: start time newest first, then job id. */
const inListOrder = (jobs: Job[]) => [...jobs].sort((a, b) => b.startTime.localeCompare(a.startTime) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

function matches(job: Job, filter: JobFilter): boolean {
  return (
    (!filter.instanceName || job.instanceName === filter.instanceName) &&
    (!filter.operation || job.operation === filter.operation) &&
    (!filter.status || job.status === filter.status) &&
    (!filter.from || job.startTime >= second(Date.parse(filter.from))) &&
    (!filter.to || job.startTime < second(Date.parse(filter.to)))
  );
}

/** Every copy of one job, wherever it is. */
async function copiesOf(id: string): Promise<{ partitionKey: string; rowKey: string; job: Job }[]> {
  const index = await getReadyTableClient(jobIndexTable);
  const copies: { partitionKey: string; rowKey: string; job: Job }[] = [];
  for await (const entity of index.listEntities<Record<string, unknown>>({ queryOptions: { filter: `id eq '${id}'` } })) {
    const { partitionKey, rowKey, etag: _etag, timestamp: _timestamp, odata: _odata, id: _id, ...columns } = entity;
    copies.push({ partitionKey: partitionKey!, rowKey: rowKey!, job: { id, ...(columns as object) } as Job });
  }
  return copies;
}

/** The copies a job must have, and no others: one per partition of its state, at its key, with its columns. */
async function expectCopiesMatchRow(id: string): Promise<void> {
  const job = (await getJob(id))!;
  const copies = await copiesOf(id);
  expect(copies.map((copy) => `${copy.partitionKey} ${copy.rowKey}`).sort()).toEqual(jobIndexPartitions(job).map((p) => `${p} ${jobIndexRowKey(job)}`).sort());
  for (const copy of copies) expect(jobColumns({ ...copy.job, bytes: Number(copy.job.bytes) })).toEqual(jobColumns(job));
}

async function pagedIds(filter: JobFilter, top: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await listJobsPage(filter, top, after);
    expect(page.jobs.length).toBeLessThanOrEqual(top);
    ids.push(...page.jobs.map((job) => job.id));
    after = page.next;
  } while (after !== undefined);
  return ids;
}

describe("lists read from the index", () => {
  test("when 160 jobs are written and then changed at random (status, start time, progress), then every filter and every page size lists exactly the matching jobs in order, and each job has exactly its own copies", async () => {
    const random = new SeededRandom(2041);
    const instances = instanceNames(3);
    const base = Date.parse("2041-03-01T00:00:00Z") + random.int(0, 1000) * 86_400_000;
    const jobs = new Map<string, Job>();
    for (let i = 0; i < 160; i++) {
      // Pairs share a start second, so the id decides their order.
      const job: Job = {
        id: `${instances[0]}-job-${String(i).padStart(3, "0")}`,
        operation: random.pick(operations),
        trigger: "Scheduled",
        instanceName: random.pick(instances),
        status: "Queued",
        phase: "Queued",
        startTime: second(base + Math.floor(i / 2) * 600_000),
        bytes: 0,
      };
      jobs.set(job.id, job);
    }
    for (const chunk of chunks([...jobs.values()], 20)) await Promise.all(chunk.map(({ id, ...fields }) => updateJob(id, fields)));
    // Changes: later start times (an orchestration's start after the request), status moves, progress.
    for (const chunk of chunks([...jobs.values()], 20)) {
      await Promise.all(
        chunk.map(async (job) => {
          for (let step = random.int(0, 3); step > 0; step--) {
            const change: Partial<Job> = random.int(0, 2) === 0 ? { startTime: second(Date.parse(job.startTime) + random.int(1, 5) * 1000) } : { status: random.pick(statuses.slice(1, 2)) };
            if (step === 1) change.status = random.pick(statuses);
            change.bytes = random.int(0, 1_000_000);
            Object.assign(job, change);
            await updateJob(job.id, change, { afterFinish: true });
          }
        }),
      );
    }
    const all = [...jobs.values()];
    for (const job of all) expect(await getJob(job.id)).toEqual(job);
    const window = { from: second(base), to: second(base + 81 * 600_000) };
    const filters: JobFilter[] = [
      { instanceName: instances[0] },
      { instanceName: instances[1], status: "Failed" },
      { instanceName: instances[2], operation: "Backup", from: second(base + 20 * 600_000) },
      { status: "Succeeded", ...window },
      { status: "Failed", operation: "Restore", ...window },
      { operation: "Verify", ...window },
      { ...window },
      { from: second(base + 30 * 600_000 + 2000), to: second(base + 50 * 600_000) },
    ];
    for (const filter of filters) {
      const expected = inListOrder(all.filter((job) => matches(job, filter))).map((job) => job.id);
      expect((await listJobs(filter)).map((job) => job.id)).toEqual(expected);
      for (const top of [1, 7, 50]) expect(await pagedIds(filter, top)).toEqual(expected);
    }
    for (const job of all.slice(0, 40)) await expectCopiesMatchRow(job.id);
  }, 120_000);

  test("when 8 writers change one job at once (progress, phase, status, start time), then its copies end as its row, with none left behind", async () => {
    const [instance] = instanceNames(1);
    const random = new SeededRandom(7);
    for (let round = 0; round < 5; round++) {
      const id = `${instance}-race-${round}`;
      const startTime = second(Date.parse("2041-01-10T00:00:00Z") + round * 60_000);
      await updateJob(id, { operation: "Backup", trigger: "OnDemand", instanceName: instance!, status: "Queued", phase: "Queued", startTime, bytes: 0 });
      await Promise.all(
        Array.from({ length: 8 }, (_, writer) => {
          const change: Partial<Job> =
            writer % 4 === 0
              ? { status: random.pick(["InProgress", "Succeeded", "Failed"] as const) }
              : writer % 4 === 1
                ? { startTime: second(Date.parse(startTime) + random.int(1, 30) * 1000) }
                : { bytes: random.int(1, 1e9), phase: "Uploading" };
          return updateJob(id, change, { afterFinish: true });
        }),
      );
      await expectCopiesMatchRow(id);
    }
  }, 60_000);
});

describe("repair", () => {
  async function rawRowWrite(id: string, fields: Record<string, unknown>): Promise<void> {
    const jobs = await getReadyTableClient("jobs");
    await jobs.updateEntity({ partitionKey: id, rowKey: "job", ...fields }, "Merge");
  }

  test("when a writer dies after writing the row and before the copies, then the next look at the job (even one that writes nothing) makes them", async () => {
    const [instance] = instanceNames(1);
    const id = `${instance}-crash`;
    const startTime = "2041-02-01T10:00:00Z";
    await updateJob(id, { operation: "Backup", trigger: "Scheduled", instanceName: instance!, status: "InProgress", phase: "Uploading", startTime, bytes: 5 });
    // What writeJobRow writes before the copies: the new state, marked pending, with the state it leaves behind.
    await rawRowWrite(id, { status: "Succeeded", phase: "Done", endTime: "2041-02-01T10:05:00Z", indexPending: true, staleIndex: JSON.stringify([{ startTime, status: "InProgress" }]) });
    expect((await listJobs({ instanceName: instance, status: "InProgress" })).map((job) => job.id)).toEqual([id]);
    // A late progress write to a finished job writes nothing, but finishes what the dead writer left.
    await updateJob(id, { bytes: 99 });
    expect((await getJob(id))!.bytes).toBe(5);
    expect(await listJobs({ instanceName: instance, status: "InProgress" })).toEqual([]);
    expect((await listJobs({ instanceName: instance, status: "Succeeded" })).map((job) => job.status)).toEqual(["Succeeded"]);
    await expectCopiesMatchRow(id);
  });

  test("when a copy says InProgress but the row says otherwise, or there is no row, then settling it removes it and returns the row's job", async () => {
    const [instance] = instanceNames(1);
    const id = `${instance}-stray`;
    const startTime = "2041-02-02T10:00:00Z";
    await updateJob(id, { operation: "Restore", trigger: "OnDemand", instanceName: instance!, status: "Failed", phase: "Done", startTime, bytes: 0 });
    const index = await getReadyTableClient(jobIndexTable);
    const stray = { ...(await getJob(id))!, status: "InProgress" as const };
    await index.upsertEntity({ partitionKey: "status|InProgress", rowKey: jobIndexRowKey(stray), id, ...jobColumns(stray) });
    const orphan: Job = { ...stray, id: `${instance}-gone` };
    for (const partitionKey of jobIndexPartitions(orphan)) await index.upsertEntity({ partitionKey, rowKey: jobIndexRowKey(orphan), id: orphan.id, ...jobColumns(orphan) });
    const listed = await listJobs({ status: "InProgress", from: startTime, to: "2041-02-02T10:00:01Z" });
    expect(listed.map((job) => job.id).sort()).toEqual([id, orphan.id].sort());
    expect((await settleCopy(listed.find((job) => job.id === id)!))?.status).toBe("Failed");
    expect(await settleCopy(listed.find((job) => job.id === orphan.id)!)).toBeUndefined();
    expect(await listJobs({ status: "InProgress", from: startTime, to: "2041-02-02T10:00:01Z" })).toEqual([]);
    expect(await copiesOf(orphan.id)).toEqual([]);
    await expectCopiesMatchRow(id);
  });
});

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
}
