import type { RestoreTarget } from "../domain";
import { checkDatabaseAddress } from "./instance";
import { IssueCollector } from "./issues";

export interface RestoreRequest {
  recoveryPointId: string;
  target: RestoreTarget;
}

const recoveryPointIdPattern = /^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$/;
/** Blob name prefixes: no leading slash, no `..` segments, printable characters. */
const prefixPattern = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[^\u0000-\u001f\\]{0,512}$/;

/** Validates a POST /backupInstances/{name}/restore body (SPEC section 2), reporting every issue at once. */
export function parseRestoreRequest(body: unknown): RestoreRequest {
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["recoveryPointId", "target"]);
  const recoveryPointId = issues.string(root.recoveryPointId, "recoveryPointId");
  if (recoveryPointId !== undefined && !recoveryPointIdPattern.test(recoveryPointId)) {
    issues.add("recoveryPointId", "must look like rp-YYYYMMDDTHHMMSSZ-<8 hex>");
  }
  const raw = issues.object(root.target, "target", ["type", "host", "port", "database", "secretRef", "auth", "overwrite", "preserveOwnership", "containerUrl", "prefix"]);
  const type = issues.oneOf(raw.type, "target.type", ["database", "blob"] as const);
  let target: RestoreTarget | undefined;
  if (type === "database") {
    for (const key of ["containerUrl", "prefix"]) if (key in raw) issues.add(`target.${key}`, "is not a property of a database target");
    const address = checkDatabaseAddress(issues, raw, "target");
    const overwrite = issues.boolean(raw.overwrite, "target.overwrite", false);
    const preserveOwnership = issues.boolean(raw.preserveOwnership, "target.preserveOwnership", false);
    if (address) target = { type, ...address, overwrite, preserveOwnership };
  } else if (type === "blob") {
    for (const key of ["host", "port", "database", "secretRef", "auth", "overwrite", "preserveOwnership"]) {
      if (key in raw) issues.add(`target.${key}`, "is not a property of a blob target");
    }
    const containerUrl = issues.string(raw.containerUrl, "target.containerUrl", { maxLength: 2048 });
    if (containerUrl !== undefined && !isContainerUrl(containerUrl)) {
      issues.add("target.containerUrl", "must be the https URL of an Azure blob container (or a local Azurite one), without a query (no SAS tokens)");
    }
    const prefix = issues.string(raw.prefix, "target.prefix", { optional: true, maxLength: 512 }) ?? "";
    if (!prefixPattern.test(prefix)) issues.add("target.prefix", "must be a relative blob name prefix without '..' segments");
    if (containerUrl !== undefined) target = { type, containerUrl: containerUrl.replace(/\/+$/, ""), prefix };
  }
  issues.throwIfAny();
  return { recoveryPointId: recoveryPointId!, target: target! };
}

/** Azure Blob endpoints of the public and sovereign clouds. */
const blobHostSuffixes = [".blob.core.windows.net", ".blob.core.chinacloudapi.cn", ".blob.core.usgovcloudapi.net"];
const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Only Azure Blob endpoints over https (or a local Azurite on loopback): the app hands its storage token, and a
 * read SAS of the backup, to whatever host the URL names.
 */
function isContainerUrl(text: string): boolean {
  try {
    const url = new URL(text);
    const isAzure = url.protocol === "https:" && blobHostSuffixes.some((suffix) => url.hostname.endsWith(suffix));
    const isLocal = (url.protocol === "https:" || url.protocol === "http:") && loopbackHosts.has(url.hostname);
    return (isAzure || isLocal) && !url.search && !url.username && !url.password && url.pathname.split("/").filter(Boolean).length >= 1;
  } catch {
    return false;
  }
}
