/**
 * The catalog refuses the recovery point's row after the dump blob was committed (a proxy in front of this file's
 * own Azurite answers the row writes 503, through every retry). The job fails with the storage code, and the blob
 * nobody points to is found and deleted by the reconciliation once it is a day old, unless the vault still holds it
 * immutable (a recording proxy in front of the blob service plays a vault with version-level immutability).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { jobRetry } from "../../orchestrators/jobSteps";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { orphanMinAgeMs, reconcileVault } from "../../shared/retention/reconcile";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startFailingTableProxy, tableEndpointOf, withTableEndpoint, type FailingTableProxy } from "../support/failingTableProxy";
import { backupBlob } from "../support/faultFixture";
import { blobEndpointOf, startRecordingBlobProxy, withBlobEndpoint, type RecordingBlobProxy } from "../support/recordingBlobProxy";
import { createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

let azurite: AzuriteInstance;
let tables: FailingTableProxy;
let blobs: RecordingBlobProxy;
const database = uniqueName("orphan");
const role = uniqueName("orphan_user");
let secretRef: string;

beforeAll(async () => {
  azurite = await startAzurite();
  [tables, blobs] = await Promise.all([
    startFailingTableProxy(tableEndpointOf(azurite.connectionString)),
    startRecordingBlobProxy(blobEndpointOf(azurite.connectionString)),
  ]);
  // Before any app module reads its configuration: this file's vault is its own, reached through the proxies.
  process.env.VaultStorage = withBlobEndpoint(withTableEndpoint(azurite.connectionString, tables.tableEndpoint), blobs.blobEndpoint);
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-orphan");
  secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-orphan");
});
afterAll(async () => {
  await Promise.all([tables?.close(), blobs?.close()]);
  await azurite?.stop();
});

const reconcileAt = (now: Date) => reconcileVault({ now, selfJobId: "none", cancelCleanupId: (id) => `cancel-${id}` });

/** A backup whose recovery point row cannot be written: the job fails and leaves its committed dump. */
async function backupWithoutRow(prefix: string) {
  const instance = await protect(uniqueName(prefix).replaceAll("_", "-"), databaseSource(database, secretRef));
  tables.failWritesOf = "recoveryPoints";
  try {
    const run = await runBackup(instance);
    const job = await getJob(run.jobId);
    const rpId = job!.recoveryPointId!;
    return { run, job: job!, instance, rpId, blobName: `${instance.name}/${rpId}/${database}.dump` };
  } finally {
    tables.failWritesOf = undefined;
  }
}

test("when the recovery point row cannot be written after the dump was committed, then the job fails, and a day later the reconciliation deletes the orphan dump", async () => {
  const { run, job, instance, rpId, blobName } = await backupWithoutRow("norow");
  // A healthy point of the same instance, recorded afterwards: it has its row and stays.
  const healthy = await runBackup(instance);
  const kept = (await listRecoveryPoints(instance.name))[0]!;

  const records = run.attempts.filter((a) => a.name === "recordRecoveryPoint");
  expect(records).toHaveLength(jobRetry.maxNumberOfAttempts);
  expect(records[0]!.error).toMatch(new RegExp(`^SystemErrorStorageUnavailable: Vault storage was unavailable while writing recoveryPoints/${rpId} \\(HTTP 503\\)`));
  expect(job).toMatchObject({ status: "Failed", error: { code: "SystemErrorStorageUnavailable" } });
  expect(await getRecoveryPoint(instance.name, rpId)).toBeUndefined();
  expect((await backupBlob(blobName).getProperties()).metadata?.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect((await getJob(healthy.jobId))?.status).toBe("Succeeded");

  // Younger than a day: it could still be a backup about to record its point.
  expect(await reconcileAt(new Date(Date.now() + orphanMinAgeMs / 2))).toMatchObject({ orphansDeleted: [], orphansKept: [], failed: [] });
  expect(await backupBlob(blobName).exists()).toBe(true);

  const report = await reconcileAt(new Date(Date.now() + orphanMinAgeMs + 60_000));

  expect(report).toEqual({ jobsFailed: [], orphansDeleted: [`${instance.name}/${rpId}`], orphansKept: [], uncommittedLeft: [], summariesChecked: expect.any(Number), summariesCounted: expect.any(Number), summariesRemoved: expect.any(Number), health: { states: expect.any(Object), events: expect.any(Number) }, failed: [] });
  expect(await backupBlob(blobName).exists()).toBe(false);
  expect(await backupBlob(kept.blobs[0]!.replace(/^backups\//, "")).exists()).toBe(true);
  expect((await getRecoveryPoint(instance.name, kept.id))?.status).toBe("Available");
});

test("when an orphan dump is still immutable, then the reconciliation keeps and reports it, and deletes it once its policy has run out", async () => {
  const { rpId, instance, blobName } = await backupWithoutRow("immorphan");
  // A default (container-level) policy would make every new blob immutable for a few days: set one like it.
  blobs.playAzureImmutability = true;
  await backupBlob(blobName).setImmutabilityPolicy({ expiriesOn: new Date(Date.now() + 3 * orphanMinAgeMs), policyMode: "Unlocked" });
  const dayLater = new Date(Date.now() + orphanMinAgeMs + 60_000);

  const held = await reconcileAt(dayLater);

  expect(held).toMatchObject({ orphansDeleted: [], orphansKept: [`${instance.name}/${rpId}`], failed: [] });
  expect(await backupBlob(blobName).exists()).toBe(true);

  blobs.expirePolicies();
  const released = await reconcileAt(dayLater);

  expect(released).toMatchObject({ orphansDeleted: [`${instance.name}/${rpId}`], orphansKept: [], failed: [] });
  expect(await backupBlob(blobName).exists()).toBe(false);
});
