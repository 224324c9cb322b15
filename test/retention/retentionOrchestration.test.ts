/**
 * The daily `retention` orchestration, run through durable-functions' replay with the real activities, against a
 * private Azurite: the run sweeps every instance of the vault, so its own vault keeps its output exact. Tests run
 * in order: the vault starts empty.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { applyRetentionActivity } from "../../activities/applyRetention";
import { instanceNamesPageSize, listInstanceNamesActivity } from "../../activities/listInstanceNames";
import { reconcileVaultActivity } from "../../activities/reconcileVault";
import { publishEventsActivity } from "../../activities/publishEvents";
import { updateJobActivity } from "../../activities/updateJob";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { listedInstancesAtMost, retentionAfterBackup, retentionOrchestrationName, retentionOrchestrator, type InstanceRetention, type RetentionOutput } from "../../orchestrators/retention";
import { listInstances } from "../../shared/catalog/catalog";
import { getJob } from "../../shared/catalog/jobRows";
import type { RecoveryPoint } from "../../shared/domain";
import { getTableClient } from "../../shared/catalog/vaultClients";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { largestPayload } from "../support/durablePayloads";
import { replayFinished, runOrchestration } from "../support/replayDriver";
import { blobExists, instanceName, instanceWithState, rowStatus, storedRecoveryPoint, vaultBlob } from "../support/retentionFixture";

const activities = {
  updateJob: updateJobActivity,
  // How the job ended, and anything else worth an event (a no-op without EVENT_GRID_TOPIC_ENDPOINT).
  publishEvents: publishEventsActivity,
  listInstanceNames: listInstanceNamesActivity,
  applyRetention: applyRetentionActivity,
  reconcileVault: reconcileVaultActivity,
};

let vault: AzuriteInstance;
beforeAll(async () => {
  vault = await startAzurite();
  // Before any app module reads its configuration: this file's vault is its own.
  process.env.VaultStorage = vault.connectionString;
});
afterAll(() => vault?.stop());

async function runRetention() {
  const jobId = `retention-test-${Date.now()}`;
  const run = await runOrchestration(retentionOrchestrator, { name: retentionOrchestrationName, instanceId: jobId, input: null, activities });
  return { ...run, jobId, output: run.state.output as RetentionOutput | undefined };
}

/** What the backup orchestration does after recording its recovery point. */
const afterBackup: OrchestrationHandler = function* (context: OrchestrationContext) {
  return yield* retentionAfterBackup(context, context.df.getInput<{ instanceName: string }>().instanceName);
};

const byName = (instances: InstanceRetention[]) => [...instances].sort((a, b) => a.instanceName.localeCompare(b.instanceName));

/**
 * A row whose document is not JSON (its columns intact, so retention's query selects it): reading the instance's
 * recovery points fails, as with a damaged catalog.
 */
async function damageRecoveryPoints(name: string): Promise<void> {
  await getTableClient("recoveryPoints").upsertEntity({ partitionKey: name, rowKey: "rp-99991231T235959Z-ffffffff", doc: "{not json", status: "Available" }, "Replace");
}

describe("the retention orchestration", () => {
  test("when there are no instances, then the job succeeds with nothing to do", async () => {
    const run = await runRetention();
    expect(run.state.error).toBeUndefined();
    expect(run.output).toMatchObject({ deleted: 0, kept: 0, failed: 0, instances: [] });
    expect(await getJob(run.jobId)).toMatchObject({ operation: "Retention", status: "Succeeded" });
  });

  test("when instances have expired points, then each instance is cleaned as of the run's time, one stuck blob is reported, and the job succeeds with a summary", async () => {
    const now = new Date();
    const [tidy, failing, stopped, stuck] = ["a-tidy", "b-failing", "c-stopped", "d-stuck"].map((prefix) => instanceName(prefix)) as [string, string, string, string];
    await instanceWithState(tidy);
    const tidyFresh = await storedRecoveryPoint(tidy, now, 1, 29);
    const tidyExpired = [await storedRecoveryPoint(tidy, now, 31, -1), await storedRecoveryPoint(tidy, now, 45, -15)];
    await instanceWithState(failing);
    const lastGood = await storedRecoveryPoint(failing, now, 33, -3);
    await storedRecoveryPoint(failing, now, 34, -4);
    await instanceWithState(stopped, "ProtectionStopped");
    const stoppedNewest = await storedRecoveryPoint(stopped, now, 31, -1);
    await instanceWithState(stuck);
    await storedRecoveryPoint(stuck, now, 1, 29);
    const leased = await storedRecoveryPoint(stuck, now, 31, -1);
    await storedRecoveryPoint(stuck, now, 32, -2);
    await vaultBlob(leased.blobs[0]!).getBlobLeaseClient().acquireLease(-1);

    const run = await runRetention();

    expect(run.state.error).toBeUndefined();
    expect(Date.parse(run.output!.now)).toBeGreaterThanOrEqual(Math.floor(now.getTime() / 1000) * 1000);
    expect({ ...run.output, instances: byName(run.output!.instances) }).toEqual({
      now: run.output!.now,
      deleted: 2 + 1 + 1 + 1,
      kept: 0,
      failed: 1,
      instancesChecked: 4,
      instancesNotListed: 0,
      instances: [
        { instanceName: tidy, deleted: 2, kept: 0, failed: 0 },
        { instanceName: failing, deleted: 1, kept: 0, failed: 0 },
        { instanceName: stopped, deleted: 1, kept: 0, failed: 0 },
        { instanceName: stuck, deleted: 1, kept: 0, failed: 1 },
      ],
      // Every dump folder has its row: nothing for the reconciliation (test/faults/ covers it).
      // The fleet's RPO health is the shared vault's, other tests' instances included: only counted here.
      reconciliation: {
        jobsFailed: 0, orphansDeleted: 0, orphansKept: 0, uncommittedLeft: 0, summariesCounted: expect.any(Number),
        rpoAtRisk: expect.any(Number), rpoBreached: expect.any(Number), rpoEvents: expect.any(Number), failed: 0,
      },
    });
    for (const rp of tidyExpired) expect([await rowStatus(rp), await blobExists(rp.blobs[0]!)]).toEqual(["Deleted", false]);
    expect(await rowStatus(tidyFresh)).toBe("Available");
    expect(await rowStatus(lastGood)).toBe("Available");
    expect(await rowStatus(stoppedNewest)).toBe("Deleted");
    expect(await rowStatus(leased)).toBe("Available");
    expect(run.logs.find((line) => line.includes(`could not delete ${leased.id}`))).toMatch(
      new RegExp(`^\\[job=${run.jobId} instance=${stuck} operation=Retention\\] could not delete .*: SystemErrorUnexpected: .*HTTP 412`),
    );
    expect(await getJob(run.jobId)).toMatchObject({ operation: "Retention", trigger: "Scheduled", instanceName: "*", status: "Succeeded", phase: "Done", endTime: expect.any(String) });
    expect(run.customStatuses.at(-1)).toEqual({ phase: "Done" });

    // A host restart replays the finished history to the same end, without touching the vault again.
    const replayed = await replayFinished(retentionOrchestrator, { name: retentionOrchestrationName, instanceId: run.jobId, input: null, history: run.history });
    expect(replayed.output).toEqual(run.state.output);
  });

  test("when one instance's catalog rows cannot be read, then its error is in the summary, and the others are still cleaned", async () => {
    const now = new Date();
    const damaged = instanceName("e-damaged");
    await instanceWithState(damaged);
    await storedRecoveryPoint(damaged, now, 31, -1);
    await damageRecoveryPoints(damaged);
    const healthy = instanceName("f-healthy");
    await instanceWithState(healthy);
    await storedRecoveryPoint(healthy, now, 1, 29);
    const expired = await storedRecoveryPoint(healthy, now, 31, -1);

    const run = await runRetention();

    expect(run.state.error).toBeUndefined();
    const instances = run.output!.instances;
    expect(instances.find((i) => i.instanceName === damaged)).toEqual({
      instanceName: damaged,
      deleted: 0,
      kept: 0,
      failed: 0,
      error: expect.objectContaining({ code: "SystemErrorUnexpected", message: expect.stringContaining("listing recoveryPoints") }),
    });
    expect(instances.find((i) => i.instanceName === healthy)).toEqual({ instanceName: healthy, deleted: 1, kept: 0, failed: 0 });
    expect(await rowStatus(expired)).toBe("Deleted");
    expect(await getJob(run.jobId)).toMatchObject({ status: "Succeeded" });
  });

  test("when retention runs right after an instance's backup, then its expired points go and the one just recorded stays", async () => {
    const now = new Date();
    const name = instanceName("g-backedup");
    await instanceWithState(name);
    const justRecorded = await storedRecoveryPoint(name, now, 0, 30);
    const expired = await storedRecoveryPoint(name, now, 30, 0);

    const run = await runOrchestration(afterBackup, { name: "afterBackup", instanceId: `backup-${name}`, input: { instanceName: name }, activities });

    expect(run.state.output).toEqual({ instanceName: name, deleted: 1, kept: 0, failed: 0 });
    expect([await rowStatus(justRecorded), await rowStatus(expired)]).toEqual(["Available", "Deleted"]);
  });

  test("when retention after a backup fails, then the backup orchestration gets the error as a value and goes on", async () => {
    const name = instanceName("h-damaged");
    await instanceWithState(name);
    await damageRecoveryPoints(name);

    const run = await runOrchestration(afterBackup, { name: "afterBackup", instanceId: `backup-${name}`, input: { instanceName: name }, activities });

    expect(run.state.error).toBeUndefined();
    expect(run.state.output).toEqual({ instanceName: name, deleted: 0, kept: 0, failed: 0, error: expect.objectContaining({ code: "SystemErrorUnexpected" }) });
  });

  test("when more instances than a page have expired points, then every one is cleaned, the names come a page at a time, and no history event grows with them", async () => {
    const now = new Date();
    const before = await listInstances();
    const expired: RecoveryPoint[] = [];
    // 60 instances with an expired point and 60 with nothing to do: two pages of names, more news than the output lists.
    for (let i = 0; i < 60; i++) {
      const busy = instanceName(`i-many-${String(i).padStart(2, "0")}`);
      await instanceWithState(busy);
      await storedRecoveryPoint(busy, now, 1, 29);
      expired.push(await storedRecoveryPoint(busy, now, 31, -1));
      await instanceWithState(instanceName(`j-quiet-${String(i).padStart(2, "0")}`));
    }
    // A problem that comes last in name order, when the list is full.
    const lastDamaged = instanceName("k-damaged");
    await instanceWithState(lastDamaged);
    await damageRecoveryPoints(lastDamaged);

    const run = await runRetention();

    expect(run.state.error).toBeUndefined();
    for (const rp of expired) expect(await rowStatus(rp)).toBe("Deleted");
    const output = run.output!;
    const checked = before.length + 121;
    expect(output).toMatchObject({ instancesChecked: checked, deleted: 60 });
    expect(run.attempts.filter((a) => a.name === "listInstanceNames")).toHaveLength(Math.ceil((checked + 1) / instanceNamesPageSize));
    // Every instance with a problem is listed (earlier tests left a leased blob and damaged rows), the rest as room allows.
    const problems = output.instances.filter((i) => i.error || i.failed > 0).map((i) => i.instanceName);
    expect(problems.sort()).toEqual([...before.filter((i) => /^(d-stuck|e-damaged|h-damaged)/.test(i.name)).map((i) => i.name), lastDamaged].sort());
    expect(output.instances).toHaveLength(listedInstancesAtMost);
    expect(output.instancesNotListed).toBe(60 + problems.length - listedInstancesAtMost);
    const largest = largestPayload(run);
    expect(largest.bytes, largest.what).toBeLessThan(16 * 1024);
  });

  test("when every instance fails, then the job and the orchestration fail with the first instance's error", async () => {
    for (const instance of await listInstances()) await damageRecoveryPoints(instance.name);

    const run = await runRetention();

    expect(run.state.error).toMatch(/^SystemErrorUnexpected: Vault storage refused listing recoveryPoints/);
    expect(await getJob(run.jobId)).toMatchObject({
      operation: "Retention",
      status: "Failed",
      error: { code: "SystemErrorUnexpected", message: expect.stringContaining("listing recoveryPoints") },
    });
  });
});
