/**
 * What the fault tests (test/faults/) share: a database whose dump takes seconds, so a fault can land while it
 * streams; a private vault Azurite persisted in a folder, which a test can stop and start again on the same ports
 * with the same data; and the backup orchestration run with a hook where the retry interval would pass.
 *
 * Each fault file has a vault of its own (set as `VaultStorage` before any app module reads its configuration):
 * stopping storage, failing writes or reconciling the vault must not reach other files' data.
 */
import { createHash } from "node:crypto";
import type { ClusterInfo } from "../../local-host/embedded/postgres";
import { backupOrchestrationName, backupOrchestrator, type BackupInput } from "../../orchestrators/backup";
import { getJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, DatabaseDatasource } from "../../shared/domain";
import { getBackupContainer } from "../../shared/catalog/vaultClients";
import { backupActivities, databaseSource, protect } from "./backupFixture";
import { waitUntil } from "./localHost";
import { runOrchestration, type FailedAttempt, type OrchestrationRun } from "./replayDriver";
import type { RestartableAzurite } from "./restartableAzurite";
import { cluster, createBackupRole, createDatabase, withAdmin } from "./testDatabase";

export { startRestartableAzurite, type RestartableAzurite } from "./restartableAzurite";

/**
 * A table `events` of poorly compressible rows: 600,000 (the default) make about 120 MB, which pg_dump streams as
 * about 35 MB in 4 s, its first 8 MiB block after about one: seconds to stop something mid-upload. `role` gets the
 * backup grants.
 */
export async function createLargeDatabase(database: string, role: string, password: string, server: ClusterInfo = cluster(), rows = 600_000): Promise<void> {
  await createDatabase(database, server);
  await withAdmin(
    database,
    (c) =>
      c.query(`CREATE TABLE events AS SELECT g AS id, md5(g::text) || md5((g * 31)::text) || md5((g * 7)::text) AS payload
               FROM generate_series(1, $1::int) g`, [rows]),
    server,
  );
  await createBackupRole(database, role, password, server);
}

/** The backup orchestration with the real activities, `betweenAttempts` run where a retry interval would pass. */
export async function runBackupWith(
  instance: BackupInstance,
  jobId: string,
  betweenAttempts?: (failed: FailedAttempt) => Promise<void> | void,
): Promise<OrchestrationRun> {
  const input: BackupInput = { instanceName: instance.name, datasource: instance.datasource as DatabaseDatasource, trigger: "OnDemand" };
  return runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input, activities: backupActivities, betweenAttempts });
}

/**
 * Protects `database` as `instanceName`, starts its backup, and stops the vault once the dump has staged a block
 * and committed nothing. Resolves then, with the blocks staged at that point and the orchestration still running.
 */
export async function backupCutMidUpload(
  vault: RestartableAzurite,
  instanceName: string,
  source: { database: string; secretRef: string },
  betweenAttempts?: (failed: FailedAttempt) => Promise<void> | void,
): Promise<{ running: Promise<OrchestrationRun>; jobId: string; blobName: string; stagedBeforeStop: number }> {
  const instance = await protect(instanceName, databaseSource(source.database, source.secretRef));
  const jobId = `backup-${instanceName}`;
  const running = runBackupWith(instance, jobId, betweenAttempts);
  const { blobName, staged } = await waitUntil(
    async () => {
      const rpId = (await getJob(jobId))?.recoveryPointId;
      const name = rpId && `${instanceName}/${rpId}/${source.database}.dump`;
      const count = name ? await uncommittedBlockCount(name) : 0;
      return name && count > 0 ? { blobName: name, staged: count } : undefined;
    },
    30_000,
    "a staged block",
  );
  if (await backupBlob(blobName).exists()) throw new Error(`${blobName} was committed before the vault could be stopped`);
  await vault.stop();
  return { running, jobId, blobName, stagedBeforeStop: staged };
}

/** A blob of the app's vault by its name inside the `backups` container. */
export function backupBlob(name: string) {
  return getBackupContainer().getBlockBlobClient(name);
}

/** Staged blocks of a blob that is not committed yet (0 when it has none, or does not exist). */
export async function uncommittedBlockCount(name: string): Promise<number> {
  const list = await backupBlob(name).getBlockList("uncommitted").catch(() => undefined);
  return list?.uncommittedBlocks?.length ?? 0;
}

/** Every blob under the prefix, committed or holding only uncommitted blocks. */
export async function blobsUnder(prefix: string): Promise<string[]> {
  const names: string[] = [];
  const container = getBackupContainer();
  if (!(await container.exists())) return names;
  for await (const blob of container.listBlobsFlat({ prefix, includeUncommitedBlobs: true })) names.push(blob.name);
  return names;
}

/** SHA-256 and size of a blob as downloaded now. */
export async function downloadedDigest(name: string): Promise<{ sha256: string; sizeBytes: number }> {
  const bytes = await backupBlob(name).downloadToBuffer();
  return { sha256: createHash("sha256").update(bytes).digest("hex"), sizeBytes: bytes.length };
}
