/**
 * The eventPublishing orchestrations (orchestrators/eventPublishing.ts) that code under test started through the
 * durable client stand-in, run to their end by the replay driver with the real publishEvents activity, as the
 * extension would run them: so their events reach the Event Grid topic stand-in the file set up.
 */
import { publishEventsActivity } from "../../activities/publishEvents";
import { eventPublishingOrchestrator } from "../../orchestrators/eventPublishing";
import { eventPublishingOrchestrationName, type EventPublishingInput } from "../../shared/events/eventPublishing";
import type { DurableClientStandIn } from "./durableClientStandIn";
import { runOrchestration, type OrchestrationRun } from "./replayDriver";

/**
 * Runs every eventPublishing orchestration started since the last call (per stand-in), in the order started. With
 * `subject`, only those with an event about it (an evaluation of the shared vault's whole fleet also starts some for
 * other files' instances); the others are passed over for good.
 */
export function eventPublishingRunner(standIn: () => DurableClientStandIn, subject?: () => string): () => Promise<OrchestrationRun[]> {
  let ran = 0;
  return async () => {
    const started = standIn().started;
    const runs: OrchestrationRun[] = [];
    for (; ran < started.length; ran++) {
      const { name, instanceId, input } = started[ran]!;
      if (name !== eventPublishingOrchestrationName) continue;
      if (subject && !(input as EventPublishingInput).events.some((event) => event.subject === subject())) continue;
      runs.push(await runOrchestration(eventPublishingOrchestrator, { name, instanceId, input, activities: { publishEvents: publishEventsActivity } }));
    }
    return runs;
  };
}
