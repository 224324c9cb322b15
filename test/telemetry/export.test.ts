/**
 * With APPLICATIONINSIGHTS_CONNECTION_STRING set, finished jobs reach Application Insights as custom metrics: the
 * real Azure Monitor distro and exporter post them to a protocol-level ingestion stand-in, and the test reads the
 * envelopes as the portal's `customMetrics` table would hold them (name, value/count/min/max, customDimensions).
 */
import { afterAll, beforeAll, describe, expect, inject, test, vi } from "vitest";
import { updateJobActivity } from "../../activities/updateJob";
import { putInstance, putPolicy } from "../../shared/catalog/catalog";
import { updateJob } from "../../shared/catalog/jobRows";
import { getConfig } from "../../shared/config";
import type { BackupPolicy, Job } from "../../shared/domain";
import { evaluateFleetHealth } from "../../shared/rpo/healthStates";
import { flushTelemetry, metricNames, recordJobFinished, startTelemetry, stopTelemetry } from "../../shared/telemetry";
import { metricsIn, startIngestionStandIn, type Envelope, type IngestionStandIn } from "../support/appInsightsIngestion";

let ingestion: IngestionStandIn;

beforeAll(async () => {
  ingestion = await startIngestionStandIn(inject("tls"));
  process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = ingestion.connectionString;
  // The exporter's own health reports (statsbeat) go to Microsoft's endpoints; tests stay on loopback.
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = "true";
  expect(startTelemetry(getConfig())).toBe(true);
});

afterAll(async () => {
  await stopTelemetry();
  await ingestion.close();
});

/** Flushes the SDK and returns what the stand-in received since the last look. */
async function exported(): Promise<Envelope[]> {
  await flushTelemetry();
  return ingestion.drain();
}

const backup: Job = {
  id: "backup-sales-prod-20260104T023000Z",
  operation: "Backup",
  trigger: "Scheduled",
  instanceName: "sales-prod",
  status: "Succeeded",
  startTime: "2026-01-04T02:30:00Z",
  endTime: "2026-01-04T02:42:34Z",
  phase: "Done",
  bytes: 123_456_789,
  recoveryPointId: "rp-20260104T023007Z-1a2b3c4d",
};

const failedRestore: Job = {
  id: "restore-sales-prod-20260105T101500Z",
  operation: "Restore",
  trigger: "OnDemand",
  instanceName: "sales-prod",
  status: "Failed",
  startTime: "2026-01-05T10:15:00Z",
  endTime: "2026-01-05T10:15:09Z",
  phase: "CheckingAccess",
  bytes: 0,
  error: { code: "UserErrorDatabaseNameAlreadyInUse", message: "Database 'sales' exists.", recommendedAction: "Set overwrite." },
};

describe("finished jobs as custom metrics", () => {
  test("when a backup succeeded and a restore failed, then the ingestion endpoint receives their metrics with the job's dimensions", async () => {
    recordJobFinished(backup);
    recordJobFinished(failedRestore);
    const envelopes = await exported();

    expect(ingestion.requests.at(-1)).toMatchObject({ method: "POST", path: "/v2.1/track", status: 200 });
    for (const envelope of envelopes) {
      expect(envelope).toMatchObject({ name: "Microsoft.ApplicationInsights.Metric", iKey: ingestion.instrumentationKey, data: { baseType: "MetricData" } });
    }
    const byName = (name: string) => metricsIn(envelopes).filter((metric) => metric.name === name);
    expect(byName(metricNames.jobDuration)).toEqual(
      expect.arrayContaining([
        { name: "pgvault.job.duration", kind: "Aggregation", value: 754, count: 1, min: 754, max: 754, properties: { operation: "Backup", status: "Succeeded", trigger: "Scheduled" } },
        { name: "pgvault.job.duration", kind: "Aggregation", value: 9, count: 1, min: 9, max: 9, properties: { operation: "Restore", status: "Failed", trigger: "OnDemand" } },
      ]),
    );
    expect(byName(metricNames.jobDuration)).toHaveLength(2);
    expect(byName(metricNames.backupBytes)).toEqual([
      { name: "pgvault.backup.bytes", kind: "Aggregation", value: 123_456_789, count: 1, min: 123_456_789, max: 123_456_789, properties: { instance: "sales-prod", trigger: "Scheduled" } },
    ]);
    expect(byName(metricNames.jobFailures)).toEqual([
      { name: "pgvault.job.failures", kind: "Aggregation", value: 1, count: 1, properties: { operation: "Restore", "error.code": "UserErrorDatabaseNameAlreadyInUse" } },
    ]);
  });

  test("when several jobs finish within one export interval, then each series carries their count, sum, min and max", async () => {
    recordJobFinished({ ...backup, endTime: "2026-01-04T02:31:00Z", bytes: 1000 });
    recordJobFinished({ ...backup, endTime: "2026-01-04T02:35:00Z", bytes: 3000 });
    recordJobFinished({ ...failedRestore, id: "r2" });
    recordJobFinished({ ...failedRestore, id: "r3", error: { code: "UserErrorMissingRestorePermissions", message: "m", recommendedAction: "a" } });
    const metrics = metricsIn(await exported());

    expect(metrics.find((m) => m.name === metricNames.backupBytes)).toMatchObject({ value: 4000, count: 2, min: 1000, max: 3000 });
    expect(metrics.find((m) => m.name === metricNames.jobDuration && m.properties.operation === "Backup")).toMatchObject({ value: 360, count: 2, min: 60, max: 300 });
    expect(metrics.filter((m) => m.name === metricNames.jobFailures).map((m) => [m.properties["error.code"], m.value])).toEqual(
      expect.arrayContaining([
        ["UserErrorDatabaseNameAlreadyInUse", 1],
        ["UserErrorMissingRestorePermissions", 1],
      ]),
    );
  });

  test("when a job was cancelled, then only its duration counts (status Cancelled); a running job records nothing", async () => {
    recordJobFinished({ ...backup, id: "c1", status: "Cancelled", trigger: "OnDemand", endTime: "2026-01-04T02:30:30Z", bytes: 500 });
    recordJobFinished({ ...backup, id: "c2", status: "InProgress", endTime: undefined });
    const metrics = metricsIn(await exported());

    expect(metrics).toEqual([
      { name: "pgvault.job.duration", kind: "Aggregation", value: 30, count: 1, min: 30, max: 30, properties: { operation: "Backup", status: "Cancelled", trigger: "OnDemand" } },
    ]);
  });
});

describe("the updateJob activity", () => {
  const jobId = "backup-telemetry-activity-20260106T000000Z";
  const start = { operation: "Backup", trigger: "OnDemand", instanceName: "telemetry-activity", startTime: "2026-01-06T00:00:00Z", bytes: 0 } as const;

  test("when an update finishes the job, then its metrics are recorded from the stored row; progress updates and storage calls export nothing", async () => {
    await updateJob(jobId, { ...start, status: "Queued", phase: "Queued" });
    await updateJobActivity({ jobId, update: { status: "InProgress", phase: "Uploading", bytes: 4096 } });
    expect(await exported()).toEqual([]);

    await updateJobActivity({ jobId, update: { status: "Succeeded", phase: "Done", endTime: "2026-01-06T00:01:40Z", bytes: 8192 } });
    const envelopes = await exported();

    expect(metricsIn(envelopes)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "pgvault.backup.bytes", value: 8192, count: 1, properties: { instance: "telemetry-activity", trigger: "OnDemand" } }),
        expect.objectContaining({ name: "pgvault.job.duration", value: 100, count: 1, properties: { operation: "Backup", status: "Succeeded", trigger: "OnDemand" } }),
      ]),
    );
    expect(metricsIn(envelopes)).toHaveLength(2);
  });

  test("when a later update tries to fail the finished job, then the catalog keeps it and nothing more is counted", async () => {
    const error = { code: "SystemErrorUnexpected", message: "late", recommendedAction: "none" } as const;
    await updateJobActivity({ jobId, update: { status: "Failed", endTime: "2026-01-06T00:02:00Z", error } });
    expect(metricsIn(await exported())).toEqual([]);
  });
});

describe("RPO breaches", () => {
  test("when each evaluation finds an instance Breached, then pgvault.rpo.breached counts it once per evaluation, with its name; one at risk counts nothing", async () => {
    const policy: BackupPolicy = {
      name: "telemetry-rpo-daily",
      datasourceType: "database",
      schedule: { repeatingIntervals: ["R/2030-01-01T02:00:00Z/P1D"], timeZone: "UTC" },
      retention: { default: { duration: "P30D" }, rules: [] },
    };
    await putPolicy(policy);
    const [breached, atRisk] = ["telemetry-rpo-breached", "telemetry-rpo-at-risk"];
    for (const [name, createdAt] of [[breached, "2030-09-01T00:00:00Z"], [atRisk, "2030-09-01T05:00:00Z"]] as const) {
      await putInstance({ name, policyName: policy.name, datasource: { type: "database", host: "h", port: 5432, database: "d", secretRef: "env:NONE" }, protectionState: "ProtectionConfigured", createdAt });
    }
    // No point yet: the RPO (25 hours) counts from creation; at 03:30 the next day one is 27.5 hours in, the other 22.5.
    // Of 2030: before the instants of test/rpo/healthStates.test.ts, whose rows it must not get ahead of.
    const now = new Date("2030-09-02T03:30:00Z");
    await evaluateFleetHealth(now);
    await evaluateFleetHealth(now);
    const rpoMetrics = metricsIn(await exported()).filter((m) => m.name === metricNames.rpoBreached);

    expect(rpoMetrics.filter((m) => m.properties.instanceName === breached)).toEqual([
      expect.objectContaining({ name: "pgvault.rpo.breached", value: 2, properties: { instanceName: breached } }),
    ]);
    expect(rpoMetrics.filter((m) => m.properties.instanceName === atRisk)).toEqual([]);
  });
});

describe("export failures", () => {
  test("when the ingestion endpoint refuses a batch, then the worker's console says so (the failure is not silent)", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      ingestion.refuseNext(400);
      recordJobFinished({ ...backup, id: "refused" });
      await flushTelemetry();
      expect(ingestion.requests.at(-1)).toMatchObject({ path: "/v2.1/track", status: 400 });
      expect(errors.mock.calls.map((call) => call.map(String).join(" ")).join("\n")).toMatch(/export/i);
    } finally {
      errors.mockRestore();
    }
    expect(ingestion.drain()).toEqual([]);
  });
});

describe("shutdown", () => {
  test("when telemetry stops, then what was recorded since the last export is sent first", async () => {
    recordJobFinished({ ...failedRestore, id: "last", error: { code: "UserErrorRecoveryPointCorrupted", message: "m", recommendedAction: "a" } });
    await stopTelemetry();

    expect(metricsIn(ingestion.drain()).find((m) => m.name === metricNames.jobFailures)).toMatchObject({
      value: 1,
      properties: { operation: "Restore", "error.code": "UserErrorRecoveryPointCorrupted" },
    });
  });

  test("when everything was sent, then it was metrics only: the catalog calls of this file (Azure SDK) became no dependency telemetry", () => {
    // Shutdown also flushed the span and log pipelines, so anything they held would be here now.
    expect(new Set(ingestion.envelopes.map((envelope) => envelope.data.baseType))).toEqual(new Set(["MetricData"]));
  });
});
