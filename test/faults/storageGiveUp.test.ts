/**
 * The vault's storage stops while a dump is uploading its blocks and stays down through every attempt the retry
 * policy allows: the job must fail with the storage code, leave no recovery point and no committed blob, and the
 * blocks it had staged must go with the next reconciliation. The vault is this file's own Azurite.
 *
 * The slowest fault test (about a minute): each of the four attempts spends about 16 s in the storage SDK's own
 * retries of a refused connection before it fails. storageOutage.test.ts has the outage that ends in time.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { jobRetry } from "../../orchestrators/jobSteps";
import { getRecoveryPoint } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { orphanMinAgeMs, reconcileVault } from "../../shared/retention/reconcile";
import { envSecret } from "../support/backupFixture";
import { backupBlob, backupCutMidUpload, blobsUnder, createLargeDatabase, startRestartableAzurite, type RestartableAzurite } from "../support/faultFixture";
import { uniqueName } from "../support/testDatabase";

let vault: RestartableAzurite;
const database = uniqueName("giveup");
const role = uniqueName("giveup_user");
let secretRef: string;

beforeAll(async () => {
  vault = await startRestartableAzurite();
  // Before any app module reads its configuration: this file's vault is its own.
  process.env.VaultStorage = vault.connectionString;
  await createLargeDatabase(database, role, "pw-giveup");
  secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-giveup");
});
afterAll(() => vault?.destroy());

test("when the vault stays down through every retry, then the job fails with SystemErrorStorageUnavailable, with no recovery point and no committed blob", { timeout: 150_000 }, async () => {
  const instanceName = uniqueName("down").replaceAll("_", "-");

  const { running, jobId, blobName } = await backupCutMidUpload(vault, instanceName, { database, secretRef }, async (failed) => {
    // Back only once the dump's retries are spent, so the job's failure can be written.
    if (failed.name === "dumpDatabase" && !failed.willRetry) await vault.start();
  });
  const run = await running;

  const dumps = run.attempts.filter((a) => a.name === "dumpDatabase");
  expect(dumps).toHaveLength(jobRetry.maxNumberOfAttempts);
  for (const attempt of dumps) expect(attempt.error).toMatch(/^SystemErrorStorageUnavailable: Vault storage was unavailable while /);
  expect(run.state.error).toMatch(/^SystemErrorStorageUnavailable: /);
  const job = await getJob(jobId);
  expect(job).toMatchObject({ status: "Failed", error: { code: "SystemErrorStorageUnavailable" } });
  expect(await getRecoveryPoint(instanceName, job!.recoveryPointId!)).toBeUndefined();
  expect(await backupBlob(blobName).exists()).toBe(false);

  // Only the first attempt's staged blocks are left; the reconciliation a day later removes them.
  expect(await blobsUnder(`${instanceName}/`)).toEqual([blobName]);
  const cancelCleanupId = (id: string) => `cancel-${id}`;
  const early = await reconcileVault({ now: new Date(), selfJobId: "none", cancelCleanupId });
  expect(early.orphansDeleted).toEqual([]);
  const report = await reconcileVault({ now: new Date(Date.now() + orphanMinAgeMs + 60_000), selfJobId: "none", cancelCleanupId });
  expect(report).toMatchObject({ orphansDeleted: [`${instanceName}/${job!.recoveryPointId}`], failed: [] });
  expect(await blobsUnder(`${instanceName}/`)).toEqual([]);
});
