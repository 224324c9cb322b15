/** Bodies of `POST /discoverDatabases` and `POST /protectDatabases` (docs/api.md, "Protect databases"). */
import type { ServerEndpoint } from "../domain";
import { checkDatabaseName, checkResourceName, checkServerAddress } from "./instance";
import { IssueCollector, join } from "./issues";

const serverFields = ["host", "port", "secretRef", "auth"];

/** A server address and sign-in as for an instance (a secret names its server), with no database. */
export function parseDiscoverRequest(body: unknown): ServerEndpoint {
  const issues = new IssueCollector();
  const server = checkServerAddress(issues, issues.object(body, "", serverFields), "");
  issues.throwIfAny();
  return server!;
}

export interface DatabaseToProtect {
  database: string;
  instanceName: string;
}

export interface ProtectRequest {
  policyName: string;
  server: ServerEndpoint;
  databases: DatabaseToProtect[];
}

/** Databases one request may protect: each is an access check (a connection) and a catalog write. */
export const maxDatabasesPerRequest = 50;

export function parseProtectRequest(body: unknown): ProtectRequest {
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["policyName", "server", "databases"]);
  const policyName = checkResourceName(issues, root.policyName, "policyName");
  const server = checkServerAddress(issues, issues.object(root.server, "server", serverFields), "server");
  const databases: DatabaseToProtect[] = [];
  const names = new Set<string>();
  issues.array(root.databases, "databases", 1, maxDatabasesPerRequest).forEach((item, i) => {
    const path = join("databases", i);
    const entry = issues.object(item, path, ["database", "instanceName"]);
    const database = checkDatabaseName(issues, entry.database, join(path, "database"));
    const instanceName = checkResourceName(issues, entry.instanceName, join(path, "instanceName"));
    // Two databases under one name would leave the instance protecting whichever came last.
    if (instanceName !== undefined && names.has(instanceName)) issues.add(join(path, "instanceName"), "is given for another database of this request too");
    if (instanceName !== undefined) names.add(instanceName);
    if (database !== undefined && instanceName !== undefined) databases.push({ database, instanceName });
  });
  issues.throwIfAny();
  return { policyName: policyName!, server: server!, databases };
}
