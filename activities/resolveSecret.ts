import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { boundServer, type RequestedServer } from "../shared/postgres/serverBinding";
import { resolveSecret } from "../shared/secrets/resolveSecret";

/** The reference and the server the job will use it for (none given: the secret's own). */
export interface ResolveSecretInput extends RequestedServer {
  secretRef: string;
}

/**
 * Reads the secret once to prove it exists, parses and is for the server the job names, and returns only its
 * version: later steps of the job pin that version, and the value itself never enters the orchestration history.
 * A secret for another server fails the job here, before any step has connected anywhere.
 */
export function resolveSecretActivity(input: ResolveSecretInput): Promise<ActivityOutcome<{ version: string }>> {
  return asOutcome(async () => {
    const secret = await resolveSecret(input.secretRef);
    boundServer(input, secret);
    return { version: secret.version };
  });
}

export const resolveSecretStep = df.app.activity("resolveSecret", { handler: resolveSecretActivity });
