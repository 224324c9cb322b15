/**
 * GET /reports/usage (issue 27, item 6): on a seeded catalog of known points and jobs, the vault's bytes at the end
 * of each day, one instance's backups of the window and the RPO health states; and what it reads per request
 * (docs/architecture.md, "Usage charts"): the Backup Center's four queries, one query per instance of its points,
 * and with an instance its backups' key range; never the `jobs` rows. This file's own Azurite, behind a proxy
 * that records each table request.
 */
import { HttpRequest } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { usageReportHandler } from "../../functions/usageReport";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { updateJob } from "../../shared/catalog/jobRows";
import type { RecoveryPoint } from "../../shared/domain";
import { handled } from "../../shared/http";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { vaultUsageByDay } from "../../shared/reports/usageFigures";
import type { UsageReport } from "../../shared/reports/usageReport";
import { bodyOf, invocation } from "../support/http";
import { recordTableRequests, type TableRequestRecorder } from "../support/tableRequestRecorder";

let tables: TableRequestRecorder;

const day = 86_400_000;
const hour = 3_600_000;
const today = Math.floor(Date.now() / day) * day;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
let pointCount = 0;

async function point(instanceName: string, time: number, sizeBytes: number, fields: Partial<RecoveryPoint> = {}): Promise<void> {
  const id = recoveryPointId(new Date(time), (++pointCount).toString(16).padStart(8, "0"));
  await putRecoveryPoint({ id, instanceName, time: iso(time), tag: "Default", expiresAt: iso(time + 3650 * day), status: "Available", sizeBytes, blobs: [], format: "pg_dump-custom", sha256: "0".repeat(64), serverVersion: "16", toolVersion: "16", ...fields } as RecoveryPoint);
}

beforeAll(async () => {
  tables = await recordTableRequests();
  await putPolicy({ name: "usage-daily", datasourceType: "database", schedule: { repeatingIntervals: ["R/2024-01-01T02:00:00Z/P1D"], timeZone: "UTC" }, retention: { default: { duration: "P30D" }, rules: [] } });
  await putPolicy({ name: "usage-monthly", datasourceType: "database", rpo: "P30D", schedule: { repeatingIntervals: ["R/2024-01-01T02:00:00Z/P1D"], timeZone: "UTC" }, retention: { default: { duration: "P30D" }, rules: [] } });
  const datasource = (database: string) => ({ type: "database" as const, host: "pg.example.com", port: 5432, database, secretRef: "env:PGVAULT_SECRET_X" });
  await putInstance({ name: "usage-a", policyName: "usage-daily", datasource: datasource("a"), protectionState: "ProtectionConfigured", createdAt: iso(today - 2000 * day) });
  await putInstance({ name: "usage-b", policyName: "usage-daily", datasource: datasource("b"), protectionState: "ProtectionStopped", createdAt: iso(today - 2000 * day) });
  await putInstance({ name: "usage-c", policyName: "usage-monthly", datasource: datasource("c"), protectionState: "ProtectionConfigured", createdAt: new Date().toISOString() });

  // usage-a: a point from before the window, held throughout.
  await point("usage-a", today - 100 * day, 1000);
  // Taken in the window, purged by retention 20 days ago (its claim before deleting).
  await point("usage-a", today - 50 * day + 2 * hour, 200, { status: "Deleted", expiresAt: iso(today - 21 * day), deletionStartedAt: iso(today - 20 * day + 3 * hour) });
  // A yearly point three years old, expired before the window, soft-deleted and purged 30 days ago.
  await point("usage-a", today - 3 * 365 * day, 300, { status: "Deleted", expiresAt: iso(today - 120 * day), softDeletedAt: iso(today - 130 * day), purgeAfter: iso(today - 30 * day + 5 * hour) });
  // Expired long before the window (its purge recorded 390 days after its expiry, more than any soft delete
  // allows): outside the lookback, not read, so its bytes never count.
  await point("usage-a", today - 5 * 365 * day, 1_000_000, { status: "Deleted", expiresAt: iso(today - 400 * day), purgeAfter: iso(today - 10 * day) });
  // Soft-deleted ten days ago: still in the vault.
  await point("usage-a", today - 10 * day + hour, 30, { status: "SoftDeleted", softDeletedAt: iso(today - 9 * day), purgeAfter: iso(today + 4 * day) });
  await point("usage-a", today - 2 * day + hour, 70);
  // usage-b: one point yesterday.
  await point("usage-b", today - day + hour, 5000);

  // usage-a's daily backups for 150 days, day d taking 60 + d seconds and 10 d bytes; the one 3 days ago failed.
  const days = Array.from({ length: 150 }, (_, i) => i + 1);
  for (let i = 0; i < days.length; i += 50) {
    await Promise.all(
      days.slice(i, i + 50).map((d) => {
        const start = today - d * day + 2 * hour;
        return updateJob(`usage-a-backup-${d}`, { operation: "Backup", trigger: "Scheduled", instanceName: "usage-a", status: d === 3 ? "Failed" : "Succeeded", phase: "Done", startTime: iso(start), endTime: iso(start + (60 + d) * 1000), bytes: 10 * d });
      }),
    );
  }
  // A restore in the window is not a backup.
  await updateJob("usage-a-restore", { operation: "Restore", trigger: "OnDemand", instanceName: "usage-a", status: "Succeeded", phase: "Done", startTime: iso(today - 5 * day), endTime: iso(today - 5 * day + 1000), bytes: 1 });
}, 300_000);
afterAll(() => tables?.stop());

async function report(query: string): Promise<{ status: number; body: UsageReport }> {
  const request = new HttpRequest({ method: "GET", url: `http://127.0.0.1:7071/api/reports/usage${query}` });
  const response = await handled(usageReportHandler)(request, invocation("usageReport"));
  return { status: response.status ?? 200, body: bodyOf<UsageReport>(response) };
}

const queriesOf = (table: string) => tables.queriesOf(table);
const allQueries = () => tables.queries();

/** Expected bytes at the end of the day `d` days before today, from the seeded points. */
function expectedBytes(d: number, instances: "a" | "fleet"): number {
  let bytes = 1000;
  if (d >= 21 && d <= 50) bytes += 200;
  if (d >= 31) bytes += 300;
  if (d <= 10) bytes += 30;
  if (d <= 2) bytes += 70;
  if (instances === "fleet" && d <= 1) bytes += 5000;
  return bytes;
}

describe("GET /reports/usage", () => {
  test("when the fleet's usage of 90 days is asked, then each day holds the bytes of the points held at its end, health counts each state, and it reads 4 + one query per instance", async () => {
    // usage-c has had no change that counts its summary: the first request counts it once (the Backup Center's
    // repair, backupCenter/summary.ts); the requests measured come after.
    expect((await report("?days=1")).status).toBe(200);
    tables.clear();
    const { status, body } = await report("?days=90");
    expect(status).toBe(200);
    expect(body.instanceName).toBeNull();
    expect(body.period.days).toBe(90);
    expect(body.period.from).toBe(iso(today - 89 * day));
    expect(body.vault).toHaveLength(90);
    expect(body.vault.map((v) => v.date)).toEqual(Array.from({ length: 90 }, (_, i) => iso(today - (89 - i) * day).slice(0, 10)));
    expect(body.vault.map((v) => v.bytes)).toEqual(Array.from({ length: 90 }, (_, i) => expectedBytes(89 - i, "fleet")));
    // Today's figure is the Backup Center's: the Available and SoftDeleted points.
    expect(body.vault.at(-1)).toMatchObject({ bytes: 1000 + 30 + 70 + 5000, points: 4 });
    expect(body.backups).toBeNull();
    expect(body.health.counts).toEqual({ Healthy: 1, AtRisk: 0, Breached: 1, None: 1 });
    const a = body.health.instances.find((h) => h.instanceName === "usage-a")!;
    expect(a).toMatchObject({ state: "Breached", rpo: "PT25H", rpoSeconds: 25 * 3600, newestPoint: { time: iso(today - 2 * day + hour) } });
    expect(a.newestPoint!.ageSeconds).toBeGreaterThan(47 * 3600);
    expect(body.health.instances.find((h) => h.instanceName === "usage-b")).toMatchObject({ state: null, rpoSeconds: null, newestPoint: null });
    expect(body.health.instances.find((h) => h.instanceName === "usage-c")).toMatchObject({ state: "Healthy", rpo: "P30D", newestPoint: null });

    expect(queriesOf("backupInstances")).toHaveLength(1);
    expect(queriesOf("backupPolicies")).toHaveLength(1);
    expect(queriesOf("instanceSummaries")).toHaveLength(1);
    expect(queriesOf("jobs")).toEqual([]);
    // The Backup Center's failed jobs of 30 days: one key range; no other job list.
    expect(queriesOf("jobIndex")).toEqual([expect.stringMatching(/PartitionKey eq 'status\|Failed' and RowKey gt '\d+\.' and RowKey lt '\d+\.'$/)]);
    const pointQueries = queriesOf("recoveryPoints");
    expect(pointQueries).toHaveLength(3);
    for (const name of ["usage-a", "usage-b", "usage-c"]) {
      expect(pointQueries.filter((line) => line.includes(`PartitionKey eq '${name}' and (status ne 'Deleted' or expiresAt ge '${iso(today - (89 + 181) * day)}')`))).toHaveLength(1);
    }
    expect(allQueries()).toHaveLength(4 + 3);
  });

  test("when one instance's usage is asked, then it has that instance's bytes per day and its backups of the window with duration and bytes, read from one key range of its jobs", async () => {
    tables.clear();
    const { status, body } = await report("?days=90&instanceName=usage-a");
    expect(status).toBe(200);
    expect(body.instanceName).toBe("usage-a");
    expect(body.vault.map((v) => v.bytes)).toEqual(Array.from({ length: 90 }, (_, i) => expectedBytes(89 - i, "a")));
    expect(body.health.counts).toEqual({ Healthy: 0, AtRisk: 0, Breached: 1, None: 0 });
    // Days 1 to 89 before today are in the window, oldest first; the restore is not a backup.
    expect(body.backups).toHaveLength(89);
    expect(body.backups![0]).toEqual({ jobId: "usage-a-backup-89", startTime: iso(today - 89 * day + 2 * hour), endTime: iso(today - 89 * day + 2 * hour + 149_000), durationSeconds: 149, status: "Succeeded", bytes: 890, recoveryPointId: null });
    expect(body.backups!.find((run) => run.jobId === "usage-a-backup-3")).toMatchObject({ status: "Failed", durationSeconds: 63 });
    expect(body.backups!.at(-1)).toMatchObject({ jobId: "usage-a-backup-1", durationSeconds: 61, bytes: 10 });

    expect(queriesOf("jobs")).toEqual([]);
    const jobQueries = queriesOf("jobIndex");
    expect(jobQueries).toHaveLength(2);
    expect(jobQueries.filter((line) => /PartitionKey eq 'instance\|usage-a' and RowKey gt '\d+\.' and RowKey lt '\d+\.' and operation eq 'Backup'$/.test(line))).toHaveLength(1);
    expect(queriesOf("recoveryPoints")).toEqual([expect.stringContaining("PartitionKey eq 'usage-a' and")]);
    expect(allQueries()).toHaveLength(4 + 2);
  });

  test("when days or the instance are wrong, then it answers 400 with each problem, or 404 for an instance that does not exist", async () => {
    const bad = await report("?days=0&instanceName=Not_A_Name");
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("days");
    expect(JSON.stringify(bad.body)).toContain("instanceName");
    expect((await report("?days=401")).status).toBe(400);
    expect((await report("?instanceName=usage-zzz")).status).toBe(404);
  });
});

describe("vaultUsageByDay", () => {
  test("when a point is taken and purged within one day, then no day's end holds it; a point taken at a day's last millisecond counts that day", () => {
    const base = Date.UTC(2026, 0, 10);
    const points = [
      { time: iso(base + hour), status: "Deleted", deletionStartedAt: iso(base + 2 * hour), expiresAt: iso(base), sizeBytes: 7 },
      { time: new Date(base + day - 1).toISOString(), status: "Available", expiresAt: iso(base + 99 * day), sizeBytes: 5 },
    ] as RecoveryPoint[];
    expect(vaultUsageByDay(points, ["2026-01-10", "2026-01-11"], new Date(base + 3 * day))).toEqual([
      { date: "2026-01-10", bytes: 5, points: 1 },
      { date: "2026-01-11", bytes: 5, points: 1 },
    ]);
    // A day not over yet counts at `now`.
    expect(vaultUsageByDay(points, ["2026-01-10"], new Date(base + 90 * 60_000))).toEqual([{ date: "2026-01-10", bytes: 7, points: 1 }]);
  });
});
