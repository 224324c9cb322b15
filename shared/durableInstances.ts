/** Orchestration instances as the durable client sees them. */
import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
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

/**
 * Whether an instance still runs: false when it ended or does not exist, undefined when the client could not tell
 * (a caller then decides on what else it knows). For the operation lock (shared/jobs/operationLock.ts).
 */
export function orchestrationProbe(client: DurableClient): (instanceId: string) => Promise<boolean | undefined> {
  return async (instanceId) => {
    try {
      const status = await orchestrationStatus(client, instanceId);
      return status !== undefined && activeRuntimeStatuses.includes(status.runtimeStatus);
    } catch {
      return undefined;
    }
  };
}

/**
 * The durable client of a function registered with a `durableClient` input, or undefined when the invocation has
 * none (an activity called directly, as the replay driver in the tests does).
 */
export function durableClientOf(context: InvocationContext): DurableClient | undefined {
  try {
    return df.getClient(context);
  } catch {
    return undefined;
  }
}
