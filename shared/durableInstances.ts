/** Orchestration instances as the durable client sees them. */
import type { DurableClient, DurableOrchestrationStatus } from "durable-functions";
import { ensureError } from "./errors";

/**
 * The instance's status (with its input when asked), or undefined when there is no such instance.
 * durable-functions answers an unknown id by throwing an error that names the extension's HTTP 404 (it has no
 * typed error for it).
 */
export async function orchestrationStatus(
  client: DurableClient,
  instanceId: string,
  options: { showInput?: boolean } = {},
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId, options);
  } catch (err) {
    if (/\bHTTP 404\b/.test(ensureError(err).message)) return undefined;
    throw err;
  }
}

/** Whether an orchestration instance with this id exists, in any state. */
export async function orchestrationExists(client: DurableClient, instanceId: string): Promise<boolean> {
  return (await orchestrationStatus(client, instanceId)) !== undefined;
}

/** States in which an instance still runs (or will): these are the ones a cancel terminates. */
export const activeRuntimeStatuses: readonly string[] = ["Pending", "Running", "ContinuedAsNew", "Suspended"];
