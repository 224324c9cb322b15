/**
 * Immutable recovery points (VAULT_IMMUTABILITY, default `unlocked`), seen on the wire: this process reaches the
 * vault's blob service through a recording proxy in front of the test Azurite (test/support/recordingBlobProxy.ts),
 * and real backups run through the replay driver with the real activities. Azurite answers Set Blob Immutability
 * Policy with 501, so the first test proves what the SDK sends and that the backup carries on; the last one lets
 * the proxy answer as a vault with version-level immutability does, to follow the point through soft delete and
 * retention. Tests run in order: the "said once per process" line is the first test's.
 */
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { deleteInstanceRecoveryPoint } from "../../functions/recoveryPoints";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { BackupInstance } from "../../shared/domain";
import { handled } from "../../shared/http";
import { applyRetention } from "../../shared/retention/instanceRetention";
import { useDurableClientStandIn } from "../support/durableClientStandIn";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { request } from "../support/http";
import { blobEndpointOf, startRecordingBlobProxy, withBlobEndpoint, type RecordingBlobProxy } from "../support/recordingBlobProxy";
import { blobExists, instanceName, rowStatus } from "../support/retentionFixture";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let proxy: RecordingBlobProxy;
const durable = useDurableClientStandIn();
beforeAll(async () => {
  proxy = await startRecordingBlobProxy(blobEndpointOf(inject("vaultConnectionString")));
  // Before any app module reads its configuration: this process's vault blob endpoint is the proxy.
  process.env.VaultStorage = withBlobEndpoint(inject("vaultConnectionString"), proxy.blobEndpoint);
  delete process.env.VAULT_IMMUTABILITY;
});
afterAll(() => proxy?.close());

async function protectedDatabase(prefix: string): Promise<BackupInstance> {
  const database = uniqueName(prefix);
  await createDatabase(database);
  await withAdmin(database, (c) => c.query("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g"));
  const role = uniqueName("backup_user");
  await createBackupRole(database, role, "pw-immutable");
  return protect(instanceName(prefix.replaceAll("_", "-")), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-immutable")));
}

const rfc1123 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

test("when the vault is Azurite, then the SDK sends the dump's policy until the point's expiry (Unlocked), Azurite's 501 does not fail the backup, the point is not marked immutable, and the log says so once per process", async () => {
  const instances = [await protectedDatabase("imm_a"), await protectedDatabase("imm_b")];
  const runs = [];
  for (const instance of instances) runs.push(await runBackup(instance));

  for (const run of runs) {
    expect(run.state.error).toBeUndefined();
    expect(await getJob(run.jobId)).toMatchObject({ status: "Succeeded" });
  }
  for (const instance of instances) {
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    const sent = proxy.requests.filter((r) => r.comp === "immutabilityPolicies" && r.path === `/devstoreaccount1/${rp.blobs[0]}`);
    expect(sent).toEqual([{ method: "PUT", path: `/devstoreaccount1/${rp.blobs[0]}`, comp: "immutabilityPolicies", immutabilityUntil: expect.stringMatching(rfc1123), immutabilityMode: "Unlocked" }]);
    expect(Date.parse(sent[0]!.immutabilityUntil!)).toBe(Date.parse(rp.expiresAt));
    expect(rp).toMatchObject({ status: "Available" });
    expect(rp).not.toHaveProperty("immutableUntil");
  }
  const said = runs.flatMap((run) => run.logs).filter((line) => line.includes("is not immutable"));
  expect(said).toEqual([
    expect.stringMatching(
      new RegExp(`^\\[job=${runs[0]!.jobId} instance=${instances[0]!.name} operation=Backup\\] recovery point rp-\\S+ is not immutable \\(HTTP 501 APINotImplemented\\): the vault does not support version-level immutability`),
    ),
  ]);
});

test("when the app starts against Azurite with immutability on, then it says once that recovery points will not be immutable there", async () => {
  const warn = vi.spyOn(console, "warn");
  try {
    await import("../../functions/startup");
    const lines = warn.mock.calls.map((args) => String(args[0])).filter((line) => line.includes("VAULT_IMMUTABILITY"));
    expect(lines).toEqual([expect.stringContaining("VAULT_IMMUTABILITY=unlocked, but the vault is the Azurite storage emulator")]);
    expect(lines[0]).toContain("recovery points will not be immutable here (backups carry on)");
  } finally {
    warn.mockRestore();
  }
});

test("when the vault holds the policy (answered as Azure does), then the point records until when; soft-deleted, retention keeps it past its grace period until then, a delete the vault still refuses is kept too, and once the policy ran out it is purged", async () => {
  proxy.playAzureImmutability = true;
  const instance = await protectedDatabase("imm_c");
  const run = await runBackup(instance);
  expect(run.state.error).toBeUndefined();
  const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
  expect(rp).toMatchObject({ immutableUntil: rp.expiresAt, immutabilityMode: "Unlocked" });
  expect(run.logs).toContainEqual(expect.stringContaining(`recovery point ${rp.id} is immutable (Unlocked) until ${rp.expiresAt}`));

  const params = { name: instance.name, rpId: rp.id };
  const { client, context } = durable().client("deleteRecoveryPoint");
  const deleted = await handled(deleteInstanceRecoveryPoint)(request("DELETE", `backupInstances/${instance.name}/recoveryPoints/${rp.id}`, { params }), client, context);
  expect(deleted.status).toBe(204);
  const purgeAfter = Date.parse((await getRecoveryPoint(instance.name, rp.id))!.purgeAfter!);
  expect(purgeAfter).toBeLessThan(Date.parse(rp.expiresAt));

  // Past the grace period but before its immutability ends: kept, and no delete is even sent.
  const sentBefore = proxy.requests.length;
  expect(await applyRetention(instance.name, new Date(purgeAfter))).toEqual({ deleted: [], kept: [rp.id], failed: [] });
  expect(proxy.requests.slice(sentBefore).filter((r) => r.method === "DELETE")).toEqual([]);
  expect(await getRecoveryPoint(instance.name, rp.id)).not.toHaveProperty("deletionStartedAt");

  // Past it by the run's clock, but the vault still holds the blob (its clock, or a longer policy): kept, not failed.
  const afterExpiry = new Date(Date.parse(rp.expiresAt) + 1000);
  expect(await applyRetention(instance.name, afterExpiry)).toEqual({ deleted: [], kept: [rp.id], failed: [] });
  expect([await rowStatus(rp), await blobExists(rp.blobs[0]!)]).toEqual(["SoftDeleted", true]);

  proxy.expirePolicies();
  expect(await applyRetention(instance.name, afterExpiry)).toEqual({ deleted: [rp.id], kept: [], failed: [] });
  expect([await rowStatus(rp), await blobExists(rp.blobs[0]!)]).toEqual(["Deleted", false]);
  proxy.playAzureImmutability = false;
});
