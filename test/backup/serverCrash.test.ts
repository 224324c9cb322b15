/**
 * The database server dies while pg_dump streams into the vault (its own throwaway cluster, so other test files
 * keep theirs). The job must fail with the spec code, leave no recovery point, and leave only uncommitted
 * blocks, never a committed blob, even though data had already been uploaded.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { committedBlobs, databaseSource, envSecret, protect, runBackup, vaultContainer } from "../support/backupFixture";
import { startPostgresCluster, type PostgresCluster } from "../../local-host/embedded/postgres";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let server: PostgresCluster;
beforeAll(async () => {
  server = await startPostgresCluster();
});
afterAll(() => server.destroy());

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("when the server is killed mid-dump, then the job fails with UserErrorServerUnreachable and nothing is committed", async () => {
  const database = uniqueName("crash");
  const role = uniqueName("crash_user");
  await createDatabase(database, server);
  // About 200 MB of poorly compressible rows: the dump runs for seconds, long enough to be cut.
  await withAdmin(database, (c) =>
    c.query(`CREATE TABLE events AS SELECT g AS id, md5(g::text) || md5((g * 31)::text) || md5((g * 7)::text) AS payload
             FROM generate_series(1, 1500000) g`), server);
  await createBackupRole(database, role, "pw-crash", server);
  const instance = await protect(uniqueName("crash").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-crash", server), server));
  const jobId = `backup-${instance.name}-crash`;

  const running = runBackup(instance, jobId);
  // Wait until the dump has staged at least one block in the vault, then kill the server like a crash.
  const blobName = await waitFor(async () => {
    const rpId = (await getJob(jobId))?.recoveryPointId;
    if (!rpId) return undefined;
    const blob = vaultContainer().getBlockBlobClient(`${instance.name}/${rpId}/${database}.dump`);
    const blocks = await blob.getBlockList("uncommitted").catch(() => undefined);
    return blocks?.uncommittedBlocks?.length ? blob.name : undefined;
  });
  await server.kill();
  const run = await running;

  const job = await getJob(jobId);
  expect(job?.status).toBe("Failed");
  expect(job?.error?.code).toBe("UserErrorServerUnreachable");
  expect(run.state.error).toContain("UserErrorServerUnreachable");
  // The lost connection was retried (transient); the retry found the server down, a user error, and stopped.
  const dumps = run.attempts.filter((a) => a.name === "dumpDatabase");
  expect(dumps[0]!.error).toContain("lost during the dump");
  expect(await listRecoveryPoints(instance.name)).toEqual([]);
  expect(await committedBlobs(instance.name)).toEqual([]);
  const blob = vaultContainer().getBlockBlobClient(blobName);
  expect(await blob.exists()).toBe(false);
});
