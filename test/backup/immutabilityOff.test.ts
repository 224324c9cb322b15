/**
 * VAULT_IMMUTABILITY=off, seen on the wire (own process: the setting is read once per process): a backup through
 * the recording proxy in front of the test Azurite sends no immutability request at all, and the app says nothing
 * about immutability, neither at start-up nor in the job's log.
 */
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { blobEndpointOf, startRecordingBlobProxy, withBlobEndpoint, type RecordingBlobProxy } from "../support/recordingBlobProxy";
import { instanceName } from "../support/retentionFixture";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let proxy: RecordingBlobProxy;
beforeAll(async () => {
  proxy = await startRecordingBlobProxy(blobEndpointOf(inject("vaultConnectionString")));
  process.env.VaultStorage = withBlobEndpoint(inject("vaultConnectionString"), proxy.blobEndpoint);
  process.env.VAULT_IMMUTABILITY = "off";
});
afterAll(() => proxy?.close());

test("when VAULT_IMMUTABILITY is off, then a backup sends no immutability policy, its point is not immutable, and nothing is said about it", async () => {
  const warn = vi.spyOn(console, "warn");
  const database = uniqueName("imm_off");
  await createDatabase(database);
  await withAdmin(database, (c) => c.query("CREATE TABLE notes (id int PRIMARY KEY); INSERT INTO notes SELECT generate_series(1, 10)"));
  const role = uniqueName("backup_user");
  await createBackupRole(database, role, "pw-off");
  const instance = await protect(instanceName("imm-off"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-off")));

  try {
    await import("../../functions/startup");
    const run = await runBackup(instance);

    expect(run.state.error).toBeUndefined();
    expect(await getJob(run.jobId)).toMatchObject({ status: "Succeeded" });
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    // The dump went through the proxy, and nothing about immutability did.
    expect(proxy.requests.some((r) => r.path === `/devstoreaccount1/${rp.blobs[0]}` && r.method === "PUT")).toBe(true);
    expect(proxy.requests.filter((r) => r.comp === "immutabilityPolicies" || r.immutabilityUntil || r.immutabilityMode)).toEqual([]);
    expect(rp).not.toHaveProperty("immutableUntil");
    expect(run.logs.filter((line) => /immutab/i.test(line))).toEqual([]);
    expect(warn.mock.calls.filter((args) => /immutab/i.test(String(args[0])))).toEqual([]);
  } finally {
    warn.mockRestore();
  }
});
