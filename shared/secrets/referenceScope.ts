/**
 * What a reference may name at all, whoever sends it (issue 20): `env:` only app settings made for it, so no
 * request can have the app read another of its settings (a storage connection string, a key) as a credential;
 * Key Vault only the vaults KEY_VAULT_HOSTS lists, when it is set, so no request can have the app read secrets
 * or use keys of a vault its operators did not choose.
 */
import { getConfig } from "../config";
import { PgVaultError } from "../errors";
import { canonicalHost } from "../network/hostNames";

/** The prefix of every app setting an `env:` reference may name. */
export const envSecretPrefix = "PGVAULT_SECRET_";

export type ScopedReference = { kind: "env"; name: string } | { kind: "keyVault"; vaultUrl: string };

/** `ref` itself; `UserErrorInvalidSecret` naming the rule when it (of the `field` named) is outside what may be named. */
export function referenceInScope<T extends ScopedReference>(ref: T, field: "secretRef" | "keyRef"): T {
  if (ref.kind === "env") {
    if (ref.name.startsWith(envSecretPrefix) && ref.name.length > envSecretPrefix.length) return ref;
    throw new PgVaultError(
      "UserErrorInvalidSecret",
      `${field} 'env:${ref.name}' names an app setting without the prefix ${envSecretPrefix}; env: references may name only settings made for them (${envSecretPrefix}<NAME>).`,
    );
  }
  const allowed = getConfig().keyVaultHosts;
  const host = new URL(ref.vaultUrl).hostname;
  if (allowed === undefined || allowed.some((listed) => canonicalHost(listed) === canonicalHost(host))) return ref;
  throw new PgVaultError("UserErrorInvalidSecret", `${field} names the vault ${host}, which the app setting KEY_VAULT_HOSTS does not list.`);
}
