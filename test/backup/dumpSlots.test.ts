/**
 * The per-process cap on pg_dump (MAX_CONCURRENT_DUMPS, shared/backup/dumpSlots.ts): the slots themselves, the
 * spread of the waits, and a backup that finds every slot taken, replayed by durable-functions with the real
 * activities: it answers busy without starting pg_dump, the job waits `WaitingForSlot` on durable timers, and dumps
 * once a slot is free. The cap under load, with real concurrent pg_dump processes, is test/local-host/load.test.ts.
 */
import type { InvocationContext } from "@azure/functions";
import { describe, expect, test } from "vitest";
import { dumpDatabaseActivity, type DumpDatabaseInput } from "../../activities/dumpDatabase";
import { dumpSlotBusy, dumpsRunning, slotWaitMs, tryTakeDumpSlot, type DumpSlot } from "../../shared/backup/dumpSlots";
import { getJob } from "../../shared/catalog/jobRows";
import { getConfig } from "../../shared/config";
import type { Job } from "../../shared/domain";
import { backupOrchestrationName, backupOrchestrator, type BackupInput } from "../../orchestrators/backup";
import { backupActivities, databaseSource, envSecret, protect } from "../support/backupFixture";
import { EventType } from "../support/durableTesting";
import { runOrchestration } from "../support/replayDriver";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

describe("dump slots", () => {
  test("when the cap is reached, then no slot is given until one is released, and releasing twice frees one slot only", () => {
    const before = dumpsRunning();
    const first = tryTakeDumpSlot("job-a", before + 2);
    const second = tryTakeDumpSlot("job-b", before + 2);
    expect(first && second).toBeTruthy();
    expect(tryTakeDumpSlot("job-c", before + 2)).toBeUndefined();
    expect(dumpsRunning()).toBe(before + 2);
    first!.release();
    first!.release();
    expect(dumpsRunning()).toBe(before + 1);
    const third = tryTakeDumpSlot("job-c", before + 2);
    expect(third).toBeDefined();
    expect(tryTakeDumpSlot("job-d", before + 2)).toBeUndefined();
    second!.release();
    third!.release();
    expect(dumpsRunning()).toBe(before);
  });

  test("when more jobs wait, or the dumps ahead of them run longer, then the suggested wait grows, from 2 s to at most 5 minutes", async () => {
    const cap = dumpsRunning() + 1;
    const slot = tryTakeDumpSlot("long-dump", cap)!;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const one = dumpSlotBusy("waiter-0", cap).retryAfterMs;
    expect(one).toBe(2_000);
    let many = 0;
    for (let i = 1; i <= 200; i++) many = dumpSlotBusy(`waiter-${i}`, cap).retryAfterMs;
    expect(many).toBeGreaterThan(one);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const longer = dumpSlotBusy("waiter-0", cap).retryAfterMs;
    expect(longer).toBeGreaterThan(many);
    expect(longer).toBeLessThanOrEqual(5 * 60_000);
    slot.release();
    // Waiters that got a slot no longer count.
    for (let i = 0; i <= 200; i++) tryTakeDumpSlot(`waiter-${i}`, dumpsRunning() + 1)!.release();
  });

  test("when jobs wait for a slot, then each waits the same on every replay, half to one and a half times the suggestion, spread across jobs", () => {
    const jobs = Array.from({ length: 50 }, (_, i) => `scheduled-load-${i}-20261122T0230Z`);
    for (const job of jobs) expect(slotWaitMs(job, 0, 10_000)).toBe(slotWaitMs(job, 0, 10_000));
    const waits = jobs.map((job) => slotWaitMs(job, 0, 10_000));
    for (const ms of waits) expect(ms).toBeGreaterThanOrEqual(5_000), expect(ms).toBeLessThanOrEqual(15_000);
    // Spread: 50 jobs refused together do not come back together.
    expect(new Set(waits.map((ms) => Math.floor(ms / 1000))).size).toBeGreaterThanOrEqual(9);
    expect(slotWaitMs(jobs[0]!, 1, 10_000)).not.toBe(slotWaitMs(jobs[0]!, 0, 10_000));
  });
});

describe("a backup when every dump slot is taken", () => {
  test("when no slot is free, then the dump answers busy without starting pg_dump, the job waits WaitingForSlot on timers, and dumps once a slot frees", async () => {
    const database = uniqueName("slots");
    const role = uniqueName("slots_user");
    await createDatabase(database);
    await withAdmin(database, (c) => c.query("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)"));
    await createBackupRole(database, role, "pw-slots");
    const instance = await protect(uniqueName("slots").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-slots")));
    // Every slot of this process taken, as by other dumps running in the same worker.
    const held: DumpSlot[] = [];
    for (let slot = tryTakeDumpSlot("other-dump"); slot; slot = tryTakeDumpSlot("other-dump")) held.push(slot);
    expect(held).toHaveLength(getConfig().maxConcurrentDumps);
    let asked = 0;
    let whileWaiting: Job | undefined;
    const sessionsWhileBusy: number[] = [];
    const jobId = `backup-${instance.name}-slots`;
    const dump = async (input: DumpDatabaseInput, context: InvocationContext) => {
      asked += 1;
      if (asked === 2) whileWaiting = await getJob(jobId);
      // The other dumps end before the third look.
      if (asked === 3) held.splice(0).forEach((slot) => slot.release());
      const result = await dumpDatabaseActivity(input, context);
      if (asked < 3) {
        sessionsWhileBusy.push(await withAdmin(database, async (c) => (await c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND usename = $2`, [database, role])).rowCount ?? 0));
      }
      return result;
    };

    const input: BackupInput = { instanceName: instance.name, datasource: instance.datasource as BackupInput["datasource"], trigger: "OnDemand" };
    const run = await runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input, activities: { ...backupActivities, dumpDatabase: dump } });

    expect(run.state.error).toBeUndefined();
    expect(asked).toBe(3);
    expect(sessionsWhileBusy).toEqual([0, 0]);
    expect(whileWaiting).toMatchObject({ status: "InProgress", phase: "WaitingForSlot" });
    expect(run.customStatuses).toContainEqual({ phase: "WaitingForSlot" });
    const timers = run.history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => Date.parse((e as { FireAt?: string }).FireAt ?? ""));
    expect(timers).toHaveLength(2);
    // Each wait is the suggestion the busy answer carried, spread for this job and attempt.
    const answers = run.history
      .filter((e) => e.EventType === EventType.TaskCompleted)
      .map((e) => JSON.parse((e as { Result?: string }).Result ?? "null") as { value?: { busy?: boolean; retryAfterMs?: number } } | null)
      .filter((result) => result?.value?.busy)
      .map((result) => result!.value!.retryAfterMs!);
    expect(answers).toHaveLength(2);
    const waited = timers[1]! - timers[0]!;
    expect(waited).toBeGreaterThanOrEqual(slotWaitMs(jobId, 1, answers[1]!));
    expect(waited).toBeLessThan(slotWaitMs(jobId, 1, answers[1]!) + 5_000);
    expect(run.logs.filter((line) => line.includes("dump slots of this host are taken"))).toHaveLength(2);
    const job = await getJob(jobId);
    expect(job).toMatchObject({ status: "Succeeded", phase: "Done" });
    expect(job?.recoveryPointId).toMatch(/^rp-/);
    expect(dumpsRunning()).toBe(0);
  });
});
