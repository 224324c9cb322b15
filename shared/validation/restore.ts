import type { RestoreTarget } from "../domain";
import { checkDatabaseAddress } from "./instance";
import { IssueCollector } from "./issues";
import { containerAddressOf, reservedContainerReason } from "../restore/exportTarget";

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
    for (const key of ["host", "port", "database", "secretRef", "auth", "preserveOwnership"]) {
      if (key in raw) issues.add(`target.${key}`, "is not a property of a blob target");
    }
    const containerUrl = issues.string(raw.containerUrl, "target.containerUrl", { maxLength: 2048 })?.replace(/\/+$/, "");
    const address = containerUrl === undefined ? undefined : containerAddressOf(containerUrl);
    if (containerUrl !== undefined && !address) {
      issues.add(
        "target.containerUrl",
        "must be the https URL of an Azure blob container (or a local Azurite one): the container's own name (lowercase letters, digits, hyphens; no %-escapes), no further path, no query (no SAS tokens)",
      );
    }
    const reserved = address && reservedContainerReason(address.container);
    if (reserved) issues.add("target.containerUrl", `is not allowed: ${reserved}`);
    const prefix = issues.string(raw.prefix, "target.prefix", { optional: true, maxLength: 512 }) ?? "";
    if (!prefixPattern.test(prefix)) issues.add("target.prefix", "must be a relative blob name prefix without '..' segments");
    const overwrite = issues.boolean(raw.overwrite, "target.overwrite", false);
    if (containerUrl !== undefined) target = { type, containerUrl, prefix, overwrite };
  }
  issues.throwIfAny();
  return { recoveryPointId: recoveryPointId!, target: target! };
}
