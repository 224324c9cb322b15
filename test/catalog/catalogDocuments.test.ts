/**
 * Catalog rows hold documents longer than one table property allows (32K characters): a Flexible Server point
 * listing thousands of files is split over several columns and reads back whole, through every read path.
 */
import { expect, test } from "vitest";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { markRecoveryPointDeleted, putRecoveryPoint } from "../../shared/catalog/catalog";
import type { LtrRecoveryPoint } from "../../shared/domain";
import { PgVaultError } from "../../shared/errors";
import { uniqueName } from "../support/testDatabase";

function ltrPoint(instanceName: string, files: number): LtrRecoveryPoint {
  const container = "ltr-20260104t030012z-1a2b3c4d-0";
  return {
    id: "rp-20260104T030012Z-1a2b3c4d",
    instanceName,
    time: "2026-01-04T03:00:12Z",
    tag: "Default",
    expiresAt: "2026-03-29T03:00:12Z",
    status: "Available",
    sizeBytes: files * 16_777_216,
    // A server of many databases: one `<database>_database.sql` per database (the logical layout the service writes).
    blobs: Array.from({ length: files }, (_, i) => `${container}/customer_tenant_${String(i).padStart(5, "0")}_database.sql`),
    format: "flexibleServer-ltr",
    serverResourceId: "/subscriptions/3f2b8c1e-7d4a-4e5b-9c6f-0a1b2c3d4e5f/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1",
    serverVersion: "16",
    containers: [container],
    ltr: { backupName: "pgvault-rp-20260104t030012z-1a2b3c4d", datasourceSizeInBytes: 1, dataTransferredInBytes: 1, startTime: "2026-01-04T03:00:14Z", endTime: "2026-01-04T03:41:09Z" },
  };
}

test("when a recovery point lists 3,000 files (about 200K characters), then it reads back whole by id, in lists, and after being marked deleted", async () => {
  const rp = ltrPoint(uniqueName("many-files").replaceAll("_", "-"), 3000);
  expect(JSON.stringify(rp).length).toBeGreaterThan(150_000);

  await putRecoveryPoint(rp);

  expect(await getRecoveryPoint(rp.instanceName, rp.id)).toEqual(rp);
  expect(await listRecoveryPoints(rp.instanceName)).toEqual([rp]);
  expect(await markRecoveryPointDeleted(rp.instanceName, rp.id)).toBe(true);
  expect(await getRecoveryPoint(rp.instanceName, rp.id)).toEqual({ ...rp, status: "Deleted" });
});

test("when a smaller document replaces a long one, then no stale column is read back", async () => {
  const long = ltrPoint(uniqueName("shrink").replaceAll("_", "-"), 3000);
  await putRecoveryPoint(long);
  const short = { ...long, blobs: long.blobs.slice(0, 2) };
  await putRecoveryPoint(short);
  expect(await getRecoveryPoint(short.instanceName, short.id)).toEqual(short);
});

test("when a document is larger than a catalog row can hold, then writing it fails with a clear error", async () => {
  const huge = ltrPoint(uniqueName("huge").replaceAll("_", "-"), 9000);
  await expect(putRecoveryPoint(huge)).rejects.toThrow(PgVaultError);
  await expect(putRecoveryPoint(huge)).rejects.toThrow(/more than a catalog row holds/);
});
