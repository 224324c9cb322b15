/**
 * Where a restore as files may write. An export is signed with pgvault's own credentials (the vault's key or the
 * app's identity), so it must never reach storage pgvault itself depends on: the vault account and the Functions
 * runtime's account (task hub) are refused whole, and the containers pgvault or the Functions host create are
 * refused by name in any account. Names are compared as the storage service reads them: container names are
 * lowercase letters, digits and hyphens, so a URL segment that needs percent-encoding or holds capitals is refused
 * before anything else, and accounts are compared by identity, not by how the URL spells the host.
 */
import { backupContainer } from "../domain";
import { PgVaultError } from "../errors";

/** A blob container URL as pgvault reads it. */
export interface ContainerAddress {
  /** The storage account's identity: `<name>.blob.<cloud suffix>`, or `loopback:<port>/<account>` for Azurite. */
  account: string;
  container: string;
}

/** Azure Blob endpoints of the public and sovereign clouds (Learn: "Azure Storage account overview", endpoints). */
const blobHostSuffixes = [".blob.core.windows.net", ".blob.core.chinacloudapi.cn", ".blob.core.usgovcloudapi.net"];
const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** Learn: "Naming and referencing containers, blobs, and metadata": 3-63 characters, no double hyphen. */
const containerNamePattern = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/**
 * Containers pgvault or the platform create, refused in every account: the vault's `backups`, the Flexible Server
 * recovery points' `ltr-*` (shared/flexServer/ltrContainers.ts), the Durable task hub's `<hub>-leases`,
 * `<hub>-applease` and `<hub>-largemessages` (Learn: "Azure Storage provider (Durable Functions)"; the hub is
 * `pgvault`, host.json), and the Functions host's `azure-webjobs-hosts` / `azure-webjobs-secrets` (Learn: "Storage
 * considerations for Azure Functions").
 */
export const taskHubName = "pgvault";
const reservedNames = new Set([backupContainer, `${taskHubName}-leases`, `${taskHubName}-applease`, `${taskHubName}-largemessages`]);
const reservedPrefixes = ["ltr-", "azure-webjobs-"];

/** The account and container a URL names, or undefined when it is not an exact blob container URL. */
export function containerAddressOf(text: string): ContainerAddress | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.search || url.hash || url.username || url.password) return undefined;
  const segments = url.pathname.split("/").filter(Boolean);
  const account = accountOf(url, segments);
  const container = segments.at(-1) ?? "";
  if (!account || segments.length !== (isLoopback(url) ? 2 : 1) || !containerNamePattern.test(container)) return undefined;
  return { account, container };
}

/** The account identity of a blob service (or container) URL; undefined when it is neither Azure nor Azurite. */
export function accountOfServiceUrl(text: string): string | undefined {
  const url = new URL(text);
  return accountOf(url, url.pathname.split("/").filter(Boolean));
}

function isLoopback(url: URL): boolean {
  return loopbackHosts.has(url.hostname.toLowerCase());
}

function accountOf(url: URL, segments: string[]): string | undefined {
  if (isLoopback(url)) {
    // Azurite is path-style: the account is the first segment; every loopback name is the same machine.
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    return segments[0] ? `loopback:${port}/${segments[0].toLowerCase()}` : undefined;
  }
  if (url.protocol !== "https:") return undefined;
  // DNS ignores case and a trailing dot; a private endpoint's `privatelink.` name is the same account.
  const host = url.hostname.toLowerCase().replace(/\.$/, "").replace(".privatelink.blob.", ".blob.");
  const suffix = blobHostSuffixes.find((candidate) => host.endsWith(candidate));
  const name = suffix ? host.slice(0, -suffix.length) : "";
  return suffix && /^[a-z0-9]{3,24}$/.test(name) && (url.port === "" || url.port === "443") ? `${name}${suffix}` : undefined;
}

/** Why the container name is pgvault's or the platform's own, or undefined. */
export function reservedContainerReason(container: string): string | undefined {
  if (reservedNames.has(container) || reservedPrefixes.some((prefix) => container.startsWith(prefix))) {
    return `'${container}' is a container pgvault or the Functions runtime keeps its own data in`;
  }
  return undefined;
}

/**
 * Refuses an export target in pgvault's own accounts or in a container of its own (`UserErrorContainerNotAccessible`);
 * `ownAccounts` are the vault's and the runtime's account identities.
 */
export function checkExportTarget(containerUrl: string, ownAccounts: readonly string[]): ContainerAddress {
  const address = containerAddressOf(containerUrl);
  if (!address) throw new PgVaultError("UserErrorContainerNotAccessible", "The export target is not the URL of a blob container.");
  const reserved = reservedContainerReason(address.container);
  if (reserved) throw new PgVaultError("UserErrorContainerNotAccessible", `Restoring as files there is not allowed: ${reserved}.`);
  if (ownAccounts.includes(address.account)) {
    throw new PgVaultError("UserErrorContainerNotAccessible", "Restoring as files into pgvault's own storage account (the vault or the task hub's) is not allowed; use a container of another account.");
  }
  return address;
}
