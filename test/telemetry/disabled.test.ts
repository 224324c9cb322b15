/**
 * Without APPLICATIONINSIGHTS_CONNECTION_STRING (local runs, tests, an app without Application Insights), telemetry
 * starts nothing: no exporter, no timer, no global provider, not even the distro's code, and recording stays safe.
 */
import { metrics } from "@opentelemetry/api";
import { expect, test } from "vitest";
import { updateJobActivity } from "../../activities/updateJob";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import { loadConfig } from "../../shared/config";
import type { Job } from "../../shared/domain";
import { flushTelemetry, recordJobFinished, reportJobFinished, startTelemetry, stopTelemetry } from "../../shared/telemetry";

delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;

const loadedDistro = () => Object.keys(require.cache).filter((file) => file.includes(`${"@azure"}/monitor-opentelemetry`));

test("when the setting is absent, then startTelemetry starts nothing and throws nothing", async () => {
  const config = loadConfig();
  expect(config).not.toHaveProperty("applicationInsightsConnectionString");
  const providerBefore = metrics.getMeterProvider();
  const resourcesBefore = process.getActiveResourcesInfo().sort();

  expect(startTelemetry(config)).toBe(false);

  expect(metrics.getMeterProvider()).toBe(providerBefore);
  expect("forceFlush" in providerBefore).toBe(false);
  expect(process.getActiveResourcesInfo().sort()).toEqual(resourcesBefore);
  expect(loadedDistro()).toEqual([]);
  await expect(flushTelemetry()).resolves.toBeUndefined();
  await expect(stopTelemetry()).resolves.toBeUndefined();
});

test("when telemetry is off, then finished jobs are recorded into the no-op meter without error, and the updateJob activity still finishes the row", async () => {
  const job: Job = {
    id: "backup-telemetry-off-20260107T000000Z",
    operation: "Backup",
    trigger: "OnDemand",
    instanceName: "telemetry-off",
    status: "Queued",
    startTime: "2026-01-07T00:00:00Z",
    phase: "Queued",
    bytes: 0,
  };
  expect(() => recordJobFinished({ ...job, status: "Succeeded", endTime: "2026-01-07T00:01:00Z", bytes: 10 })).not.toThrow();
  // No row exists for this id, and none is read: reporting does nothing when telemetry is off.
  await expect(reportJobFinished("no-such-job", { status: "Failed", endTime: "2026-01-07T00:01:00Z" })).resolves.toBeUndefined();

  await updateJob(job.id, job);
  await updateJobActivity({ jobId: job.id, update: { status: "Succeeded", phase: "Done", endTime: "2026-01-07T00:01:00Z", bytes: 10 } });
  expect(await getJob(job.id)).toMatchObject({ status: "Succeeded", endTime: "2026-01-07T00:01:00Z", bytes: 10 });
  expect(loadedDistro()).toEqual([]);
});
