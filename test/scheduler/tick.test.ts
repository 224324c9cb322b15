/**
 * The scheduler tick against the real catalog in Azurite: due slots start once, duplicate and concurrent ticks
 * start nothing twice, a 3-day outage gives one catch-up backup, and a claim whose start was lost (a failed start,
 * a host that died with its run open, a row of a version before) is recovered.
 */
import { TableClient } from "@azure/data-tables";
import { beforeAll, expect, inject, test } from "vitest";
import { putInstance, putPolicy } from "../../shared/catalog/catalog";
import type { BackupInstance, BackupPolicy } from "../../shared/domain";
import { scheduledJobId, type DueBackup } from "../../shared/scheduler/dueBackups";
import { claimSlots, openRun, readOpenRuns, slotPartition, slotTable } from "../../shared/scheduler/slotClaims";
import { schedulerTick, type SchedulerPort } from "../../shared/scheduler/tick";
import { uniqueName } from "../support/testDatabase";

const hourly: Omit<BackupPolicy, "name"> = {
  datasourceType: "database",
  schedule: { repeatingIntervals: ["R/2026-01-01T00:15:00Z/PT1H"], timeZone: "UTC" },
  retention: { default: { duration: "P7D" }, rules: [] },
};
const policyName = uniqueName("hourly").replaceAll("_", "-");

function recordingPort(existing = new Set<string>()): SchedulerPort & { starts: DueBackup[] } {
  const starts: DueBackup[] = [];
  return {
    starts,
    async start(due) {
      starts.push(due);
      existing.add(due.jobId);
    },
    async exists(jobId) {
      return existing.has(jobId);
    },
  };
}

async function protectedInstances(count: number, createdAt: string): Promise<string[]> {
  const names = Array.from({ length: count }, () => uniqueName("sched").replaceAll("_", "-"));
  for (const name of names) {
    const instance: BackupInstance = {
      name,
      policyName,
      datasource: { type: "database", host: "127.0.0.1", port: 5432, database: "x", secretRef: "env:NONE" },
      protectionState: "ProtectionConfigured",
      createdAt,
    };
    await putInstance(instance);
  }
  return names;
}

const ours = (starts: DueBackup[], names: string[]) => starts.filter((s) => names.includes(s.instanceName)).map((s) => s.jobId).sort();

beforeAll(async () => {
  await putPolicy({ name: policyName, ...hourly });
});

test("when slots are due, then each instance's backup starts once with a deterministic id, and a repeated tick starts nothing", async () => {
  const names = await protectedInstances(3, "2026-01-01T00:00:00Z");
  const now = new Date("2026-03-10T09:20:00Z");
  const first = recordingPort();
  await schedulerTick(now, first);
  expect(ours(first.starts, names)).toEqual(names.map((n) => scheduledJobId(n, new Date("2026-03-10T09:15:00Z"))).sort());
  expect(first.starts.find((s) => s.instanceName === names[0])?.jobId).toBe(`scheduled-${names[0]}-20260310T0915Z`);

  const again = recordingPort();
  await schedulerTick(new Date("2026-03-10T09:25:00Z"), again);
  expect(ours(again.starts, names)).toEqual([]);
});

test("when two ticks run at the same time, then every due backup starts exactly once", async () => {
  const names = await protectedInstances(5, "2026-01-01T00:00:00Z");
  const now = new Date("2026-04-02T11:16:00Z");
  const [a, b] = [recordingPort(), recordingPort()];
  await Promise.all([schedulerTick(now, a), schedulerTick(now, b)]);
  const all = [...ours(a.starts, names), ...ours(b.starts, names)].sort();
  expect(all).toEqual(names.map((n) => scheduledJobId(n, new Date("2026-04-02T11:15:00Z"))).sort());
});

test("when the scheduler was down for 3 days, then the next tick takes one catch-up backup per instance", async () => {
  const [name] = await protectedInstances(1, "2026-01-01T00:00:00Z");
  await schedulerTick(new Date("2026-05-01T08:20:00Z"), recordingPort());
  const afterOutage = recordingPort();
  await schedulerTick(new Date("2026-05-04T08:20:00Z"), afterOutage);
  expect(ours(afterOutage.starts, [name!])).toEqual([scheduledJobId(name!, new Date("2026-05-04T08:15:00Z"))]);
});

test("when an instance was configured after the latest slot, then nothing is owed until the next slot", async () => {
  const [name] = await protectedInstances(1, "2026-06-01T10:40:00Z");
  const port = recordingPort();
  await schedulerTick(new Date("2026-06-01T10:50:00Z"), port);
  expect(ours(port.starts, [name!])).toEqual([]);
  await schedulerTick(new Date("2026-06-01T11:16:00Z"), port);
  expect(ours(port.starts, [name!])).toEqual([scheduledJobId(name!, new Date("2026-06-01T11:15:00Z"))]);
});

test("when a claim was made but its start was lost, then a later tick starts it, unless the orchestration exists", async () => {
  const [lost, running] = await protectedInstances(2, "2026-01-01T00:00:00Z");
  const slot = new Date("2026-07-01T06:15:00Z");
  const claims = TableClient.fromConnectionString(inject("vaultConnectionString"), slotTable, { allowInsecureConnection: true });
  for (const name of [lost!, running!]) {
    await claims.upsertEntity({ partitionKey: slotPartition(name), rowKey: name, lastSlot: slot.toISOString(), jobId: scheduledJobId(name, slot), started: false, claimedAt: "2026-07-01T06:16:00Z" }, "Replace");
  }
  const port = recordingPort(new Set([scheduledJobId(running!, slot)]));
  await schedulerTick(new Date("2026-07-01T06:30:00Z"), port);
  expect(ours(port.starts, [lost!, running!])).toEqual([scheduledJobId(lost!, slot)]);
});

test("when a tick's host died between its claims and its starts (its run left open), then a tick after the grace period starts those whose orchestration does not exist, and closes the run", async () => {
  const [lost, running] = await protectedInstances(2, "2026-01-01T00:00:00Z");
  const slot = new Date("2026-09-01T06:15:00Z");
  const claimedAt = new Date("2026-09-01T06:16:00Z");
  const runId = uniqueName("dead-run");
  const datasource = { type: "database" as const, host: "127.0.0.1", port: 5432, database: "x", secretRef: "env:NONE" };
  // What the dead host did: its run opened, its claims written, no start.
  await openRun(runId, claimedAt);
  const due = [lost!, running!].map((instanceName) => ({ instanceName, datasource, slot, jobId: scheduledJobId(instanceName, slot) }));
  expect(await claimSlots(due, new Map(), claimedAt, runId)).toHaveLength(2);
  const port = recordingPort(new Set([scheduledJobId(running!, slot)]));
  // Within the grace period the run may still be starting them: nothing.
  await schedulerTick(new Date("2026-09-01T06:17:00Z"), port);
  expect(ours(port.starts, [lost!, running!])).toEqual([]);
  expect((await readOpenRuns()).has(runId)).toBe(true);
  await schedulerTick(new Date("2026-09-01T06:30:00Z"), port);
  expect(ours(port.starts, [lost!, running!])).toEqual([scheduledJobId(lost!, slot)]);
  expect((await readOpenRuns()).has(runId)).toBe(false);
  // Settled: a later tick of the same slot starts nothing again.
  await schedulerTick(new Date("2026-09-01T06:45:00Z"), port);
  expect(ours(port.starts, [lost!, running!])).toEqual([scheduledJobId(lost!, slot)]);
});

test("when a start fails, then the claim says so, the tick closes its run, and a tick after the grace period starts it", async () => {
  const [failing, fine] = await protectedInstances(2, "2026-01-01T00:00:00Z");
  const slot = new Date("2026-10-01T06:15:00Z");
  const port = recordingPort();
  const refusing: SchedulerPort = {
    ...port,
    async start(d) {
      if (d.instanceName === failing) throw new Error("task hub refused");
      await port.start(d);
    },
  };
  const first = await schedulerTick(new Date("2026-10-01T06:16:00Z"), refusing);
  expect(first.failed).toBeGreaterThanOrEqual(1);
  expect(ours(port.starts, [failing!, fine!])).toEqual([scheduledJobId(fine!, slot)]);
  const claims = TableClient.fromConnectionString(inject("vaultConnectionString"), slotTable, { allowInsecureConnection: true });
  expect(await claims.getEntity(slotPartition(failing!), failing!)).toMatchObject({ started: false, jobId: scheduledJobId(failing!, slot) });
  expect(await claims.getEntity(slotPartition(fine!), fine!)).toMatchObject({ started: true, jobId: scheduledJobId(fine!, slot) });
  await schedulerTick(new Date("2026-10-01T06:30:00Z"), port);
  expect(ours(port.starts, [failing!, fine!])).toEqual([scheduledJobId(failing!, slot), scheduledJobId(fine!, slot)].sort());
  expect(await claims.getEntity(slotPartition(failing!), failing!)).toMatchObject({ started: true });
});

test("when claims were written by a version before the shards (partition 'slot'), then their slots stay claimed, a lost start is recovered, and each row moves to its shard at its next claim", async () => {
  const [done, lost] = await protectedInstances(2, "2026-01-01T00:00:00Z");
  const slot = new Date("2026-08-01T06:15:00Z");
  const claims = TableClient.fromConnectionString(inject("vaultConnectionString"), slotTable, { allowInsecureConnection: true });
  for (const [name, started] of [[done!, true], [lost!, false]] as const) {
    await claims.upsertEntity({ partitionKey: "slot", rowKey: name, lastSlot: slot.toISOString(), jobId: scheduledJobId(name, slot), started, claimedAt: "2026-08-01T06:16:00Z" }, "Replace");
  }
  const port = recordingPort();
  await schedulerTick(new Date("2026-08-01T06:30:00Z"), port);
  // The started one is not started again; the lost one is, under the same job id.
  expect(ours(port.starts, [done!, lost!])).toEqual([scheduledJobId(lost!, slot)]);
  const legacyRow = async (name: string) => claims.getEntity("slot", name).then(() => true, () => false);
  expect(await legacyRow(lost!)).toBe(false);
  expect(await claims.getEntity(slotPartition(lost!), lost!)).toMatchObject({ started: true, lastSlot: slot.toISOString() });
  expect(await legacyRow(done!)).toBe(true);
  // The next slot is claimed in the shard, and the legacy row goes.
  await schedulerTick(new Date("2026-08-02T06:16:00Z"), port);
  expect(ours(port.starts, [done!])).toEqual([scheduledJobId(done!, new Date("2026-08-02T06:15:00Z"))]);
  expect(await legacyRow(done!)).toBe(false);
  expect(await claims.getEntity(slotPartition(done!), done!)).toMatchObject({ started: true, lastSlot: "2026-08-02T06:15:00.000Z" });
});

test("when a Flexible Server instance's slot is due, then its backup starts with the resource id as its datasource", async () => {
  const flexPolicy = uniqueName("flex-hourly").replaceAll("_", "-");
  await putPolicy({ ...hourly, name: flexPolicy, datasourceType: "flexibleServer" });
  const name = uniqueName("sched-flex").replaceAll("_", "-");
  const datasource = {
    type: "flexibleServer" as const,
    resourceId: "/subscriptions/3f2b8c1e-7d4a-4e5b-9c6f-0a1b2c3d4e5f/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-sched",
  };
  await putInstance({ name, policyName: flexPolicy, datasource, protectionState: "ProtectionConfigured", createdAt: "2026-01-01T00:00:00Z" });
  const port = recordingPort();
  await schedulerTick(new Date("2026-03-11T10:20:00Z"), port);
  expect(port.starts.filter((s) => s.instanceName === name)).toEqual([
    { instanceName: name, datasource, slot: new Date("2026-03-11T10:15:00Z"), jobId: `scheduled-${name}-20260311T1015Z` },
  ]);
});
