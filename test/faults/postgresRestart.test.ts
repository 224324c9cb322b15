/**
 * The database server restarts (`pg_ctl restart -m fast`, as a maintenance restart or a failover does) while
 * pg_dump streams a table into the vault. The lost connection is transient: the dump is retried once the server is
 * back and the recovery point holds the second, complete dump. Its own cluster, so other files keep theirs;
 * serverCrash.test.ts has the server that stays down.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putPolicy } from "../../shared/catalog/catalog";
import { getJob } from "../../shared/catalog/jobRows";
import { startPostgresCluster, type PostgresCluster } from "../../local-host/embedded/postgres";
import { asDumpPoint, dailyPolicy, databaseSource, envSecret, protect } from "../support/backupFixture";
import { createLargeDatabase, downloadedDigest, runBackupWith, uncommittedBlockCount } from "../support/faultFixture";
import { waitUntil } from "../support/localHost";
import { uniqueName } from "../support/testDatabase";

let server: PostgresCluster;
beforeAll(async () => {
  server = await startPostgresCluster();
});
afterAll(() => server?.destroy());

test("when PostgreSQL restarts mid-dump, then the dump is retried after the restart and the recovery point is the complete second dump", async () => {
  const database = uniqueName("restart");
  const role = uniqueName("restart_user");
  await createLargeDatabase(database, role, "pw-restart", server, 300_000);
  const instance = await protect(uniqueName("pgrestart").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-restart", server), server));
  // The slowest compression (one thread), so the dump is still running when the restart lands.
  await putPolicy({ ...dailyPolicy(instance.policyName), compression: { algorithm: "gzip", level: 9 } });
  const jobId = `backup-${instance.name}`;
  let restarted: Promise<void> | undefined;

  // The retry interval (10 s in Azure) is where the server finishes coming back.
  const running = runBackupWith(instance, jobId, async (failed) => {
    if (failed.name === "dumpDatabase") await restarted;
  });
  const blobName = await waitUntil(
    async () => {
      const rpId = (await getJob(jobId))?.recoveryPointId;
      const name = rpId && `${instance.name}/${rpId}/${database}.dump`;
      return name && (await uncommittedBlockCount(name)) > 0 ? name : undefined;
    },
    30_000,
    "a staged block",
  );
  restarted = server.restart();
  const run = await running;

  expect(run.state.error).toBeUndefined();
  const dumps = run.attempts.filter((a) => a.name === "dumpDatabase");
  expect(dumps.map((a) => Boolean(a.error))).toEqual([true, false]);
  expect(dumps[0]!.error).toMatch(/^UserErrorServerUnreachable: The connection to .* was lost during the dump/);
  expect(await getJob(jobId)).toMatchObject({ status: "Succeeded" });
  const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
  expect(rp.blobs).toEqual([`backups/${blobName}`]);
  expect(await downloadedDigest(blobName)).toEqual({ sha256: rp.sha256, sizeBytes: rp.sizeBytes });
  expect(await uncommittedBlockCount(blobName)).toBe(0);
});
