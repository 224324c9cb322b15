import type { DatabaseSignIn, FlexibleServerDatasource, RequestedDatabaseEndpoint, RetentionTag, ServerEndpoint } from "../domain";
import { resourceIdProblems } from "../flexServer/resourceId";
import { resourceNamePattern, retentionTags } from "../domain";
import { isHost } from "../network/hostNames";
import { parseSecretRef } from "../secrets/secretRef";
import { IssueCollector, isObject, join, type JsonObject } from "./issues";

/** A `database` datasource as requested: PUT stores it with the host and port its access check settled. */
export type RequestedDatasource = ({ type: "database" } & RequestedDatabaseEndpoint) | FlexibleServerDatasource;

export interface InstanceRequest {
  policyName: string;
  datasource: RequestedDatasource;
  /** `flexibleServer` instances only: the server their restore drills run on (PUT checks it, then stores it). */
  verification?: ServerEndpoint;
}

export function checkResourceName(issues: IssueCollector, value: unknown, path: string): string | undefined {
  if (typeof value === "string" && resourceNamePattern.test(value)) return value;
  issues.add(path, "must be 3-63 lowercase letters, digits or hyphens, starting with a letter or digit");
  return undefined;
}

/**
 * How pgvault signs in: `secretRef` (a reference that parses and may be named: a 400 otherwise, before anything is
 * read with it), or `auth: { type: "entra", user }` (the app's Microsoft Entra identity, mapped to that PostgreSQL
 * role); exactly one.
 */
function checkSignIn(issues: IssueCollector, source: JsonObject, path: string): DatabaseSignIn | undefined {
  if (source.auth === undefined) {
    const secretRef = issues.string(source.secretRef, join(path, "secretRef"), { maxLength: 2048 });
    if (secretRef === undefined || issues.parsed(join(path, "secretRef"), () => parseSecretRef(secretRef)) === undefined) return undefined;
    return { secretRef };
  }
  if (source.secretRef !== undefined) {
    issues.add(join(path, "auth"), "cannot be given together with secretRef: sign in with a secret or with the app's Microsoft Entra identity");
  }
  const auth = issues.object(source.auth, join(path, "auth"), ["type", "user"]);
  const type = issues.oneOf(auth.type, join(path, "auth.type"), ["entra"] as const);
  const user = issues.string(auth.user, join(path, "auth.user"));
  // A PostgreSQL role name: at most 63 bytes (longer ones are truncated into another name), no control characters.
  if (user !== undefined && (Buffer.byteLength(user) > 63 || /[\u0000-\u001f\u007f]/.test(user))) {
    issues.add(join(path, "auth.user"), "must be a PostgreSQL role name: at most 63 bytes, no control characters");
    return undefined;
  }
  // With no secret to name the server, the request must: the token may go only to the host it names, if allowed.
  if (source.host === undefined) issues.add(join(path, "host"), "is required with auth: a Microsoft Entra sign-in has no secret that names the server");
  return type && user !== undefined && source.secretRef === undefined ? { auth: { type, user } } : undefined;
}

/**
 * The fields that address a server and its credentials: host and port are optional, since a secret names its
 * server, and a request that gives them must give the secret's (checked when the secret is read). Undefined when
 * any field is wrong (each problem is recorded under `<path>.<field>`).
 */
export function checkServerAddress(issues: IssueCollector, source: JsonObject, path: string): ServerEndpoint | undefined {
  const before = issues.issues.length;
  const host = issues.string(source.host, join(path, "host"), { optional: true, maxLength: 253 });
  if (host !== undefined && !isHost(host)) issues.add(join(path, "host"), "must be a host name or IP address");
  const port = source.port === undefined ? undefined : issues.integer(source.port, join(path, "port"), 1, 65535);
  const signIn = checkSignIn(issues, source, path);
  if (issues.issues.length > before || !signIn) return undefined;
  return { ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}), ...signIn };
}

/** PostgreSQL truncates identifiers to 63 bytes; a longer name would silently address another database. */
export function checkDatabaseName(issues: IssueCollector, value: unknown, path: string): string | undefined {
  const database = issues.string(value, path);
  // Bytes, not UTF-16 units: the only limit is the byte count, and it is the one the message names.
  if (database !== undefined && Buffer.byteLength(database) > 63) {
    issues.add(path, "must be at most 63 bytes");
    return undefined;
  }
  return database;
}

/** A server address (checkServerAddress) plus the database on it: the fields shared by instances and restore targets. */
export function checkDatabaseAddress(issues: IssueCollector, source: JsonObject, path: string): RequestedDatabaseEndpoint | undefined {
  const database = checkDatabaseName(issues, source.database, `${path}.database`);
  const server = checkServerAddress(issues, source, path);
  return server && database !== undefined ? { ...server, database } : undefined;
}

function checkFlexServerSource(issues: IssueCollector, source: JsonObject): FlexibleServerDatasource | undefined {
  const resourceId = issues.string(source.resourceId, "datasource.resourceId", { maxLength: 512 });
  if (resourceId === undefined) return undefined;
  const problems = resourceIdProblems(resourceId);
  for (const problem of problems) issues.add("datasource.resourceId", problem);
  return problems.length === 0 ? { type: "flexibleServer", resourceId } : undefined;
}

/**
 * A Flexible Server instance's drill server: a server address and sign-in, no database (each database of a point
 * gets a scratch database of its own there). A `database` instance drills on its own server and takes none.
 */
function checkDrillServer(issues: IssueCollector, value: unknown, type: unknown): ServerEndpoint | undefined {
  if (value === undefined) return undefined;
  if (type !== "flexibleServer") {
    issues.add("verification", "applies to 'flexibleServer' instances only: a 'database' instance's restore drills run on its own server with its own credentials");
    return undefined;
  }
  return checkServerAddress(issues, issues.object(value, "verification", ["host", "port", "secretRef", "auth"]), "verification");
}

export function parseInstanceRequest(body: unknown): InstanceRequest {
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["policyName", "datasource", "verification"]);
  const policyName = checkResourceName(issues, root.policyName, "policyName");
  // The type decides which fields belong; each type's body is checked against its own field list.
  const type = isObject(root.datasource) ? root.datasource.type : undefined;
  let datasource: RequestedDatasource | undefined;
  if (type === "flexibleServer") {
    datasource = checkFlexServerSource(issues, issues.object(root.datasource, "datasource", ["type", "resourceId"]));
  } else {
    const source = issues.object(root.datasource, "datasource", ["type", "host", "port", "database", "secretRef", "auth"]);
    issues.oneOf(source.type, "datasource.type", ["database", "flexibleServer"] as const);
    const address = checkDatabaseAddress(issues, source, "datasource");
    if (address) datasource = { type: "database", ...address };
  }
  const verification = checkDrillServer(issues, root.verification, type);
  issues.throwIfAny();
  return { policyName: policyName!, datasource: datasource!, ...(verification ? { verification } : {}) };
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
