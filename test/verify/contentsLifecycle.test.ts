/**
 * A point's contents record lives and dies with its dump: made immutable with it until the point expires, deleted
 * with it by retention, and removed with it when the backup is cancelled before its point was recorded. The vault is reached through the recording
 * proxy (test/support/recordingBlobProxy.ts), answering as a vault with version-level immutability does.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { changeRecoveryPoint } from "../../shared/catalog/catalog";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import type { DumpRecoveryPoint } from "../../shared/domain";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { applyRetention } from "../../shared/retention/instanceRetention";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { blobEndpointOf, startRecordingBlobProxy, withBlobEndpoint, type RecordingBlobProxy } from "../support/recordingBlobProxy";
import { blobExists, instanceName, rowStatus } from "../support/retentionFixture";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let proxy: RecordingBlobProxy;
let secretRef: string;
let database: string;

beforeAll(async () => {
  proxy = await startRecordingBlobProxy(blobEndpointOf(inject("vaultConnectionString")));
  // Before any app module reads its configuration: this process's vault blob endpoint is the proxy.
  process.env.VaultStorage = withBlobEndpoint(inject("vaultConnectionString"), proxy.blobEndpoint);
  delete process.env.VAULT_IMMUTABILITY;
  proxy.playAzureImmutability = true;
  database = uniqueName("contents_life");
  await createDatabase(database);
  await withAdmin(database, (c) => c.query("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g"));
  const role = uniqueName("backup_user");
  await createBackupRole(database, role, "pw-life");
  secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-life");
});
afterAll(() => proxy?.close());

async function backedUp(): Promise<DumpRecoveryPoint> {
  const instance = await protect(instanceName("contents-life"), databaseSource(database, secretRef));
  const run = await runBackup(instance);
  expect(run.state.error).toBeUndefined();
  return asDumpPoint((await listRecoveryPoints(instance.name))[0]);
}

test("when a point is made immutable, then its contents record gets the same policy as its dump; once expired, retention deletes both", async () => {
  const rp = await backedUp();
  const contents = rp.contents!.blobPath;
  const policies = proxy.requests.filter((r) => r.comp === "immutabilityPolicies" && r.path.includes(`/${rp.id}/`));
  expect(policies.map((r) => r.path).sort()).toEqual([`/devstoreaccount1/${contents}`, `/devstoreaccount1/${rp.blobs[0]}`].sort());
  expect(new Set(policies.map((r) => Date.parse(r.immutabilityUntil!)))).toEqual(new Set([Date.parse(rp.expiresAt)]));

  // Expired (its policy too): retention deletes the dump and the record, then marks the row.
  proxy.expirePolicies();
  const past = new Date(Date.now() - 60_000).toISOString();
  // An hour older too, so the next backup is the newer one even when both fall in the same second.
  const earlier = new Date(Date.now() - 3_600_000).toISOString();
  await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => ({ ...stored, time: earlier, expiresAt: past, immutableUntil: past }));
  expect([await blobExists(rp.blobs[0]!), await blobExists(contents)]).toEqual([true, true]);
  // A newer point, so the expired one is not the instance's newest (which retention keeps); the retention that
  // follows that backup deletes the expired one.
  expect((await runBackup(await protect(rp.instanceName, databaseSource(database, secretRef)))).state.error).toBeUndefined();
  expect(await applyRetention(rp.instanceName, new Date())).toMatchObject({ failed: [] });
  expect(await rowStatus(rp)).toBe("Deleted");
  expect([await blobExists(rp.blobs[0]!), await blobExists(contents)]).toEqual([false, false]);
});

test("when a backup is cancelled while its point is being recorded, then the cleanup removes the record with the dump", async () => {
  const rp = await backedUp();
  proxy.expirePolicies();
  const jobId = `cancelled-${rp.id}`;
  // As the record step leaves the row between its two writes (a point recorded complete is never removed by a cancel).
  await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => ({ ...stored, recording: { jobId } }));
  expect(await cleanUpCancelledJob(jobId, { kind: "backup", instanceName: rp.instanceName, recoveryPointId: rp.id }, new Date())).toBe("cancelled");
  expect([await blobExists(rp.blobs[0]!), await blobExists(rp.contents!.blobPath)]).toEqual([false, false]);
});
