/**
 * The keep-newest rule against a concurrent soft delete: retention lists an instance's points and decides, an Admin
 * soft-deletes the newest one, and only then does retention claim the next. The interleaving is forced at the
 * catalog: a proxy in front of the vault's table service holds one of retention's requests until the Admin's request
 * has been answered.
 */
import { describe, expect, test } from "vitest";
import { deleteInstanceRecoveryPoint } from "../../functions/recoveryPoints";
import { changeRecoveryPoint } from "../../shared/catalog/catalog";
import type { RecoveryPoint } from "../../shared/domain";
import { handled } from "../../shared/http";
import { applyRetention } from "../../shared/retention/instanceRetention";
import { useDurableClientStandIn } from "../support/durableClientStandIn";
import { proxiedSharedCatalog, type TableRequest } from "../support/failingTableProxy";
import { request } from "../support/http";
import { blobExists, farFuture, instanceName, instanceWithState, rowStatus, storedRecoveryPoint } from "../support/retentionFixture";

const tables = proxiedSharedCatalog();

const now = farFuture();

const durable = useDurableClientStandIn();
const softDelete = (rp: RecoveryPoint) => {
  const { client, context } = durable().client("deleteRecoveryPoint");
  return handled(deleteInstanceRecoveryPoint)(
    request("DELETE", `backupInstances/${rp.instanceName}/recoveryPoints/${rp.id}`, { params: { name: rp.instanceName, rpId: rp.id } }),
    client,
    context,
  );
};

/**
 * Where retention is held while the other writer goes ahead: its first read of the point it is about to claim (right
 * after its listing; today's code claims from there), and the claim's own write, after it read that point and the
 * one it keeps (one entity-group transaction, `$batch`: the etag check itself).
 */
const holdPoints = {
  "before it looks at the point it claims": (claimed: RecoveryPoint) => (seen: TableRequest) =>
    seen.method === "GET" && seen.path.endsWith(`recoveryPoints(PartitionKey='${claimed.instanceName}',RowKey='${claimed.id}')`),
  "between its reads and its claim's write": () => (seen: TableRequest) => seen.method === "POST" && seen.path.endsWith("/$batch"),
};

async function instanceWithNewestAndExpired(prefix: string) {
  const name = instanceName(prefix);
  await instanceWithState(name);
  const newest = await storedRecoveryPoint(name, now, 1, 29);
  const next = await storedRecoveryPoint(name, now, 35, -5);
  return { newest, next };
}

describe.each(Object.entries(holdPoints))("retention held %s", (_where, holdPoint) => {
  test("when an Admin soft-deletes the newest point meanwhile, then retention does not delete the next one, now the newest Available", async () => {
    const { newest, next } = await instanceWithNewestAndExpired("race-sd");
    const softDeleted = tables().holdNext(holdPoint(next), () => softDelete(newest));

    const report = await applyRetention(next.instanceName, now);

    expect((await softDeleted).status).toBe(204);
    expect(await rowStatus(newest)).toBe("SoftDeleted");
    expect(report).toEqual({ deleted: [], kept: [], failed: [] });
    expect([await rowStatus(next), await blobExists(next.blobs[0]!)]).toEqual(["Available", true]);
  });

  test("when the newest point only changes harmlessly meanwhile (it is made immutable), then retention still deletes the expired one", async () => {
    const { newest, next } = await instanceWithNewestAndExpired("race-harmless");
    const immutableUntil = newest.expiresAt;
    const madeImmutable = tables().holdNext(holdPoint(next), () =>
      changeRecoveryPoint(newest.instanceName, newest.id, (rp) => ({ ...rp, immutableUntil, immutabilityMode: "Unlocked" })),
    );

    const report = await applyRetention(next.instanceName, now);

    expect(await madeImmutable).toMatchObject({ status: "Available", immutableUntil });
    expect(report).toEqual({ deleted: [next.id], kept: [], failed: [] });
    expect([await rowStatus(next), await blobExists(next.blobs[0]!)]).toEqual(["Deleted", false]);
    expect(await rowStatus(newest)).toBe("Available");
  });
});
