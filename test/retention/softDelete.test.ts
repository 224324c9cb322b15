/**
 * Soft delete through the real handlers (stop protection with deleteBackups=true, DELETE and POST .../undelete of a
 * recovery point) and the real retention cleanup, against Azurite: a deleted point is `SoftDeleted`, listed,
 * restorable and undeletable until `purgeAfter`, and only then does retention purge its data. Retention is given
 * its clock (the orchestrator's in production), so the grace period passes in a moment.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { deleteBackupInstance } from "../../functions/backupInstances";
import { deleteInstanceRecoveryPoint, listInstanceRecoveryPoints, undeleteInstanceRecoveryPoint } from "../../functions/recoveryPoints";
import { startRestore } from "../../functions/restore";
import { restoreOrchestrationName, restoreOrchestrator } from "../../orchestrators/restore";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import type { RecoveryPoint } from "../../shared/domain";
import { handled, type HttpHandler } from "../../shared/http";
import { isoSeconds } from "../../shared/time/isoTime";
import { applyRetention } from "../../shared/retention/instanceRetention";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startDurableClientStandIn, useDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, invocation, request } from "../support/http";
import { runOrchestration } from "../support/replayDriver";
import { restoreActivities } from "../support/restoreFixture";
import { blobExists, dayMs, farFuture, instanceName, instanceWithState, rowStatus, storedRecoveryPoint, vaultBlob } from "../support/retentionFixture";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const now = farFuture();
const graceMs = 14 * dayMs;
const second = 1000;

const call = (handler: HttpHandler, method: string, path: string, params: Record<string, string>) =>
  handled(handler)(request(method, path, { params }), invocation("test"));
const pointClient = useDurableClientStandIn();
const deletePoint = (name: string, rpId: string) => {
  const { client, context } = pointClient().client("deleteRecoveryPoint");
  return handled(deleteInstanceRecoveryPoint)(request("DELETE", `backupInstances/${name}/recoveryPoints/${rpId}`, { params: { name, rpId } }), client, context);
};
const undeletePoint = (name: string, rpId: string) =>
  call(undeleteInstanceRecoveryPoint, "POST", `backupInstances/${name}/recoveryPoints/${rpId}/undelete`, { name, rpId });
const stop = (name: string) =>
  handled(deleteBackupInstance)(request("DELETE", `backupInstances/${name}?deleteBackups=true`, { params: { name } }), invocation("deleteBackupInstance"));
const listed = async (name: string) => bodyOf<{ value: RecoveryPoint[] }>(await call(listInstanceRecoveryPoints, "GET", `backupInstances/${name}/recoveryPoints`, { name })).value;
const errorOf = (response: { jsonBody?: unknown }) => bodyOf<{ error: { code: string; message: string } }>(response).error;

/** The time a handler stamps lies between these two (seconds precision). */
function stampedBetween(stamp: string | undefined, before: number, after: number): void {
  expect(Date.parse(stamp ?? "")).toBeGreaterThanOrEqual(Math.floor(before / second) * second);
  expect(Date.parse(stamp ?? "")).toBeLessThanOrEqual(after);
}

async function instanceWithPoints(prefix: string): Promise<{ name: string; newest: RecoveryPoint; older: RecoveryPoint; expired: RecoveryPoint }> {
  const name = instanceName(prefix);
  await instanceWithState(name);
  const newest = await storedRecoveryPoint(name, now, 1, 29);
  const older = await storedRecoveryPoint(name, now, 8, 76);
  const expired = await storedRecoveryPoint(name, now, 31, -1);
  return { name, newest, older, expired };
}

describe("stop protection with deleteBackups=true", () => {
  test("when it is asked, then 204, every Available point is SoftDeleted with its purge time, nothing is deleted yet, and the list shows them", async () => {
    const { name, newest, older, expired } = await instanceWithPoints("sd-stop");
    const gone = await storedRecoveryPoint(name, now, 60, -30, { status: "Deleted", writeBlob: false });
    const before = Date.now();

    expect((await stop(name)).status).toBe(204);

    const after = Date.now();
    for (const rp of [newest, older, expired]) {
      const row = (await getRecoveryPoint(name, rp.id))!;
      expect(row).toEqual({ ...rp, status: "SoftDeleted", softDeletedAt: row.softDeletedAt, purgeAfter: row.purgeAfter });
      stampedBetween(row.softDeletedAt, before, after);
      expect(Date.parse(row.purgeAfter!) - Date.parse(row.softDeletedAt!)).toBe(graceMs);
      expect(await blobExists(rp.blobs[0]!)).toBe(true);
    }
    expect(await getRecoveryPoint(name, gone.id)).toEqual(gone);
    expect((await listed(name)).map((rp) => [rp.id, rp.status])).toEqual([
      [newest.id, "SoftDeleted"],
      [older.id, "SoftDeleted"],
      [expired.id, "SoftDeleted"],
      [gone.id, "Deleted"],
    ]);
  });

  test("when it is asked again, then nothing changes: the grace period is not extended", async () => {
    const { name, newest } = await instanceWithPoints("sd-again");
    expect((await stop(name)).status).toBe(204);
    const first = await getRecoveryPoint(name, newest.id);

    expect((await stop(name)).status).toBe(204);

    expect(await getRecoveryPoint(name, newest.id)).toEqual(first);
  });
});

describe("retention of soft-deleted points", () => {
  test("when the grace period has not ended, then retention keeps a soft-deleted point and its blob, even long expired; when it has, then its blob goes and it is Deleted", async () => {
    const { name, newest, expired } = await instanceWithPoints("sd-purge");
    await deletePoint(name, expired.id);
    await deletePoint(name, newest.id);
    const purgeAfter = Date.parse((await getRecoveryPoint(name, expired.id))!.purgeAfter!);

    expect(await applyRetention(name, new Date(purgeAfter - second))).toEqual({ deleted: [], kept: [], failed: [] });
    expect([await rowStatus(expired), await blobExists(expired.blobs[0]!)]).toEqual(["SoftDeleted", true]);

    const report = await applyRetention(name, new Date(purgeAfter));

    expect(report.deleted.sort()).toEqual([newest.id, expired.id].sort());
    for (const rp of [newest, expired]) expect([await rowStatus(rp), await blobExists(rp.blobs[0]!)]).toEqual(["Deleted", false]);
  });

  test("when points expire by policy, then they are deleted at once as before (no grace period), and the newest Available one is still kept", async () => {
    const { name, newest, older, expired } = await instanceWithPoints("sd-expiry");
    const olderExpired = await storedRecoveryPoint(name, now, 40, -10);
    // Soft-deleted a day before the run's clock, so still in its grace period then.
    await putRecoveryPoint({ ...newest, status: "SoftDeleted", softDeletedAt: isoSeconds(new Date(now.getTime() - dayMs)), purgeAfter: isoSeconds(new Date(now.getTime() + 13 * dayMs)) });

    // With the newest soft-deleted, the newest Available point (older, not expired) is the one the rule keeps.
    expect(await applyRetention(name, now)).toEqual({ deleted: [expired.id, olderExpired.id], kept: [], failed: [] });
    expect([await rowStatus(newest), await rowStatus(older)]).toEqual(["SoftDeleted", "Available"]);
  });

  test("when a purge could not finish (a lease on the blob), then the point can no longer be undeleted, and the next run purges it", async () => {
    const { name, older } = await instanceWithPoints("sd-claim");
    await deletePoint(name, older.id);
    const purgeAt = new Date(Date.parse((await getRecoveryPoint(name, older.id))!.purgeAfter!));
    const lease = vaultBlob(older.blobs[0]!).getBlobLeaseClient();
    await lease.acquireLease(-1);

    expect((await applyRetention(name, purgeAt)).failed.map((f) => f.recoveryPointId)).toEqual([older.id]);
    expect(await getRecoveryPoint(name, older.id)).toMatchObject({ status: "SoftDeleted", deletionStartedAt: expect.any(String) });

    const refused = await undeletePoint(name, older.id);
    expect(refused.status).toBe(409);
    expect(errorOf(refused)).toEqual({ code: "Conflict", message: expect.stringContaining("is being deleted by retention") });
    expect((await deletePoint(name, older.id)).status).toBe(204);

    await lease.releaseLease();
    expect(await applyRetention(name, purgeAt)).toEqual({ deleted: [older.id], kept: [], failed: [] });
    expect(await rowStatus(older)).toBe("Deleted");
  });

  test("when a soft-deleted point past its purge time is recorded as immutable beyond now, then retention keeps it untouched (still undeletable), and purges it once the immutability ran out", async () => {
    const name = instanceName("sd-immutable");
    await instanceWithState(name);
    const immutableUntil = new Date(now.getTime() + 30 * dayMs).toISOString().replace(/\.\d{3}Z$/, "Z");
    const rp = await storedRecoveryPoint(name, now, 1, 30, { status: "SoftDeleted" });
    const stored: RecoveryPoint = { ...rp, immutableUntil, immutabilityMode: "Unlocked", softDeletedAt: rp.time, purgeAfter: rp.time };
    await putRecoveryPoint(stored);

    expect(await applyRetention(name, now)).toEqual({ deleted: [], kept: [rp.id], failed: [] });
    expect(await getRecoveryPoint(name, rp.id)).toEqual(stored);
    expect(await blobExists(rp.blobs[0]!)).toBe(true);
    expect(bodyOf(await undeletePoint(name, rp.id))).toEqual({ ...rp, immutableUntil, immutabilityMode: "Unlocked", status: "Available" });
    expect((await deletePoint(name, rp.id)).status).toBe(204);

    expect(await applyRetention(name, new Date(Date.parse(immutableUntil)))).toEqual({ deleted: [rp.id], kept: [], failed: [] });
    expect([await rowStatus(rp), await blobExists(rp.blobs[0]!)]).toEqual(["Deleted", false]);
  });
});

describe("DELETE /backupInstances/{name}/recoveryPoints/{rpId}", () => {
  test("when the newest point of a protected instance is deleted, then 204 and it is SoftDeleted (a deliberate, reversible act), the others untouched", async () => {
    const { name, newest, older } = await instanceWithPoints("sd-delete");
    const before = Date.now();

    const response = await deletePoint(name, newest.id);

    expect(response.status).toBe(204);
    const row = (await getRecoveryPoint(name, newest.id))!;
    expect(row).toMatchObject({ status: "SoftDeleted", expiresAt: newest.expiresAt });
    stampedBetween(row.softDeletedAt, before, Date.now());
    expect(Date.parse(row.purgeAfter!) - Date.parse(row.softDeletedAt!)).toBe(graceMs);
    expect(await getRecoveryPoint(name, older.id)).toEqual(older);
  });

  test("when a SoftDeleted or Deleted point is deleted again, then 204 and nothing changes", async () => {
    const { name, newest } = await instanceWithPoints("sd-twice");
    const gone = await storedRecoveryPoint(name, now, 60, -30, { status: "Deleted", writeBlob: false });
    await deletePoint(name, newest.id);
    const softDeleted = await getRecoveryPoint(name, newest.id);

    expect((await deletePoint(name, newest.id)).status).toBe(204);
    expect((await deletePoint(name, gone.id)).status).toBe(204);

    expect(await getRecoveryPoint(name, newest.id)).toEqual(softDeleted);
    expect(await getRecoveryPoint(name, gone.id)).toEqual(gone);
  });

  test("when the point or the instance does not exist, then 404 NotFound; when the id is not a recovery point id, then 400", async () => {
    const { name } = await instanceWithPoints("sd-404");
    const unknown = await deletePoint(name, "rp-20200101T000000Z-00000000");
    expect([unknown.status, errorOf(unknown).code]).toEqual([404, "NotFound"]);
    expect((await deletePoint("no-such-instance", "rp-20200101T000000Z-00000000")).status).toBe(404);
    const invalid = await deletePoint(name, "latest");
    expect(invalid.status).toBe(400);
    expect(bodyOf(invalid)).toMatchObject({ error: { code: "InvalidRequest", details: [{ path: "rpId" }] } });
  });
});

describe("POST /backupInstances/{name}/recoveryPoints/{rpId}/undelete", () => {
  test("when a soft-deleted point is undeleted, then 200 with the point Available again, as it was before the delete", async () => {
    const { name, older } = await instanceWithPoints("sd-undelete");
    await deletePoint(name, older.id);

    const response = await undeletePoint(name, older.id);

    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual(older);
    expect(await getRecoveryPoint(name, older.id)).toEqual(older);
    // And retention treats it as any Available point again.
    expect(await applyRetention(name, now)).toMatchObject({ kept: [], failed: [] });
    expect(await rowStatus(older)).toBe("Available");
  });

  test("when its expiry passed during the soft delete, then the undeleted point is kept for a grace period from now, so the next retention run does not delete it", async () => {
    // Expired by the real clock, which the handlers use; a newer point, so the "keep the newest" rule is not what keeps it.
    const name = instanceName("sd-extend");
    await instanceWithState(name);
    await storedRecoveryPoint(name, new Date(), 1, 29);
    const expired = await storedRecoveryPoint(name, new Date(), 31, -1);
    await deletePoint(name, expired.id);
    const before = Date.now();

    const response = await undeletePoint(name, expired.id);

    const row = bodyOf<RecoveryPoint>(response);
    expect(row).toMatchObject({ status: "Available" });
    expect(Date.parse(row.expiresAt)).toBeGreaterThanOrEqual(Math.floor(before / second) * second + graceMs);
    expect(Date.parse(row.expiresAt)).toBeLessThanOrEqual(Date.now() + graceMs);
    expect(await applyRetention(name, new Date(Date.parse(row.expiresAt) - second))).toEqual({ deleted: [], kept: [], failed: [] });
    expect(await rowStatus(expired)).toBe("Available");
    // From then on it is an ordinary Available point, which expires at its new expiry.
    expect(await applyRetention(name, new Date(row.expiresAt))).toEqual({ deleted: [expired.id], kept: [], failed: [] });
  });

  test("when the point is Available, then 200 with it unchanged; when it is Deleted, then 409 Conflict; when it does not exist, then 404", async () => {
    const { name, newest } = await instanceWithPoints("sd-undelete-cases");
    const gone = await storedRecoveryPoint(name, now, 60, -30, { status: "Deleted", writeBlob: false });

    const available = await undeletePoint(name, newest.id);
    expect([available.status, bodyOf(available)]).toEqual([200, newest]);

    const deleted = await undeletePoint(name, gone.id);
    expect(deleted.status).toBe(409);
    expect(errorOf(deleted)).toEqual({ code: "Conflict", message: expect.stringContaining("cannot be undeleted") });
    expect(await getRecoveryPoint(name, gone.id)).toEqual(gone);

    expect((await undeletePoint(name, "rp-20200101T000000Z-00000000")).status).toBe(404);
    expect((await undeletePoint("no-such-instance", newest.id)).status).toBe(404);
  });
});

describe("restore of a soft-deleted point", () => {
  let durable: DurableClientStandIn;
  beforeAll(async () => {
    durable = await startDurableClientStandIn();
  });
  afterAll(() => durable.close());

  test("when a backed-up point is soft-deleted, then the restore API accepts it and the restore job exports its dump", async () => {
    const database = uniqueName("sd_restore");
    await createDatabase(database);
    await withAdmin(database, (c) => c.query("CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g"));
    const role = uniqueName("backup_user");
    await createBackupRole(database, role, "pw-sd");
    const instance = await protect(instanceName("sd-restore"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-sd")));
    expect((await runBackup(instance)).state.error).toBeUndefined();
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    expect((await deletePoint(instance.name, rp.id)).status).toBe(204);
    const service = BlobServiceClient.fromConnectionString(inject("exportConnectionString"));
    const exports = service.getContainerClient(uniqueName("sd-exports").replaceAll("_", "-"));
    await exports.create();

    const { client, context } = durable.client("startRestore");
    const body = { recoveryPointId: rp.id, target: { type: "blob", containerUrl: exports.url, prefix: "kept/" } };
    const accepted = await startRestore(request("POST", `backupInstances/${instance.name}/restore`, { body, params: { name: instance.name } }), client, context);
    expect(accepted.status).toBe(202);
    const start = durable.started.find((s) => s.instanceId === bodyOf<{ jobId: string }>(accepted).jobId)!;
    const run = await runOrchestration(restoreOrchestrator, { name: restoreOrchestrationName, instanceId: start.instanceId, input: start.input, activities: restoreActivities });

    expect(run.state.error).toBeUndefined();
    const dump = await exports.getBlobClient(`kept/${rp.blobs[0]!.split("/").at(-1)!}`).downloadToBuffer();
    expect(dump.subarray(0, 5).toString("latin1")).toBe("PGDMP"); // the plain archive, decompressed on the way out
    expect(await rowStatus(rp)).toBe("SoftDeleted");
  });
});
