/** The sign-in a job uses for a database or server, settled once at its start. */
import type { Task } from "durable-functions";
import { resolveSecretStep, type ResolveSecretInput } from "../activities/resolveSecret";
import type { ServerEndpoint } from "../shared/domain";
import { jobRetry, valueOf } from "./jobSteps";

/**
 * The secret's version, pinned for the whole job so it never mixes two passwords, once the secret proved to be for
 * the endpoint's server; none for an Entra sign-in, whose token each activity fetches for itself (a token must
 * never enter the history) after checking the host.
 */
export function* pinnedSecretVersion(endpoint: ServerEndpoint): Generator<Task, string | undefined, unknown> {
  if (endpoint.auth) return undefined;
  const input: ResolveSecretInput = { secretRef: endpoint.secretRef, ...(endpoint.host ? { host: endpoint.host } : {}), ...(endpoint.port ? { port: endpoint.port } : {}) };
  return valueOf<{ version: string }>(yield resolveSecretStep(input).withRetry(jobRetry)).version;
}
