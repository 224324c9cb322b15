/**
 * The size of what an orchestration run through the replay driver puts into durable storage: each history event
 * (activity results included), each action (activity inputs), each custom status and the output, as JSON in UTF-8
 * bytes. Orchestrations pass ids and references, so none of these may grow with a database or with the vault.
 */
import type { OrchestrationRun } from "./replayDriver";

export interface Payload {
  /** Which event, action or status it is, for the assertion's message. */
  what: string;
  bytes: number;
}

export function durablePayloads(run: OrchestrationRun): Payload[] {
  const measured = (what: string, value: unknown): Payload => ({ what, bytes: Buffer.byteLength(JSON.stringify(value ?? null)) });
  return [
    ...run.history.map((event, i) => measured(`history event ${i} (type ${event.EventType})`, event)),
    ...run.state.actions.flat().map((action, i) => measured(`action ${i} (${action.functionName ?? `type ${action.actionType}`})`, action)),
    ...run.customStatuses.map((status, i) => measured(`custom status ${i}`, status)),
    measured("output", run.state.output),
  ];
}

export function largestPayload(run: OrchestrationRun): Payload {
  return durablePayloads(run).reduce((largest, payload) => (payload.bytes > largest.bytes ? payload : largest));
}
