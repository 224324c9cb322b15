/**
 * `secretRef` values (SPEC section 5): a Key Vault secret URI or `env:<NAME>`. Only Key Vault hosts are accepted,
 * because the SDK hands a Key Vault access token to whatever host the reference names; loopback hosts are allowed
 * for local stand-ins (a process on this machine is already inside the trust boundary). Within those, only what
 * referenceScope.ts allows: checked here, so a request and a stored instance are held to the same rule.
 */
import { PgVaultError, quoted } from "../errors";
import { referenceInScope } from "./referenceScope";

export type SecretReference =
  | { kind: "keyVault"; vaultUrl: string; name: string; version?: string; isLocalStandIn: boolean }
  | { kind: "env"; name: string };

export const keyVaultHostSuffixes = [
  ".vault.azure.net",
  ".vault.azure.cn",
  ".vault.usgovcloudapi.net",
  ".vault.microsoftazure.de",
  ".managedhsm.azure.net",
];
export const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]"]);
const secretPathPattern = /^\/secrets\/([0-9A-Za-z-]{1,127})(?:\/([0-9A-Za-z]{1,64}))?\/?$/;
export const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

function invalid(reason: string): PgVaultError {
  return new PgVaultError("UserErrorInvalidSecret", `secretRef ${reason}.`);
}

export function parseSecretRef(ref: string): SecretReference {
  if (ref.startsWith("env:")) {
    const name = ref.slice(4);
    if (!envNamePattern.test(name)) throw invalid(`${quoted(`env:${name}`, "env:…")} does not name an app setting`);
    return referenceInScope({ kind: "env", name }, "secretRef");
  }
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    throw invalid("is neither a Key Vault secret URI nor env:<NAME>");
  }
  const isLocalStandIn = loopbackHosts.has(url.hostname);
  if (url.protocol !== "https:") throw invalid("must use https");
  if (!isLocalStandIn && !keyVaultHostSuffixes.some((suffix) => url.hostname.endsWith(suffix))) {
    throw invalid(`host '${url.hostname}' is not a Key Vault host`);
  }
  if (url.username || url.password || url.search || url.hash) throw invalid("must not carry credentials, a query or a fragment");
  const match = secretPathPattern.exec(url.pathname);
  if (!match) throw invalid(`path ${quoted(url.pathname, "(not shown)")} is not /secrets/<name>[/<version>]`);
  return referenceInScope({ kind: "keyVault", vaultUrl: url.origin, name: match[1]!, version: match[2], isLocalStandIn }, "secretRef");
}

/** A reference for logs and errors: names the secret, never a value. */
export function describeSecretRef(ref: SecretReference): string {
  return ref.kind === "env" ? `app setting '${ref.name}'` : `Key Vault secret '${ref.name}' in ${ref.vaultUrl}`;
}
