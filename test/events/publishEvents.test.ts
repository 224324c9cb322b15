/**
 * publishEvents end to end: the real EventGridPublisherClient and DefaultAzureCredential (App Service managed
 * identity) against the protocol-level Event Grid topic stand-in (test/support/eventGridServer.ts). The setting is
 * read once per process, so this file sets EVENT_GRID_TOPIC_ENDPOINT before the first publish.
 */
import { readFileSync } from "node:fs";
import https from "node:https";
import { describe, expect, inject, test } from "vitest";
import { PgVaultError } from "../../shared/errors";
import { instanceSubject, type PgvaultEvent } from "../../shared/events/pgvaultEvents";
import { batchBytesAtMost, inBatches, pgvaultEventSource, publishEvents } from "../../shared/events/publishEvents";
import { cloudEventsBatchContentType, eventGridResource, publishApiVersion, useEventGridTopic, type EventGridTestServer } from "../support/eventGridServer";

let topic: EventGridTestServer;
useEventGridTopic((started) => (topic = started));

let serial = 0;
function failedJobEvent(message = "Permission denied for table sales.orders."): PgvaultEvent {
  const jobId = `backup-events-${++serial}`;
  return {
    id: `${jobId}/failed`,
    type: "pgvault.job.failed",
    subject: instanceSubject("sales-prod"),
    time: "2026-01-04T02:31:07Z",
    data: { instanceName: "sales-prod", jobId, operation: "Backup", errorCode: "UserErrorMissingDBPermissions", message, recommendedAction: "Grant SELECT." },
  };
}

const topicRequests = (from: number) => topic.requests.slice(from).filter((r) => r.server === "topic");

/** Publishes and returns the error it threw, or fails the test when it did not throw. */
async function publishFailure(events: PgvaultEvent[]): Promise<PgVaultError> {
  const error = await publishEvents(events).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(PgVaultError);
  return error as PgVaultError;
}

/** A raw publish request (for the stand-in's own checks), with a token the identity endpoint issued for `resource`. */
async function rawPublish(body: string, options: { contentType?: string; resource?: string; apiVersion?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: unknown }> {
  const identity = new URL(topic.identityEndpoint);
  identity.searchParams.set("api-version", "2019-08-01");
  identity.searchParams.set("resource", options.resource ?? eventGridResource);
  const token = ((await (await fetch(identity, { headers: { "x-identity-header": topic.identityHeader } })).json()) as { access_token: string }).access_token;
  const url = new URL(topic.topicEndpoint);
  url.searchParams.set("api-version", options.apiVersion ?? publishApiVersion);
  return new Promise((resolve, reject) => {
    const request = https.request(url, {
      method: "POST",
      ca: readFileSync(inject("tls").certFile),
      headers: { "content-type": options.contentType ?? cloudEventsBatchContentType, authorization: `Bearer ${token}`, ...options.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    request.on("error", reject);
    request.end(body);
  });
}

const wellFormed = { specversion: "1.0", id: "e-1", source: "/pgvault", type: "pgvault.job.failed", time: "2026-01-04T02:31:07Z", data: { message: "m" } };

describe("publishing to an Event Grid topic", () => {
  test("when events are published, then one POST to /api/events carries them as a CloudEvents 1.0 batch, signed in with a token for Event Grid", async () => {
    const mark = topic.requests.length;
    const events = [failedJobEvent(), failedJobEvent()];

    await publishEvents(events);

    const [request, ...more] = topicRequests(mark);
    expect(more).toEqual([]);
    expect(request).toMatchObject({ method: "POST", path: "/api/events", apiVersion: "2018-01-01", contentType: cloudEventsBatchContentType, bearer: true, status: 200 });
    expect(topic.requests.slice(mark).filter((r) => r.server === "identity").map((r) => r.resource)).toEqual(expect.arrayContaining([eventGridResource]));
    expect(topic.accepted.slice(-2)).toEqual(
      events.map((event) => ({
        specversion: "1.0",
        id: event.id,
        source: pgvaultEventSource,
        type: "pgvault.job.failed",
        subject: "backupInstances/sales-prod",
        time: "2026-01-04T02:31:07.000Z",
        datacontenttype: "application/json",
        data: event.data,
      })),
    );
  });

  test("when the topic answers 503 once, then the client tries again and each event is accepted exactly once", async () => {
    const mark = topic.requests.length;
    const before = topic.accepted.length;
    const events = [failedJobEvent(), failedJobEvent(), failedJobEvent()];
    topic.failNext(1, 503);

    await publishEvents(events);

    expect(topicRequests(mark).map((r) => r.status)).toEqual([503, 200]);
    expect(topic.accepted.slice(before).map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  test("when the topic answers 503 to every attempt, then the failure is a transient SystemErrorUnexpected naming the topic and the status, and nothing else", async () => {
    const mark = topic.requests.length;
    // Retry-After: 0 lets the client's own four attempts (one and three retries) go at once.
    topic.failNext(4, 503, 0);

    const error = await publishFailure([failedJobEvent()]);

    expect(topicRequests(mark).map((r) => r.status)).toEqual([503, 503, 503, 503]);
    expect(error.code).toBe("SystemErrorUnexpected");
    expect(error.transient).toBe(true);
    expect(error.detail).toBe("Publishing 1 event(s) to the Event Grid topic 127.0.0.1:" + new URL(topic.topicEndpoint).port + " failed (HTTP 503 ServiceUnavailable).");
    expect(error.recommendedAction).toMatch(/EVENT_GRID_TOPIC_ENDPOINT/);
  });

  test("when a single event is over 1 MB, then the topic answers 413 and the failure is not worth retrying", async () => {
    const mark = topic.requests.length;

    const error = await publishFailure([failedJobEvent("x".repeat(1_100_000))]);

    expect(topicRequests(mark).map((r) => r.status)).toEqual([413]);
    expect(error).toMatchObject({ code: "SystemErrorUnexpected", transient: false });
    expect(error.detail).toContain("HTTP 413");
  });

  test("when events total over 1 MB, then they go in several requests of at most 1 MB each, and all are accepted in order", async () => {
    const mark = topic.requests.length;
    const before = topic.accepted.length;
    const events = Array.from({ length: 30 }, () => failedJobEvent("y".repeat(50_000)));

    await publishEvents(events);

    const requests = topicRequests(mark);
    expect(requests.length).toBeGreaterThan(1);
    for (const request of requests) {
      expect(request.status).toBe(200);
      expect(request.bytes).toBeLessThanOrEqual(1024 * 1024);
    }
    expect(topic.accepted.slice(before).map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(inBatches(events).every((batch) => Buffer.byteLength(JSON.stringify(batch)) < batchBytesAtMost)).toBe(true);
  });

  test("when there are no events, then nothing is sent", async () => {
    const mark = topic.requests.length;
    await publishEvents([]);
    expect(topicRequests(mark)).toEqual([]);
  });
});

describe("the topic stand-in keeps Event Grid's rules", () => {
  test("when a well-formed batch comes with a token for Event Grid, then it is accepted with 200", async () => {
    expect((await rawPublish(JSON.stringify([{ ...wellFormed, id: "raw-ok" }]))).status).toBe(200);
  });

  test.each([
    ["an event without specversion", JSON.stringify([{ ...wellFormed, specversion: undefined }]), {}, 400],
    ["specversion 0.3", JSON.stringify([{ ...wellFormed, specversion: "0.3" }]), {}, 400],
    ["an event without a source", JSON.stringify([{ ...wellFormed, source: "" }]), {}, 400],
    ["a time that is not RFC 3339", JSON.stringify([{ ...wellFormed, time: "yesterday" }]), {}, 400],
    ["an attribute name with upper case", JSON.stringify([{ ...wellFormed, errorCode: "x" }]), {}, 400],
    ["a single event, not an array", JSON.stringify(wellFormed), {}, 400],
    ["the Event Grid schema's content type", JSON.stringify([wellFormed]), { contentType: "application/json" }, 400],
    ["another api-version", JSON.stringify([wellFormed]), { apiVersion: "2020-06-01" }, 400],
    ["a token for Key Vault", JSON.stringify([wellFormed]), { resource: "https://vault.azure.net" }, 401],
    ["an access key besides the token (local auth is off)", JSON.stringify([wellFormed]), { headers: { "aeg-sas-key": "a-key" } }, 401],
    ["a body over 1 MB", JSON.stringify([{ ...wellFormed, data: { message: "z".repeat(1024 * 1024) } }]), {}, 413],
  ])("when a request sends %s, then it is refused with Event Grid's error body", async (_what, body, options, status) => {
    const answer = await rawPublish(body, options);

    expect(answer.status).toBe(status);
    expect(answer.body).toEqual({ error: { code: expect.any(String), message: expect.any(String), details: [{ code: expect.any(String), message: expect.any(String) }] } });
  });
});
