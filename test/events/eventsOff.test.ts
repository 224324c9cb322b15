/**
 * Without EVENT_GRID_TOPIC_ENDPOINT (own process: the setting is read once), nothing is published and nothing is
 * asked for: a topic stand-in and its identity endpoint are running and configured for the credential, and see no
 * request, while a failing backup still ends as before.
 */
import { InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { publishEventsActivity } from "../../activities/publishEvents";
import { getJob } from "../../shared/catalog/jobRows";
import { getConfig } from "../../shared/config";
import { recoveryPointDeletedEvent } from "../../shared/events/eventFactories";
import { startEventPublishing } from "../../shared/events/eventPublishing";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startDurableClientStandIn } from "../support/durableClientStandIn";
import { startEventGridServer, type EventGridTestServer } from "../support/eventGridServer";
import { instanceName } from "../support/retentionFixture";
import { createBackupRole, createDatabase, uniqueName } from "../support/testDatabase";

let topic: EventGridTestServer;

beforeAll(async () => {
  topic = await startEventGridServer(inject("tls"));
  process.env.IDENTITY_ENDPOINT = topic.identityEndpoint;
  process.env.IDENTITY_HEADER = topic.identityHeader;
  delete process.env.EVENT_GRID_TOPIC_ENDPOINT;
});

afterAll(async () => {
  delete process.env.IDENTITY_ENDPOINT;
  delete process.env.IDENTITY_HEADER;
  await topic?.close();
});

test("when EVENT_GRID_TOPIC_ENDPOINT is not set, then a failed backup publishes nothing and asks for no token, and its job fails as before", async () => {
  const database = uniqueName("ev_off");
  const role = uniqueName("ev_off_user");
  await createDatabase(database);
  await createBackupRole(database, role, "pw-right");
  const instance = await protect(instanceName("ev-off"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-wrong")));

  const run = await runBackup(instance);

  expect(getConfig().eventGridTopicEndpoint).toBeUndefined();
  expect(await getJob(run.jobId)).toMatchObject({ status: "Failed", error: { code: "UserErrorDBUserAuthFailed" } });
  expect(run.state.error).toContain("UserErrorDBUserAuthFailed");
  // The activity ran once, did nothing, and said so with a count of none.
  expect(run.attempts.filter((a) => a.name === "publishEvents")).toEqual([{ name: "publishEvents", attempt: 1 }]);
  expect(topic.requests).toEqual([]);
});

test("when the activity is handed events without a topic, then it answers that none went", async () => {
  const event = { id: "x/failed", type: "pgvault.job.failed", subject: "backupInstances/x", time: "2026-01-04T02:30:00Z", data: { instanceName: "x", message: "m" } } as const;
  const outcome = await publishEventsActivity({ events: [event] }, new InvocationContext({ functionName: "publishEvents" }));
  expect(outcome).toEqual({ ok: true, value: 0 });
  expect(topic.requests).toEqual([]);
});

test("when EVENT_GRID_TOPIC_ENDPOINT is not set, then events raised outside an orchestration start no eventPublishing orchestration", async () => {
  const standIn = await startDurableClientStandIn();
  try {
    const { client } = standIn.client("scheduler");
    const event = recoveryPointDeletedEvent({ instanceName: "off", id: "rp-1", softDeletedAt: "2026-12-07T10:00:00Z", purgeAfter: "2026-12-21T10:00:00Z" });
    expect(await startEventPublishing(client, [event], (line) => expect.fail(line))).toEqual([]);
    expect(standIn.started).toEqual([]);
  } finally {
    await standIn.close();
  }
});
