/**
 * `DELETE /api/backupInstances/{name}?deleteBackups=` through the real handler, with real HttpRequest objects
 * and Azurite: stopping protection keeps the recovery points (until they expire), or soft-deletes them all.
 */
import { describe, expect, test } from "vitest";
import { deleteBackupInstance, getBackupInstance } from "../../functions/backupInstances";
import { getRecoveryPoint } from "../../shared/catalog/recoveryPointReads";
import { handled } from "../../shared/http";
import type { RecoveryPoint } from "../../shared/domain";
import { applyRetention } from "../../shared/retention/instanceRetention";
import { bodyOf, invocation, request } from "../support/http";
import { blobExists, farFuture, instanceName, instanceWithState, rowStatus, storedRecoveryPoint, vaultBlob } from "../support/retentionFixture";

const now = farFuture();

const stop = (name: string, query = "") =>
  handled(deleteBackupInstance)(request("DELETE", `backupInstances/${name}${query}`, { params: { name } }), invocation("deleteBackupInstance"));
const read = async (name: string) => bodyOf(await handled(getBackupInstance)(request("GET", `backupInstances/${name}`, { params: { name } }), invocation("getBackupInstance")));

async function instanceWithBackups(): Promise<{ name: string; rps: RecoveryPoint[] }> {
  const name = instanceName("stop");
  await instanceWithState(name);
  const rps = [await storedRecoveryPoint(name, now, 1, 29), await storedRecoveryPoint(name, now, 8, 76), await storedRecoveryPoint(name, now, 20, 345)];
  return { name, rps };
}

describe("stop protection", () => {
  test.each([["deleteBackups=false", "?deleteBackups=false"], ["no deleteBackups", ""]])(
    "when protection is stopped with %s, then 204, the instance is ProtectionStopped and its recovery points and blobs stay",
    async (_what, query) => {
      const { name, rps } = await instanceWithBackups();

      const response = await stop(name, query);

      expect(response.status).toBe(204);
      expect(await read(name)).toMatchObject({ protectionState: "ProtectionStopped", nextScheduledBackup: null, lastBackup: { recoveryPointId: rps[0]!.id } });
      for (const rp of rps) {
        expect(await getRecoveryPoint(name, rp.id)).toEqual(rp);
        expect(await blobExists(rp.blobs[0]!)).toBe(true);
      }
    },
  );

  test("when a stopped instance's newest point later expires, then retention deletes it (only protected instances keep their newest)", async () => {
    const name = instanceName("stop");
    await instanceWithState(name);
    const newest = await storedRecoveryPoint(name, now, 31, -1);
    expect((await stop(name)).status).toBe(204);

    expect(await applyRetention(name, now)).toEqual({ deleted: [newest.id], kept: [], failed: [] });
  });

  test("when protection is stopped with deleteBackups=true, then 204, and every recovery point, the newest included, is SoftDeleted with its blob still there (retention purges it after the grace period)", async () => {
    const { name, rps } = await instanceWithBackups();

    const response = await stop(name, "?deleteBackups=true");

    expect(response.status).toBe(204);
    expect(await read(name)).toMatchObject({ protectionState: "ProtectionStopped", lastBackup: null });
    for (const rp of rps) {
      expect(await getRecoveryPoint(name, rp.id)).toMatchObject({ status: "SoftDeleted", expiresAt: rp.expiresAt, purgeAfter: expect.any(String) });
      expect(await blobExists(rp.blobs[0]!)).toBe(true);
    }
  });

  test("when a stopped instance is stopped again, then 204 again and nothing changes", async () => {
    const { name, rps } = await instanceWithBackups();
    expect((await stop(name)).status).toBe(204);
    expect((await stop(name, "?deleteBackups=false")).status).toBe(204);
    expect(await rowStatus(rps[0]!)).toBe("Available");
  });

  test("when a blob is leased, then deleteBackups=true still answers 204: soft delete touches no data", async () => {
    const { name, rps } = await instanceWithBackups();
    const lease = vaultBlob(rps[1]!.blobs[0]!).getBlobLeaseClient();
    await lease.acquireLease(-1);

    expect((await stop(name, "?deleteBackups=true")).status).toBe(204);

    expect([await rowStatus(rps[0]!), await rowStatus(rps[1]!), await rowStatus(rps[2]!)]).toEqual(["SoftDeleted", "SoftDeleted", "SoftDeleted"]);
    await lease.releaseLease();
  });

  test("when the instance does not exist, then 404 NotFound", async () => {
    const response = await stop("no-such-instance", "?deleteBackups=true");
    expect(response.status).toBe(404);
    expect(bodyOf<{ error: { code: string } }>(response).error.code).toBe("NotFound");
  });

  test.each(["yes", "TRUE", "1", ""])("when deleteBackups is '%s', then 400 names deleteBackups and nothing changes", async (value) => {
    const { name, rps } = await instanceWithBackups();
    const response = await stop(name, `?deleteBackups=${value}`);
    expect(response.status).toBe(400);
    expect(bodyOf(response)).toEqual({
      error: { code: "InvalidRequest", message: "The request is not valid.", details: [{ path: "deleteBackups", message: "must be 'true' or 'false'" }] },
    });
    expect(await read(name)).toMatchObject({ protectionState: "ProtectionConfigured" });
    expect(await rowStatus(rps[0]!)).toBe("Available");
  });
});
