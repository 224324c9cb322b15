/** The sign-in a job uses for one database, settled once at its start. */
import type { Task } from "durable-functions";
import { resolveSecretStep, type ResolveSecretInput } from "../activities/resolveSecret";
import type { DatabaseSignIn } from "../shared/domain";
import { jobRetry, valueOf } from "./jobSteps";

/**
 * The secret's version, pinned for the whole job so it never mixes two passwords; none for an Entra sign-in, whose
 * token each activity fetches for itself (a token must never enter the history).
 */
export function* pinnedSecretVersion(signIn: DatabaseSignIn): Generator<Task, string | undefined, unknown> {
  if (signIn.auth) return undefined;
  return valueOf<{ version: string }>(yield resolveSecretStep({ secretRef: signIn.secretRef } satisfies ResolveSecretInput).withRetry(jobRetry)).version;
}
