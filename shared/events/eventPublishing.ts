/**
 * Events raised outside an orchestration (the RPO health a scheduler tick or the nightly reconciliation evaluates,
 * a person's deletion of a recovery point, the jobs the reconciliation settles) leave through the `eventPublishing`
 * orchestration (orchestrators/eventPublishing.ts), so they get the publishEvents activity and its retries over a
 * minute and more, as a job's own events do, not only the Event Grid client's few seconds in the caller.
 *
 * Each orchestration carries at most `eventsPerOrchestration` events: its input is stored in the history, so it
 * must not grow with the fleet. Its instance id is made of the events' ids, so a start repeated for the same events
 * (an activity retried after its answer was lost) finds the first one rather than publishing beside it.
 */
import { createHash } from "node:crypto";
import type { DurableClient } from "durable-functions";
import { getConfig } from "../config";
import { ensureError } from "../errors";
import type { PgvaultEvent } from "./pgvaultEvents";

export const eventPublishingOrchestrationName = "eventPublishing";

/** Ids, facts and codes only (the events as they will be sent), never a secret. */
export interface EventPublishingInput {
  events: PgvaultEvent[];
}

export const eventsPerOrchestration = 50;

/** `events-` and a digest of the events' ids, in their order. */
export function eventPublishingInstanceId(events: readonly PgvaultEvent[]): string {
  const digest = createHash("sha256");
  for (const event of events) digest.update(event.id).update("\n");
  return `events-${digest.digest("hex").slice(0, 32)}`;
}

/**
 * Starts the publishing of `events`, in orchestrations of at most `eventsPerOrchestration`; returns their instance
 * ids. Without EVENT_GRID_TOPIC_ENDPOINT nothing is started (there is nowhere to publish). Never throws: a start
 * that fails is a warning naming the events it loses (the error's name only: a durable client's message may quote
 * its URL), and what they announce stays recorded where it was.
 */
export async function startEventPublishing(client: DurableClient, events: readonly PgvaultEvent[], warn: (line: string) => void): Promise<string[]> {
  if (events.length === 0 || !getConfig().eventGridTopicEndpoint) return [];
  const started: string[] = [];
  for (let first = 0; first < events.length; first += eventsPerOrchestration) {
    const chunk = events.slice(first, first + eventsPerOrchestration);
    const instanceId = eventPublishingInstanceId(chunk);
    try {
      await client.startNew(eventPublishingOrchestrationName, { instanceId, input: { events: chunk } satisfies EventPublishingInput });
      started.push(instanceId);
    } catch (err) {
      warn(`${chunk.length} events not published, their orchestration could not be started (${ensureError(err).name}): ${chunk.map((event) => event.id).join(", ")}`);
    }
  }
  return started;
}
