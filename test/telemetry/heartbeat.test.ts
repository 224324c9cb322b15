/**
 * The dead man's switch: each scheduler tick that ran to its end sends `pgvault.scheduler.heartbeat`, which the
 * alert in infra/ counts. The real timer handler runs against a durable client stand-in, with telemetry exported by
 * the real Azure Monitor distro to the ingestion stand-in. The vault is the second test Azurite, whose catalog is
 * empty, so these ticks claim and start nothing of other test files (own process: settings are read once).
 */
import type { Timer } from "@azure/functions";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { runScheduler as RunScheduler } from "../../functions/scheduler";
import { getConfig } from "../../shared/config";
import { flushTelemetry, metricNames, startTelemetry, stopTelemetry } from "../../shared/telemetry";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { metricsIn, startIngestionStandIn, type IngestionStandIn } from "../support/appInsightsIngestion";

let ingestion: IngestionStandIn;
let durable: DurableClientStandIn;
let runScheduler: typeof RunScheduler;

beforeAll(async () => {
  process.env.VaultStorage = inject("exportConnectionString");
  ingestion = await startIngestionStandIn(inject("tls"));
  process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = ingestion.connectionString;
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = "true";
  expect(startTelemetry(getConfig())).toBe(true);
  durable = await startDurableClientStandIn();
  // Imported after the settings are in place: the timer's module reads the configuration as it loads.
  ({ runScheduler } = await import("../../functions/scheduler"));
});

afterAll(async () => {
  await stopTelemetry();
  await ingestion?.close();
  await durable?.close();
});

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };

test("when the scheduler ticks three times, then the heartbeat metric counts three, without dimensions", async () => {
  const { client, context } = durable.client("scheduler");
  for (let tick = 0; tick < 3; tick++) await runScheduler(timer, client, context);
  await flushTelemetry();

  expect(metricsIn(ingestion.drain()).filter((metric) => metric.name === metricNames.schedulerHeartbeat)).toEqual([
    { name: "pgvault.scheduler.heartbeat", kind: "Aggregation", value: 3, count: 1, properties: {} },
  ]);
  expect(durable.started).toEqual([]);
});

test("when no tick ran in an export interval, then no heartbeat is sent at all (the alert sees its absence)", async () => {
  await flushTelemetry();

  expect(metricsIn(ingestion.drain()).filter((metric) => metric.name === metricNames.schedulerHeartbeat)).toEqual([]);
});
