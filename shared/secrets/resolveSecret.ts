/**
 * Reads the credentials a `secretRef` names. The value stays inside the calling activity: callers get it back
 * only as parsed credentials, and everything that leaves (results, errors, logs) carries the version instead.
 */
import { SecretClient } from "@azure/keyvault-secrets";
import { getAzureCredential } from "../azureCredential";
import { ensureError, PgVaultError } from "../errors";
import { parseCredentials, type DatabaseCredentials } from "./credentialsFormat";
import { describeSecretRef, parseSecretRef, type SecretReference } from "./secretRef";

export interface ResolvedSecret {
  credentials: DatabaseCredentials;
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

function keyVaultFailure(err: unknown, what: string): PgVaultError {
  const error = ensureError(err);
  // RestError from any copy of core-rest-pipeline: match by shape, not by class identity.
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 404) return new PgVaultError("UserErrorSecretNotFound", `${what} does not exist.`);
  if (status === 401 || status === 403) {
    return new PgVaultError("UserErrorMissingPermissionsOnSecretStore", `The app's identity may not read ${what} (HTTP ${status}).`);
  }
  if (error.name === "CredentialUnavailableError" || error.name === "AuthenticationError" || error.name === "AggregateAuthenticationError") {
    return new PgVaultError(
      "UserErrorMissingPermissionsOnSecretStore",
      `No Microsoft Entra token could be obtained to read ${what}: ${error.name}.`,
    );
  }
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === "ENOTFOUND") {
    return new PgVaultError("UserErrorSecretNotFound", `The Key Vault host of ${what} does not resolve; check the vault name.`);
  }
  // Throttling, 5xx and network errors: worth another attempt by the orchestrator's retry policy.
  const reason = status ? `HTTP ${status}` : (error as NodeJS.ErrnoException).code ?? error.name;
  return new PgVaultError("SystemErrorUnexpected", `Key Vault did not answer for ${what} (${reason}).`, { transient: true });
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
  return { credentials: parseCredentials(value), version };
}
