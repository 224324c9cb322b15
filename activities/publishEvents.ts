import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { getConfig } from "../shared/config";
import { wantedEvents } from "../shared/events/notificationOptIn";
import type { PgvaultEvent } from "../shared/events/pgvaultEvents";
import { publishEvents } from "../shared/events/publishEvents";

/** Ids, facts and codes only: the orchestration's events as they will be sent, never a secret. */
export interface PublishEventsInput {
  events: PgvaultEvent[];
}

/**
 * Publishes an orchestration's events to the Event Grid topic, those the instances' policies want; returns how many
 * went. Without EVENT_GRID_TOPIC_ENDPOINT it reads and sends nothing. A refused publish (4xx) comes back as a value,
 * one worth retrying (5xx, network) is thrown for the orchestrator's retry policy.
 */
export async function publishEventsActivity(input: PublishEventsInput, context: InvocationContext): Promise<ActivityOutcome<number>> {
  return asOutcome(async () => {
    if (!getConfig().eventGridTopicEndpoint) return 0;
    const events = await wantedEvents(input.events);
    await publishEvents(events);
    if (events.length > 0) context.log(`events published: ${events.map((event) => `${event.type} ${event.id}`).join(", ")}`);
    return events.length;
  });
}

export const publishEventsStep = df.app.activity("publishEvents", { handler: publishEventsActivity });
