/**
 * The local host's durable engine when the task hub's storage goes away (with `npm start`'s embedded Azurite, the
 * task hub and the vault are one storage, so every vault outage is one too): an activity finishes while the
 * storage is down, so its result cannot be stored, and a timer trigger ticks meanwhile. The host must stay up, keep
 * the result, store it once the storage is back and finish the orchestration, as the Durable extension retries its
 * storage. Fixture app (test/local-host/fixture-app), host in this process, on this file's own Azurite.
 */
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { RunningHost } from "../../local-host/host";
import { startRestartableAzurite, type RestartableAzurite } from "../support/restartableAzurite";
import { compiledHost, waitUntil } from "../support/localHost";

const fixtureApp = path.join(__dirname, "..", "local-host", "fixture-app");
const webhooks = "/runtime/webhooks/durabletask";
let storage: RestartableAzurite;
let host: RunningHost;
const logs: string[] = [];

beforeAll(async () => {
  storage = await startRestartableAzurite();
  host = await compiledHost().startHost({
    appRoot: fixtureApp,
    port: 0,
    settings: { AzureWebJobsStorage: storage.connectionString, FIXTURE_SCHEDULE: "*/2 * * * * *", FIXTURE_HUB: "fixtureOutage" },
    log: (level, source, message) => logs.push(`${level} ${source}: ${message}`),
  });
});
afterAll(async () => {
  await host?.stop();
  await storage?.destroy();
});

async function status(id: string) {
  const response = await fetch(`${host.origin}${webhooks}/instances/${id}`);
  return response.status === 404 ? undefined : ((await response.json()) as { runtimeStatus: string; output: unknown });
}

test("when the task hub's storage stops while an activity runs, then the host stays up and the orchestration completes once the storage is back", async () => {
  const id = `sleepy-${Date.now()}`;
  const started = await fetch(`${host.origin}${webhooks}/orchestrators/sleepThenAnswer/${id}`, { method: "POST", body: JSON.stringify({ ms: 1_500, key: id }) });
  expect(started.status).toBe(202);
  await waitUntil(async () => ((await status(id))?.runtimeStatus === "Running" ? true : undefined), 10_000, "running");

  await storage.stop();
  // Down past the storage client's own retries (about 7 s), so the engine itself meets the failure.
  await waitUntil(async () => (logs.some((line) => line.includes(`the result of sleepy of ${id} could not be stored`)) ? true : undefined), 30_000, "a refused store");
  await storage.start();
  const back = new Date();

  const done = await waitUntil(async () => {
    const answer = await status(id).catch(() => undefined);
    return answer?.runtimeStatus === "Completed" ? answer : undefined;
  }, 30_000, "completed");
  // The activity ran once: its result was kept while the storage was away, not produced again.
  expect(done.output).toEqual({ slept: 1_500, runs: 1 });
  // And the timer trigger still ticks: it starts an orchestration after the outage.
  await waitUntil(async () => {
    const response = await fetch(`${host.origin}${webhooks}/instances/?createdTimeFrom=${back.toISOString()}`);
    const instances = (await response.json()) as { instanceId: string }[];
    return instances.some((instance) => instance.instanceId.startsWith("tick-")) ? true : undefined;
  }, 15_000, "a tick after the outage");
});
