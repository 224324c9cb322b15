/**
 * Sends pgvault's events to the Event Grid topic EVENT_GRID_TOPIC_ENDPOINT names, as CloudEvents 1.0 through
 * `@azure/eventgrid` and the app's Microsoft Entra identity (the topic allows no keys). Without the setting it does
 * nothing at all. Events go in batches under Event Grid's 1 MB limit for one publish request (docs/platform-facts.md,
 * "Event Grid"). The events' ids are the callers' deterministic ones, so a retried publish repeats the same ids.
 */
import { EventGridPublisherClient, type SendCloudEventInput } from "@azure/eventgrid";
import { getAzureCredential } from "../azureCredential";
import { getConfig } from "../config";
import { ensureError, PgVaultError } from "../errors";
import type { PgvaultEvent, PgvaultEventData } from "./pgvaultEvents";

/** The CloudEvents `source` of every pgvault event: the producer, the same in every deployment (the topic tells deployments apart). */
export const pgvaultEventSource = "/pgvault";

/**
 * Event Grid takes at most 1 MB per publish request (array and single event alike; larger is 413). The budget keeps
 * a margin under 1,000,000 bytes for what the SDK adds per event beyond our own serialization (its time format, the
 * `specversion` and `datacontenttype` attributes) and the array's brackets and commas.
 */
export const batchBytesAtMost = 1_000_000;
const perEventOverheadBytes = 200;

let client: { endpoint: string; client: EventGridPublisherClient<"CloudEvent"> } | undefined;

function publisherFor(endpoint: string): EventGridPublisherClient<"CloudEvent"> {
  if (client?.endpoint !== endpoint) client = { endpoint, client: new EventGridPublisherClient(endpoint, "CloudEvent", getAzureCredential()) };
  return client.client;
}

const asCloudEvent = (event: PgvaultEvent): SendCloudEventInput<PgvaultEventData> => ({
  type: event.type,
  source: pgvaultEventSource,
  id: event.id,
  subject: event.subject,
  time: new Date(event.time),
  datacontenttype: "application/json",
  data: event.data,
});

/** Consecutive runs of events whose estimated size stays within the budget; an event over it alone goes alone (and Event Grid says 413). */
export function inBatches(events: readonly PgvaultEvent[], budget = batchBytesAtMost): PgvaultEvent[][] {
  const batches: PgvaultEvent[][] = [];
  let current: PgvaultEvent[] = [];
  let size = 2;
  for (const event of events) {
    const bytes = Buffer.byteLength(JSON.stringify(asCloudEvent(event))) + perEventOverheadBytes;
    if (current.length > 0 && size + bytes > budget) {
      batches.push(current);
      current = [];
      size = 2;
    }
    current.push(event);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * A failed publish in spec terms. Only the status and Event Grid's error code are kept: never the response text or
 * the request (the SDK's error may hold the token's audience or the URL). 5xx, 408, 429 and network failures are
 * worth another attempt; 400, 401, 403, 404 and 413 are not (the same events would be refused again).
 */
export function eventGridFailure(err: unknown, count: number, endpoint: string): PgVaultError {
  const error = ensureError(err);
  const host = new URL(endpoint).host;
  const status = (error as { statusCode?: number }).statusCode;
  const code = (error as { code?: unknown }).code;
  const reason = status ? `HTTP ${status}${typeof code === "string" && /^[A-Za-z0-9_.-]{1,60}$/.test(code) ? ` ${code}` : ""}` : (error as NodeJS.ErrnoException).code ?? error.name;
  const transient = status === undefined || status === 408 || status === 429 || status >= 500;
  const recommendedAction =
    status === 401 || status === 403
      ? "Give the app's identity the 'EventGrid Data Sender' role on the topic (infra/ does), and check that the topic's network rules admit the app."
      : "Check EVENT_GRID_TOPIC_ENDPOINT (the topic's endpoint, ending in /api/events) and the topic's health; the job the events report on is not affected.";
  return new PgVaultError("SystemErrorUnexpected", `Publishing ${count} event(s) to the Event Grid topic ${host} failed (${reason}).`, { transient, recommendedAction });
}

/** Publishes `events` in order, batch by batch; nothing when the topic is not configured or there are no events. */
export async function publishEvents(events: readonly PgvaultEvent[]): Promise<void> {
  const endpoint = getConfig().eventGridTopicEndpoint;
  if (!endpoint || events.length === 0) return;
  const publisher = publisherFor(endpoint);
  for (const batch of inBatches(events)) {
    try {
      await publisher.send(batch.map(asCloudEvent));
    } catch (err) {
      throw eventGridFailure(err, batch.length, endpoint);
    }
  }
}
