/**
 * Which events an instance's policy wants. Failures and warnings are always published; `pgvault.job.succeeded`
 * only for instances whose policy opts in (`notifications.jobSucceeded`), as the policy says when the job ends.
 */
import { getInstance, getPolicy } from "../catalog/catalog";
import { allInstances } from "../domain";
import type { PgvaultEvent } from "./pgvaultEvents";

const optional = (event: PgvaultEvent) => event.type === "pgvault.job.succeeded";

async function optsIn(instanceName: string): Promise<boolean> {
  if (instanceName === allInstances) return false;
  const instance = await getInstance(instanceName);
  const policy = instance && (await getPolicy(instance.policyName));
  return policy?.notifications?.jobSucceeded === true;
}

/** The events to publish; reads the catalog only when there is an optional one. */
export async function wantedEvents(events: readonly PgvaultEvent[]): Promise<PgvaultEvent[]> {
  const names = [...new Set(events.filter(optional).map((event) => event.data.instanceName))];
  const optedIn = new Set<string>();
  for (const name of names) if (await optsIn(name)) optedIn.add(name);
  return events.filter((event) => !optional(event) || optedIn.has(event.data.instanceName));
}
