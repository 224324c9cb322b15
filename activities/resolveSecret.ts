import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { resolveSecret } from "../shared/secrets/resolveSecret";

export interface ResolveSecretInput {
  secretRef: string;
}

/**
 * Reads the secret once to prove it exists and parses, and returns only its version: later steps of the job
 * pin that version, and the value itself never enters the orchestration history.
 */
export function resolveSecretActivity(input: ResolveSecretInput): Promise<ActivityOutcome<{ version: string }>> {
  return asOutcome(async () => ({ version: (await resolveSecret(input.secretRef)).version }));
}

export const resolveSecretStep = df.app.activity("resolveSecret", { handler: resolveSecretActivity });
