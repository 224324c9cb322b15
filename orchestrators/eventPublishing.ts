import * as df from "durable-functions";
import type { OrchestrationContext, OrchestrationHandler } from "durable-functions";
import { eventPublishingOrchestrationName, type EventPublishingInput } from "../shared/events/eventPublishing";
import { announce } from "./jobEvents";

/**
 * Publishes events raised outside an orchestration (shared/events/eventPublishing.ts) through the publishEvents
 * activity with `announce`'s retries; a failure after them is a warning, and the orchestration still completes
 * (nothing waits on it, and a Failed instance would only add noise to the hub).
 */
const eventPublishingOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { events } = context.df.getInput<EventPublishingInput>();
  yield* announce(context, events);
};

df.app.orchestration(eventPublishingOrchestrationName, eventPublishingOrchestrator);

export { eventPublishingOrchestrator };
