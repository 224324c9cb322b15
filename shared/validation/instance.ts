import type { DatabaseDatasource, RetentionTag } from "../domain";
import { resourceNamePattern, retentionTags } from "../domain";
import { IssueCollector } from "./issues";

/** Host names (RFC 1123 labels), IPv4 and bracket-less IPv6 literals. */
const hostPattern = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9A-Fa-f:.]+$/;

export interface InstanceRequest {
  policyName: string;
  datasource: DatabaseDatasource;
}

export function checkResourceName(issues: IssueCollector, value: unknown, path: string): string | undefined {
  if (typeof value === "string" && resourceNamePattern.test(value)) return value;
  issues.add(path, "must be 3-63 lowercase letters, digits or hyphens, starting with a letter or digit");
  return undefined;
}

/** Validates the shape of a PUT /backupInstances body; access is checked separately against the server. */
export function parseInstanceRequest(body: unknown): InstanceRequest {
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["policyName", "datasource"]);
  const policyName = checkResourceName(issues, root.policyName, "policyName");
  const source = issues.object(root.datasource, "datasource", ["type", "host", "port", "database", "secretRef"]);
  // flexibleServer instances need the ARM access check of their own issue; until then they are refused here.
  issues.oneOf(source.type, "datasource.type", ["database"] as const);
  const host = issues.string(source.host, "datasource.host", { maxLength: 253 });
  if (host !== undefined && !hostPattern.test(host)) issues.add("datasource.host", "must be a host name or IP address");
  const port = issues.integer(source.port, "datasource.port", 1, 65535, 5432);
  // PostgreSQL truncates identifiers to 63 bytes; a longer name would silently address another database.
  const database = issues.string(source.database, "datasource.database", { maxLength: 63 });
  if (database !== undefined && Buffer.byteLength(database) > 63) {
    issues.add("datasource.database", "must be at most 63 bytes");
  }
  const secretRef = issues.string(source.secretRef, "datasource.secretRef", { maxLength: 2048 });
  issues.throwIfAny();
  return {
    policyName: policyName!,
    datasource: { type: "database", host: host!, port: port!, database: database!, secretRef: secretRef! },
  };
}

export interface BackupRequest {
  retentionTag?: RetentionTag;
}

/** Validates the optional body of POST /backupInstances/{name}/backup. */
export function parseBackupRequest(body: unknown): BackupRequest {
  if (body === undefined) return {};
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["retentionTag"]);
  const retentionTag = issues.oneOf(root.retentionTag, "retentionTag", retentionTags, true);
  issues.throwIfAny();
  return retentionTag ? { retentionTag } : {};
}
