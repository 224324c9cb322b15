import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { getInstance, getPolicy } from "../shared/catalog/catalog";
import { resolveKey, type PinnedKey } from "../shared/encryption/dataKeys";
import { PgVaultError } from "../shared/errors";

export interface ResolveEncryptionKeyInput {
  instanceName: string;
}

/**
 * Reads whether the instance's policy encrypts its backups and, if so, checks its key and returns the reference
 * with the version this job pins (null: no encryption). Only references travel on: never key material.
 */
export function resolveEncryptionKeyActivity(input: ResolveEncryptionKeyInput): Promise<ActivityOutcome<PinnedKey | null>> {
  return asOutcome(async () => {
    const instance = await getInstance(input.instanceName);
    const policy = instance && (await getPolicy(instance.policyName));
    if (!policy) {
      throw new PgVaultError("SystemErrorUnexpected", `Instance '${input.instanceName}' or its policy disappeared during the backup.`);
    }
    return policy.encryption ? resolveKey(policy.encryption.keyRef) : null;
  });
}

export const resolveEncryptionKeyStep = df.app.activity("resolveEncryptionKey", { handler: resolveEncryptionKeyActivity });
