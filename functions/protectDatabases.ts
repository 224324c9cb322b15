/**
 * Protecting a server's databases (issue 27, the console's "Protect" page): discover what is on a server, then
 * protect several of its databases under one policy in one request. Both need `Backup.Admin`: discovery signs in
 * with credentials that configure protection, and names every database of the server.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import { getInstance, getPolicy } from "../shared/catalog/catalog";
import type { BackupInstance, ServerEndpoint } from "../shared/domain";
import { ConflictError, ValidationError } from "../shared/errors";
import { errorResponse, handled, json, readJson, secured } from "../shared/http";
import { instanceView, type InstanceView } from "../shared/instanceView";
import { mapLimited } from "../shared/mapLimited";
import { sameHost } from "../shared/network/hostNames";
import type { ErrorAnswer, ProtectAnswer, ProtectOutcome } from "../shared/protect/answers";
import { configureInstance } from "../shared/protect/configureInstance";
import { discoverDatabases as discover } from "../shared/protect/discovery";
import { parseDiscoverRequest, parseProtectRequest, type DatabaseToProtect } from "../shared/validation/protect";

/** Protections configured at a time: each is an access check (a connection) and a catalog write. */
const protectionsAtOnce = 4;

export async function discoverDatabases(request: HttpRequest): Promise<HttpResponseInit> {
  return json(200, await discover(parseDiscoverRequest(await readJson(request))));
}

/**
 * An existing instance of that name that protects something else is not re-pointed by a bulk request (a
 * name derived from a database name may already be another server's): the PUT of that one instance can.
 */
function protectsSomethingElse(existing: BackupInstance, server: ServerEndpoint, database: string): boolean {
  const source = existing.datasource;
  if (source.type !== "database" || source.database !== database) return true;
  return (server.host !== undefined && !sameHost(server.host, source.host)) || (server.port !== undefined && server.port !== source.port);
}

async function protectOne(item: DatabaseToProtect, policyName: string, server: ServerEndpoint, context: InvocationContext): Promise<ProtectOutcome<InstanceView>> {
  try {
    const existing = await getInstance(item.instanceName);
    if (existing && protectsSomethingElse(existing, server, item.database)) {
      throw new ConflictError(
        "Conflict",
        `Backup instance '${item.instanceName}' already exists and protects something else; it was left as it is.`,
        "Choose another instance name for this database (or change that instance with PUT /api/backupInstances/{name}).",
      );
    }
    const { created, instance } = await configureInstance(item.instanceName, { policyName, datasource: { type: "database", ...server, database: item.database } });
    return { ...item, result: created ? "created" : "updated", status: created ? 201 : 200, instance: await instanceView(instance, new Date()) };
  } catch (err) {
    // The same answer the PUT gives, so a failure reads the same in both places (and nothing else is said).
    const answer = errorResponse(err, context);
    return { ...item, result: "failed", status: answer.status ?? 500, error: (answer.jsonBody as { error: ErrorAnswer }).error };
  }
}

/** 200 with one outcome per database, in request order: a database that fails does not stop the others. */
export async function protectDatabases(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = parseProtectRequest(await readJson(request));
  const policy = await getPolicy(body.policyName);
  // Nothing could be protected under it: refused as a whole, before any connection.
  if (!policy) throw new ValidationError([{ path: "policyName", message: `backup policy '${body.policyName}' does not exist` }]);
  if (policy.datasourceType !== "database") throw new ValidationError([{ path: "policyName", message: `policy '${policy.name}' protects '${policy.datasourceType}' datasources` }]);
  const value = await mapLimited(body.databases, protectionsAtOnce, (item) => protectOne(item, body.policyName, body.server, context));
  const failed = value.filter((outcome) => outcome.result === "failed").length;
  const answer: ProtectAnswer<InstanceView> = { value, protected: value.length - failed, failed };
  return json(200, answer);
}

app.http("discoverDatabases", { route: "discoverDatabases", methods: ["POST"], authLevel: "function", handler: secured("POST discoverDatabases", handled(discoverDatabases)) });
app.http("protectDatabases", { route: "protectDatabases", methods: ["POST"], authLevel: "function", handler: secured("POST protectDatabases", handled(protectDatabases)) });
