/**
 * `encryption.keyRef` values of a policy: a Key Vault key URI (`https://<vault>.vault.azure.net/keys/<name>[/<version>]`)
 * or `env:<NAME>` (an app setting holding a base64 256-bit key; for local development). The same rules as
 * `secretRef`: only Key Vault hosts (the SDK hands its Key Vault token to the host the reference names), loopback
 * for local stand-ins, https only. Messages never repeat the reference (it may be something pasted by mistake).
 */
import { PgVaultError } from "../errors";
import { envNamePattern, keyVaultHostSuffixes, loopbackHosts } from "./secretRef";

export type KeyReference =
  | { kind: "keyVault"; vaultUrl: string; name: string; version?: string; isLocalStandIn: boolean }
  | { kind: "env"; name: string };

const keyPathPattern = /^\/keys\/([0-9A-Za-z-]{1,127})(?:\/([0-9A-Za-z]{1,64}))?\/?$/;

function invalid(reason: string): PgVaultError {
  return new PgVaultError("UserErrorInvalidSecret", `keyRef ${reason}.`);
}

export function parseKeyRef(ref: string): KeyReference {
  if (ref.startsWith("env:")) {
    const name = ref.slice(4);
    if (!envNamePattern.test(name)) throw invalid("env:<NAME> must name an app setting (letters, digits and underscores, not starting with a digit)");
    return { kind: "env", name };
  }
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    throw invalid("is neither a Key Vault key URI nor env:<NAME>");
  }
  const isLocalStandIn = loopbackHosts.has(url.hostname);
  if (url.protocol !== "https:") throw invalid("must use https");
  if (!isLocalStandIn && !keyVaultHostSuffixes.some((suffix) => url.hostname.endsWith(suffix))) {
    throw invalid("must name a Key Vault host (https://<vault>.vault.azure.net or a sovereign cloud's)");
  }
  if (url.username || url.password || url.search || url.hash) throw invalid("must not carry credentials, a query or a fragment");
  const match = keyPathPattern.exec(url.pathname);
  if (!match) throw invalid("must have the path /keys/<name>[/<version>] (a Key Vault key, not a secret)");
  return { kind: "keyVault", vaultUrl: url.origin, name: match[1]!, version: match[2], isLocalStandIn };
}

/** A key for logs and errors: names it, never its material. */
export function describeKeyRef(ref: KeyReference, version?: string): string {
  if (ref.kind === "env") return `encryption key in app setting '${ref.name}'`;
  const pinned = version ?? ref.version;
  return `Key Vault key '${ref.name}'${pinned ? ` (version ${pinned})` : ""} in ${ref.vaultUrl}`;
}
