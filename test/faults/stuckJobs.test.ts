/**
 * Which open jobs the reconciliation settles: job rows as crashes and outages leave them, in this file's own vault,
 * against orchestration states as the durable client reports them (the local host's own, in hostKilled.test.ts);
 * and the recovery points such a job left half recorded.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { getRecoveryPoint } from "../../shared/catalog/recoveryPointReads";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { Job } from "../../shared/domain";
import { missingOrchestrationGraceMs, orphanMinAgeMs, reconcileVault, type OrchestrationState } from "../../shared/retention/reconcile";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { isoSeconds } from "../../shared/time/isoTime";
import { blobExists, instanceName, instanceWithState, storedRecoveryPoint } from "../support/retentionFixture";
import { uniqueName } from "../support/testDatabase";

let vault: AzuriteInstance;
beforeAll(async () => {
  vault = await startAzurite();
  // Before any app module reads its configuration: this file's vault is its own.
  process.env.VaultStorage = vault.connectionString;
});
afterAll(() => vault?.stop());

async function openJob(name: string, status: "Queued" | "InProgress", startedMsAgo: number, extra: Partial<Job> = {}): Promise<string> {
  const id = uniqueName(name);
  const startTime = isoSeconds(new Date(Date.now() - startedMsAgo));
  await updateJob(id, { operation: "Backup", trigger: "OnDemand", instanceName: "sales", status, phase: status === "Queued" ? "Queued" : "Uploading", startTime, bytes: 0, ...extra });
  return id;
}

test("when a job's orchestration has ended or vanished without finishing it, then the reconciliation fails it, and leaves every job that may still finish", async () => {
  const minutes = 60_000;
  const storageDown = await openJob("storagedown", "InProgress", 30 * minutes);
  const terminated = await openJob("terminated", "InProgress", 30 * minutes);
  const failedUnrecorded = await openJob("failedunrecorded", "InProgress", 30 * minutes);
  const neverStarted = await openJob("neverstarted", "Queued", missingOrchestrationGraceMs + 5 * minutes);
  const justQueued = await openJob("justqueued", "Queued", 5 * minutes);
  const running = await openJob("running", "InProgress", 10 * 60 * minutes);
  const cancelling = await openJob("cancelling", "InProgress", 30 * minutes, { cancelRequested: true });
  const self = await openJob("retention", "InProgress", 1 * minutes);
  const orchestrations = new Map<string, OrchestrationState>([
    [storageDown, { runtimeStatus: "Failed", output: "SystemErrorStorageUnavailable: Vault storage was unavailable while updating job x (ECONNREFUSED)." }],
    [terminated, { runtimeStatus: "Terminated", output: "stopped by an operator" }],
    [failedUnrecorded, { runtimeStatus: "Failed", output: "Orchestrator function 'backup' failed: SystemErrorUnexpected: Instance 'sales' or its policy disappeared during the backup." }],
    [running, { runtimeStatus: "Running" }],
    [cancelling, { runtimeStatus: "Terminated", output: "Cancelled on request" }],
    [`cancel-${cancelling}`, { runtimeStatus: "Running" }],
    [self, { runtimeStatus: "Running" }],
  ]);
  const asked: string[] = [];
  const now = new Date();

  const report = await reconcileVault({
    now,
    selfJobId: self,
    orchestration: async (instanceId) => {
      asked.push(instanceId);
      return orchestrations.get(instanceId);
    },
    cancelCleanupId: (id) => `cancel-${id}`,
  });

  expect([...report.jobsFailed].sort()).toEqual([failedUnrecorded, neverStarted, storageDown, terminated].sort());
  expect(report.failed).toEqual([]);
  expect(await getJob(storageDown)).toMatchObject({
    status: "Failed",
    endTime: isoSeconds(now),
    error: {
      code: "SystemErrorStorageUnavailable",
      message: "The job's orchestration ended (Failed) without finishing the job: Vault storage was unavailable while updating job x (ECONNREFUSED).",
    },
  });
  expect((await getJob(terminated))?.error).toMatchObject({ code: "SystemErrorUnexpected", message: "The job's orchestration ended (Terminated) without finishing the job." });
  expect((await getJob(failedUnrecorded))?.error).toMatchObject({
    code: "SystemErrorUnexpected",
    message: "The job's orchestration ended (Failed) without finishing the job: Instance 'sales' or its policy disappeared during the backup.",
  });
  expect((await getJob(neverStarted))?.error).toMatchObject({
    code: "SystemErrorUnexpected",
    message: "The job's orchestration does not exist (it never started, or was purged): it ended without finishing the job.",
  });
  for (const id of [justQueued, running, cancelling, self]) expect((await getJob(id))?.status).not.toBe("Failed");
  expect(asked).not.toContain(self);
});

test("when a job ended without finishing the record of its point, then a day later the reconciliation removes the row, then the dump; a point its running job still records stays", async () => {
  const name = instanceName("abandoned");
  await instanceWithState(name);
  const ended = await openJob("abandoning", "InProgress", 30 * 60_000);
  const abandoned = await storedRecoveryPoint(name, new Date(), 0, 30, { recordingJob: ended });
  await updateJob(ended, { status: "Failed", recoveryPointId: abandoned.id });
  const running = await openJob("recording", "InProgress", 30 * 60_000);
  const recording = await storedRecoveryPoint(name, new Date(), 0, 30, { recordingJob: running });
  await updateJob(running, { recoveryPointId: recording.id });

  const report = await reconcileVault({ now: new Date(Date.now() + orphanMinAgeMs + 60_000), selfJobId: "none", cancelCleanupId: (id) => `cancel-${id}` });

  expect(report).toMatchObject({ orphansDeleted: [`${name}/${abandoned.id}`], failed: [] });
  expect([await getRecoveryPoint(name, abandoned.id), await blobExists(abandoned.blobs[0]!)]).toEqual([undefined, false]);
  expect(await getRecoveryPoint(name, recording.id)).toEqual(recording);
  expect(await blobExists(recording.blobs[0]!)).toBe(true);
});
