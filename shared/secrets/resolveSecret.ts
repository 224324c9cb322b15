/**
 * Reads the credentials a `secretRef` names, and the server they are for. The value stays inside the calling
 * activity: callers get it back only as parsed credentials, and everything that leaves (results, errors, logs)
 * carries the version and the server instead.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import { getAzureCredential } from "../azureCredential";
import { PgVaultError } from "../errors";
import { parseSecretValue, type DatabaseCredentials, type SecretServer } from "./credentialsFormat";
import { keyVaultFailure } from "./keyVaultErrors";
import { describeSecretRef, parseSecretRef, type SecretReference } from "./secretRef";

export interface ResolvedSecret {
  credentials: DatabaseCredentials;
  /** The server the value names; absent when it names none. */
  server?: SecretServer;
  /** The secret in words for messages ("Key Vault secret 'x' in https://..."), never its value. */
  description: string;
  /** Key Vault version id, or `env` for app settings. Pin it so one job uses one secret version throughout. */
  version: string;
}

const secretClients = new Map<string, SecretClient>();

function secretClientFor(ref: Extract<SecretReference, { kind: "keyVault" }>): SecretClient {
  let client = secretClients.get(ref.vaultUrl);
  if (!client) {
    client = new SecretClient(ref.vaultUrl, getAzureCredential(), {
      // A loopback stand-in cannot match a Key Vault resource name; real vault hosts keep the check on.
      disableChallengeResourceVerification: ref.isLocalStandIn,
    });
    secretClients.set(ref.vaultUrl, client);
  }
  return client;
}

async function readValue(ref: SecretReference, pinnedVersion?: string): Promise<{ value: string; version: string }> {
  const what = describeSecretRef(ref);
  if (ref.kind === "env") {
    const value = process.env[ref.name];
    if (!value) throw new PgVaultError("UserErrorSecretNotFound", `${what} is not set.`);
    return { value, version: "env" };
  }
  try {
    const secret = await secretClientFor(ref).getSecret(ref.name, { version: pinnedVersion ?? ref.version });
    if (!secret.value) throw new PgVaultError("UserErrorSecretNotFound", `${what} has no value.`);
    return { value: secret.value, version: secret.properties.version ?? "" };
  } catch (err) {
    if (err instanceof PgVaultError) throw err;
    throw keyVaultFailure(err, what);
  }
}

/**
 * Resolves `secretRef` to credentials. Without `pinnedVersion` the latest version is read, so rotation just
 * works; with it, exactly that version (every step of one job sees the same password).
 */
export async function resolveSecret(secretRef: string, pinnedVersion?: string): Promise<ResolvedSecret> {
  const ref = parseSecretRef(secretRef);
  const { value, version } = await readValue(ref, ref.kind === "env" ? undefined : pinnedVersion);
  return { ...parseSecretValue(value), description: describeSecretRef(ref), version };
}
