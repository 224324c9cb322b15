/**
 * The instance summaries the Backup Center reads (shared/catalog/instanceSummaries.ts) agree with a full recount
 * of their instance's rows after a randomized run of backups, restores, cancels and deletes, several at once on
 * one instance; one that is missing is counted when the page needs it, and one that went wrong is put right by
 * the nightly reconciliation (the next night when a job's change was missed, on its night of the week otherwise).
 * Instances of their own, in the suite's shared vault.
 */
import { describe, expect, test } from "vitest";
import { backupCenterSummary } from "../../shared/backupCenter/summary";
import { changeRecoveryPoint, insertRecoveryPoint, markRecoveryPointDeleted, putInstance, removeRecoveryPoint } from "../../shared/catalog/catalog";
import { instanceSummariesTable, readInstanceSummaries, summarize, summaryStart, type StoredSummary } from "../../shared/catalog/instanceSummaries";
import { listJobs } from "../../shared/catalog/jobLists";
import { updateJob } from "../../shared/catalog/jobRows";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { nameShard } from "../../shared/catalog/nameShard";
import { recountCycleNights } from "../../shared/catalog/summaryRepair";
import { getReadyTableClient } from "../../shared/catalog/vaultClients";
import type { BackupInstance, Job, RecoveryPoint } from "../../shared/domain";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { reconcileVault } from "../../shared/retention/reconcile";
import { SeededRandom } from "../support/seededRandom";
import { uniqueName } from "../support/testDatabase";

const second = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const name = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");
/** A fresh name that `keep` accepts (the weekly night is the name's shard). */
function nameWhere(prefix: string, keep: (name: string) => boolean): string {
  for (;;) {
    const candidate = name(prefix);
    if (keep(candidate)) return candidate;
  }
}

async function putSummary(summary: StoredSummary): Promise<void> {
  const table = await getReadyTableClient(instanceSummariesTable);
  await table.upsertEntity({ partitionKey: "summary", rowKey: summary.instanceName, summary: JSON.stringify(summary) }, "Replace");
}

function instance(instanceName: string): BackupInstance {
  return {
    name: instanceName,
    policyName: "summaries-policy-absent",
    datasource: { type: "database", host: "pg.example.com", port: 5432, database: "sales", secretRef: "env:UNUSED" },
    protectionState: "ProtectionStopped",
    createdAt: new Date().toISOString(),
  };
}

function point(instanceName: string, time: number, random: SeededRandom): RecoveryPoint {
  const id = recoveryPointId(new Date(time), random.int(0, 2 ** 31).toString(16).padStart(8, "0"));
  return {
    id,
    instanceName,
    time: second(time),
    tag: "Default",
    expiresAt: "2099-01-01T00:00:00Z",
    status: "Available",
    sizeBytes: random.int(1, 10_000),
    sha256: "00",
    format: "pg_dump-custom",
    serverVersion: "15.18",
    toolVersion: "pg_dump 15.18",
    blobs: [`backups/${instanceName}/${id}/sales.dump`],
  };
}

/** What a recount from scratch says, at the time the stored one was counted. */
async function recount(instanceName: string, countedAt: string): Promise<StoredSummary> {
  const at = new Date(countedAt);
  const [jobs, points] = await Promise.all([listJobs({ instanceName, from: summaryStart(at) }), listRecoveryPoints(instanceName)]);
  return summarize(instanceName, jobs, points, at);
}

/** The newest Available point recorded complete, found here without the app's helpers (its time, then its id). */
async function newestAvailableByHand(instanceName: string): Promise<{ id: string; time: string } | null> {
  const usable = (await listRecoveryPoints(instanceName)).filter((rp) => rp.status === "Available" && !("recording" in rp));
  usable.sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || (a.id < b.id ? 1 : -1));
  return usable[0] ? { id: usable[0].id, time: usable[0].time } : null;
}

/** One lane of work on an instance: a backup (with its point), a restore, a cancel, a point deleted or soft-deleted. */
async function lane(instanceName: string, random: SeededRandom, steps: number, label: string, afterStep?: (step: string) => Promise<void>): Promise<void> {
  const now = Date.now();
  let done = 0;
  for (let step = 0; step < steps; step++) {
    const kind = random.int(0, 4);
    await oneStep(kind);
    await afterStep?.(`step ${step}, kind ${kind}`);
  }

  async function oneStep(kind: number): Promise<void> {
    const step = done++;
    const start = now - random.int(0, 40) * 86_400_000 - random.int(0, 86_399) * 1000;
    const id = `${instanceName}-${label}-${step}`;
    const base: Partial<Job> = { trigger: "Scheduled", instanceName, startTime: second(start), phase: "Queued", bytes: 0 };
    if (kind <= 1) {
      await updateJob(id, { ...base, operation: "Backup", status: "Queued" });
      await updateJob(id, { status: "InProgress", phase: "Uploading" });
      if (random.int(0, 3) === 0) {
        await updateJob(id, { status: "Failed", phase: "Done", endTime: second(start + 60_000) });
        return;
      }
      const rp = point(instanceName, start + 30_000, random);
      await insertRecoveryPoint(rp);
      await updateJob(id, { status: "Succeeded", phase: "Done", endTime: second(start + 60_000), recoveryPointId: rp.id, bytes: rp.sizeBytes });
    } else if (kind === 2) {
      await updateJob(id, { ...base, operation: "Restore", trigger: "OnDemand", status: "InProgress" });
      await updateJob(id, { status: random.pick(["Succeeded", "Failed"] as const), phase: "Done", endTime: second(start + 90_000) });
    } else if (kind === 3) {
      await updateJob(id, { ...base, operation: "Backup", status: "InProgress" });
      await updateJob(id, { status: "Cancelled", phase: "Done", endTime: second(start + 5_000) }, { afterFinish: true });
    } else {
      const points = (await listRecoveryPoints(instanceName)).filter((rp) => rp.status !== "Deleted");
      if (points.length === 0) return;
      const victim = random.pick(points);
      const how = random.int(0, 2);
      if (how === 0) await markRecoveryPointDeleted(instanceName, victim.id);
      else if (how === 1) await changeRecoveryPoint(instanceName, victim.id, (rp) => ({ ...rp, status: "SoftDeleted" }));
      else await removeRecoveryPoint(instanceName, victim.id, () => true);
    }
  }
}

describe("instance summaries", () => {
  test("when one change follows another (each kind of job and point change), then after every one the summary equals a full recount", async () => {
    const instanceName = name("sum-seq");
    await putInstance(instance(instanceName));
    const kinds = new Set<string>();
    await lane(instanceName, new SeededRandom(41), 30, "s", async (step) => {
      kinds.add(step.replace(/^step \d+, /, ""));
      const summary = (await readInstanceSummaries()).get(instanceName)!;
      expect(summary, step).toEqual(await recount(instanceName, summary.countedAt));
      expect(summary.newestAvailable, step).toEqual(await newestAvailableByHand(instanceName));
    });
    expect(kinds.size).toBe(5);
    // A newer point its backup has not finished recording is not the newest Available one yet.
    const recording = point(instanceName, Date.now() + 3_600_000, new SeededRandom(42));
    await insertRecoveryPoint({ ...recording, recording: { jobId: `${instanceName}-recording` } });
    const summary = (await readInstanceSummaries()).get(instanceName)!;
    expect(summary.newestAvailable).not.toBeNull();
    expect(summary.newestAvailable?.id).not.toBe(recording.id);
    expect(summary.newestAvailable).toEqual(await newestAvailableByHand(instanceName));
  }, 120_000);

  test("when backups, restores, cancels and deletes run at random, three at once per instance, then each summary equals a full recount", async () => {
    const names = [name("sum-a"), name("sum-b")];
    for (const instanceName of names) await putInstance(instance(instanceName));
    await Promise.all(names.flatMap((instanceName, i) => [0, 1, 2].map((l) => lane(instanceName, new SeededRandom(100 * i + l), 12, `l${l}`))));
    const stored = await readInstanceSummaries();
    for (const instanceName of names) {
      const summary = stored.get(instanceName)!;
      expect(summary).toBeDefined();
      expect(summary).toEqual(await recount(instanceName, summary.countedAt));
      expect(summary.newestAvailable).toEqual(await newestAvailableByHand(instanceName));
      // Not an empty agreement: the run left points and jobs to count.
      expect(summary.recoveryPoints.count + Object.keys(summary.days).length).toBeGreaterThan(0);
    }
  }, 120_000);

  test("when an instance has no summary (a catalog from before them), then the page counts it, once", async () => {
    const instanceName = name("sum-missing");
    await putInstance(instance(instanceName));
    const random = new SeededRandom(9);
    await lane(instanceName, random, 4, "m");
    const table = await getReadyTableClient(instanceSummariesTable);
    await table.deleteEntity("summary", instanceName);
    const page = await backupCenterSummary(new Date());
    const shown = page.instances.find((row) => row.name === instanceName)!;
    const stored = (await readInstanceSummaries()).get(instanceName)!;
    expect(shown.recoveryPoints).toEqual(stored.recoveryPoints);
    expect(stored).toEqual(await recount(instanceName, stored.countedAt));
  }, 60_000);

  test("when a summary was stored before it held the newest Available point, then the page counts it again, once, and keeps it", async () => {
    const instanceName = name("sum-old");
    await putInstance(instance(instanceName));
    await lane(instanceName, new SeededRandom(77), 6, "o");
    const { newestAvailable: _newest, ...before } = (await readInstanceSummaries()).get(instanceName)!;
    await putSummary(before);
    const page = await backupCenterSummary(new Date());
    expect(page.instances.find((row) => row.name === instanceName)).toBeDefined();
    const stored = (await readInstanceSummaries()).get(instanceName)!;
    expect(stored.newestAvailable).toEqual(await newestAvailableByHand(instanceName));
    expect(stored).toEqual(await recount(instanceName, stored.countedAt));
  }, 60_000);

  test("when a refresh failed after a job's change, then the nightly reconciliation's check finds the summary and counts it again", async () => {
    const tonight = Math.floor(Date.now() / 86_400_000) % recountCycleNights;
    const instanceName = nameWhere("sum-job", (n) => nameShard(n, recountCycleNights) !== tonight); // not its weekly night
    await putInstance(instance(instanceName));
    await lane(instanceName, new SeededRandom(5), 5, "w");
    const id = `${instanceName}-today`;
    await updateJob(id, { trigger: "Scheduled", instanceName, operation: "Backup", startTime: second(Date.now() - 1000), phase: "Queued", bytes: 0, status: "InProgress" });
    const before = (await readInstanceSummaries()).get(instanceName)!;
    await updateJob(id, { status: "Failed", phase: "Done", endTime: second(Date.now()) });
    // The refresh after the change "failed": the summary from before it is back.
    await putSummary(before);
    const report = await reconcileVault({ now: new Date(), selfJobId: "none", cancelCleanupId: (jobId) => `cancel-${jobId}` });
    expect(report.summariesCounted).toBeGreaterThan(0);
    expect(report.summariesCounted).toBeLessThan(report.summariesChecked);
    const stored = (await readInstanceSummaries()).get(instanceName)!;
    expect(stored).not.toEqual(before);
    expect(stored).toEqual(await recount(instanceName, stored.countedAt));
  }, 120_000);

  test("when a summary is wrong where the check cannot see (its points), then it is counted again on its night of the week, and not on the others", async () => {
    const tonight = Math.floor(Date.now() / 86_400_000) % recountCycleNights;
    const due = nameWhere("sum-night", (n) => nameShard(n, recountCycleNights) === tonight);
    const notDue = nameWhere("sum-other", (n) => nameShard(n, recountCycleNights) !== tonight);
    for (const [i, instanceName] of [due, notDue].entries()) {
      await putInstance(instance(instanceName));
      await lane(instanceName, new SeededRandom(50 + i), 5, "p");
      const right = (await readInstanceSummaries()).get(instanceName)!;
      await putSummary({ ...right, recoveryPoints: { count: 999, bytes: 1 } });
    }
    await reconcileVault({ now: new Date(), selfJobId: "none", cancelCleanupId: (jobId) => `cancel-${jobId}` });
    const stored = await readInstanceSummaries();
    expect(stored.get(due)!.recoveryPoints.count).not.toBe(999);
    expect(stored.get(due)).toEqual(await recount(due, stored.get(due)!.countedAt));
    expect(stored.get(notDue)!.recoveryPoints).toEqual({ count: 999, bytes: 1 });
  }, 120_000);
});
