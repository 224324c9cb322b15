/**
 * Which recovery points retention deletes (SPEC section 3): Available ones whose expiry has come, never the newest
 * Available one of a protected instance, and never SoftDeleted or Deleted ones.
 */
import { describe, expect, test } from "vitest";
import type { RecoveryPoint, RecoveryPointStatus } from "../../shared/domain";
import { recoveryPointsToDelete } from "../../shared/retention/expiry";

const now = new Date("2026-06-15T01:30:00Z");

/** A recovery point taken at `time`, expiring at `expiresAt`; the id sorts by time as real ids do. */
function rp(time: string, expiresAt: string, status: RecoveryPointStatus = "Available"): RecoveryPoint {
  const stamp = time.replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
  return {
    id: `rp-${stamp}-0000abcd`,
    instanceName: "sales-prod",
    time,
    tag: "Default",
    expiresAt,
    status,
    sizeBytes: 1,
    sha256: "00",
    format: "pg_dump-custom",
    serverVersion: "15.18",
    toolVersion: "pg_dump 15.18",
    blobs: [`backups/sales-prod/rp-${stamp}-0000abcd/sales.dump`],
  };
}

const ids = (rps: RecoveryPoint[]) => rps.map((r) => r.id);

describe("expiry", () => {
  test("when a point expired before now, then it is deleted; when it expires later, then it is kept", () => {
    const fresh = rp("2026-06-14T00:30:00Z", "2026-07-14T00:30:00Z");
    const old = rp("2026-05-01T00:30:00Z", "2026-05-31T00:30:00Z");
    expect(ids(recoveryPointsToDelete([fresh, old], now, true))).toEqual([old.id]);
  });

  test("when a point expires exactly now, then it is deleted; one second later, then it is kept", () => {
    const atNow = rp("2026-05-15T01:30:00Z", "2026-06-15T01:30:00Z");
    const oneSecondLater = rp("2026-05-15T01:30:01Z", "2026-06-15T01:30:01Z");
    const newest = rp("2026-06-15T00:30:00Z", "2026-07-15T00:30:00Z");
    expect(ids(recoveryPointsToDelete([newest, oneSecondLater, atNow], now, true))).toEqual([atNow.id]);
  });

  test("when the newest Available point is still being recorded by its job, then it is not the newest kept: the newest recorded point is, and the unfinished one never expires by this rule", () => {
    const recorded = rp("2026-05-01T00:30:00Z", "2026-05-31T00:30:00Z");
    const unfinished: RecoveryPoint = { ...rp("2026-06-15T00:30:00Z", "2026-06-01T00:30:00Z"), recording: { jobId: "backup-sales-prod-x" } };
    expect(recoveryPointsToDelete([unfinished, recorded], now, true)).toEqual([]);
    expect(ids(recoveryPointsToDelete([unfinished, recorded], now, false))).toEqual([recorded.id]);
  });

  test("when nothing is listed, then nothing is deleted", () => {
    expect(recoveryPointsToDelete([], now, true)).toEqual([]);
  });
});

describe("the newest available point", () => {
  const all = [rp("2026-05-03T00:30:00Z", "2026-06-02T00:30:00Z"), rp("2026-05-02T00:30:00Z", "2026-06-01T00:30:00Z"), rp("2026-05-01T00:30:00Z", "2026-05-31T00:30:00Z")];

  test("when every point of a protected instance expired (its backups keep failing), then the newest is kept", () => {
    expect(ids(recoveryPointsToDelete(all, now, true))).toEqual([all[1]!.id, all[2]!.id]);
  });

  test("when the instance is no longer protected, then the newest expired point is deleted too", () => {
    expect(ids(recoveryPointsToDelete(all, now, false))).toEqual(ids(all));
  });

  test("when the newest points are SoftDeleted or Deleted, then the newest Available one is the one kept", () => {
    const softDeleted = rp("2026-05-05T00:30:00Z", "2026-06-04T00:30:00Z", "SoftDeleted");
    const deleted = rp("2026-05-04T00:30:00Z", "2026-06-03T00:30:00Z", "Deleted");
    expect(ids(recoveryPointsToDelete([softDeleted, deleted, ...all], now, true))).toEqual([all[1]!.id, all[2]!.id]);
  });

  test("when the list is not newest first, then the newest by time is still the one kept", () => {
    const shuffled = [all[2]!, all[0]!, all[1]!];
    expect(ids(recoveryPointsToDelete(shuffled, now, true))).toEqual([all[2]!.id, all[1]!.id]);
  });

  test("when two points share a second, then the id decides which is newest", () => {
    const a = { ...all[0]!, id: "rp-20260503T003000Z-00000001" };
    const b = { ...all[0]!, id: "rp-20260503T003000Z-00000002" };
    expect(ids(recoveryPointsToDelete([a, b], now, true))).toEqual([a.id]);
  });
});

describe("points retention leaves alone", () => {
  test("when SoftDeleted or Deleted points are long expired, then they are not deleted (again)", () => {
    const newest = rp("2026-06-14T00:30:00Z", "2026-07-14T00:30:00Z");
    const softDeleted = rp("2026-01-01T00:30:00Z", "2026-01-31T00:30:00Z", "SoftDeleted");
    const deleted = rp("2025-12-01T00:30:00Z", "2025-12-31T00:30:00Z", "Deleted");
    expect(recoveryPointsToDelete([newest, softDeleted, deleted], now, false)).toEqual([]);
  });
});
