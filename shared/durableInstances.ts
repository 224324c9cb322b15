/** Orchestration instances as the durable client sees them. */
import type { DurableClient } from "durable-functions";
import { ensureError } from "./errors";

/**
 * Whether an orchestration instance with this id exists, in any state. durable-functions answers an unknown id
 * by throwing an error that names the extension's HTTP 404 (it has no typed error for it).
 */
export async function orchestrationExists(client: DurableClient, instanceId: string): Promise<boolean> {
  try {
    await client.getStatus(instanceId);
    return true;
  } catch (err) {
    if (/\bHTTP 404\b/.test(ensureError(err).message)) return false;
    throw err;
  }
}

