/**
 * What the compliance report reads (issue 26, "bounded reads"; docs/architecture.md, "Compliance report"): with
 * months of jobs before the period, it asks the table service for the instances and policies once, and per instance
 * one key range of its job-index partition and its recovery points; never the `jobs` rows nor another partition.
 * This file's own Azurite, reached through a proxy that records each table request.
 */
import { HttpRequest } from "@azure/functions";
import { afterAll, beforeAll, expect, test } from "vitest";
import { complianceReportHandler } from "../../functions/reports";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { updateJob } from "../../shared/catalog/jobRows";
import { handled } from "../../shared/http";
import type { ComplianceReport } from "../../shared/reports/complianceReport";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { bodyOf, invocation } from "../support/http";
import { recordTableRequests, type TableRequestRecorder } from "../support/tableRequestRecorder";

let tables: TableRequestRecorder;

const instances = ["reads-a", "reads-b", "reads-c"];
const day = 86_400_000;

beforeAll(async () => {
  // Before any app module reads its configuration: this file's vault, its tables through the proxy.
  tables = await recordTableRequests();
  await putPolicy({ name: "reads-daily", datasourceType: "database", schedule: { repeatingIntervals: ["R/2024-01-01T02:00:00Z/P1D"], timeZone: "UTC" }, retention: { default: { duration: "P30D" }, rules: [] } });
  for (const name of instances) {
    await putInstance({ name, policyName: "reads-daily", datasource: { type: "database", host: "pg.example.com", port: 5432, database: name, secretRef: "env:PGVAULT_SECRET_X" }, protectionState: "ProtectionConfigured", createdAt: "2025-09-01T00:00:00Z" });
    // Four months of daily backups before the period (2026-01-01 to 2026-01-11), ten in it.
    const starts = Array.from({ length: 130 }, (_, i) => Date.parse("2025-09-03T02:00:00Z") + i * day);
    for (let i = 0; i < starts.length; i += 40) {
      await Promise.all(
        starts.slice(i, i + 40).map((start, j) => {
          const startTime = new Date(start).toISOString().replace(".000Z", "Z");
          return updateJob(`${name}-${i + j}`, { operation: "Backup", trigger: "Scheduled", instanceName: name, status: "Succeeded", startTime, endTime: startTime, phase: "Done", bytes: 0 });
        }),
      );
    }
    const time = "2026-01-05T02:01:00Z";
    await putRecoveryPoint({ id: recoveryPointId(new Date(time), "0000000a"), instanceName: name, time, tag: "Default", expiresAt: "2036-01-01T00:00:00Z", status: "Available", sizeBytes: 1, blobs: [], format: "pg_dump-custom", sha256: "0".repeat(64), serverVersion: "16", toolVersion: "16" });
  }
}, 300_000);
afterAll(() => tables?.stop());

test("when a report covers ten days after months of jobs, then it reads the instances, the policies and per instance one job-index range and its points", async () => {
  tables.clear();
  const request = new HttpRequest({ method: "GET", url: "http://127.0.0.1:7071/api/reports/compliance?from=2026-01-01T00:00:00Z&to=2026-01-11T00:00:00Z" });
  const response = await handled(complianceReportHandler)(request, invocation("complianceReport"));
  expect(response.status).toBe(200);
  const rows = bodyOf<ComplianceReport>(response).value;
  expect(rows.map((row) => [row.instanceName, row.backupsTaken, row.scheduledSlots])).toEqual(instances.map((name) => [name, 10, 10]));

  const of = tables.queriesOf;
  expect(of("backupInstances")).toHaveLength(1);
  expect(of("backupPolicies")).toHaveLength(1);
  expect(of("jobs")).toEqual([]);
  const jobQueries = of("jobIndex");
  expect(jobQueries).toHaveLength(instances.length);
  for (const name of instances) {
    expect(jobQueries.filter((line) => line.includes(`PartitionKey eq 'instance|${name}'`) && line.includes("RowKey gt") && line.includes("RowKey lt"))).toHaveLength(1);
  }
  expect(of("recoveryPoints")).toHaveLength(instances.length);
  // Nothing else was queried (point reads of single rows, such as the index's state, are not queries).
  expect(tables.queries()).toHaveLength(2 + 2 * instances.length);
});
