/**
 * The daily retention timer end to end, as `npm start` runs the app: a host process with the real durable engine
 * and management API, on a private Azurite. The 01:30 UTC tick is made to come due by moving the timer's stored
 * next occurrence into the past, so the tick fires at host start; a second start on the same day fires it again.
 */
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, expect, test } from "vitest";
import { retentionJobId } from "../../functions/retentionTimer";
import { getJob } from "../../shared/catalog/jobRows";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { repoRoot, startHostProcess, waitUntil } from "../support/localHost";
import { instanceName, instanceWithState, rowStatus, storedRecoveryPoint } from "../support/retentionFixture";
import { cluster } from "../support/testDatabase";

let vault: AzuriteInstance;
beforeAll(async () => {
  vault = await startAzurite();
  // Before any app module reads its configuration: this file's vault is its own.
  process.env.VaultStorage = vault.connectionString;
});
afterAll(() => vault?.stop());

/** What the host's schedule monitor would hold had the host been down at the last 01:30 UTC tick. */
async function missTheDailyTick(): Promise<void> {
  const timers = TableClient.fromConnectionString(vault.connectionString, "pgvaultTimers", { allowInsecureConnection: true });
  await timers.createTable();
  const missed = new Date(Date.now() - 60_000).toISOString();
  await timers.upsertEntity({ partitionKey: "timer", rowKey: "retentionTimer", data: JSON.stringify({ last: "", next: missed }) }, "Replace");
}

test("when the daily tick fires twice on one day (a retry, a restart), then one retention run starts and deletes the expired points", async () => {
  const name = instanceName("timer");
  await instanceWithState(name, "ProtectionStopped");
  const expired = await storedRecoveryPoint(name, new Date(), 31, -1);
  const env = { AzureWebJobsStorage: vault.connectionString, VaultStorage: vault.connectionString, PG_BIN_DIR: cluster().binDir };
  const jobId = retentionJobId(new Date());
  const durableStatus = async (origin: string) => (await fetch(`${origin}/runtime/webhooks/durabletask/instances/${jobId}`)).json() as Promise<Record<string, unknown>>;

  await missTheDailyTick();
  const first = await startHostProcess(repoRoot, env);
  let firstStatus: Record<string, unknown>;
  try {
    const job = await waitUntil(async () => {
      const row = await getJob(jobId);
      return row?.status === "Succeeded" ? row : undefined;
    }, 60_000, `job ${jobId} Succeeded`);
    expect(job).toMatchObject({ operation: "Retention", trigger: "Scheduled", instanceName: "*", phase: "Done" });
    expect(await rowStatus(expired)).toBe("Deleted");
    // The job's row is final before its orchestration ends: the job's events are published after its last step.
    firstStatus = await waitUntil(async () => {
      const status = await durableStatus(first.origin);
      return status.runtimeStatus === "Running" ? undefined : status;
    }, 60_000, `orchestration ${jobId} ended`);
    expect(firstStatus).toMatchObject({ name: "retention", runtimeStatus: "Completed", output: { deleted: 1, failed: 0 } });
  } finally {
    await first.kill("SIGTERM");
  }

  await missTheDailyTick();
  const second = await startHostProcess(repoRoot, env);
  try {
    await waitUntil(async () => (second.output().includes("retention run exists already") ? true : undefined), 30_000, "the second tick");
    expect(await durableStatus(second.origin)).toEqual(firstStatus);
    expect(await getJob(jobId)).toMatchObject({ status: "Succeeded" });
  } finally {
    await second.kill("SIGTERM");
  }
}, 180_000);
