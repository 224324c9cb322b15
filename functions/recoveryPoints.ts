import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { getInstance } from "../shared/catalog/catalog";
import { getRecoveryPoint, listRecoveryPoints } from "../shared/catalog/recoveryPointReads";
import { getConfig } from "../shared/config";
import { pointContents } from "../shared/contents/pointContents";
import { searchRecoveryPoints } from "../shared/contents/pointSearch";
import { recoveryPointIdPattern } from "../shared/recoveryPoints/recoveryPointId";
import { softDeleteRecoveryPoint, undeleteRecoveryPoint } from "../shared/retention/softDelete";
import type { RecoveryPoint } from "../shared/domain";
import { NotFoundError, ValidationError } from "../shared/errors";
import { recoveryPointDeletedEvent } from "../shared/events/eventFactories";
import { startEventPublishing } from "../shared/events/eventPublishing";
import { handled, json, routeName, secured } from "../shared/http";
import { parsePointSearchQuery } from "../shared/validation/pointSearch";

async function requireInstance(name: string): Promise<void> {
  if (!(await getInstance(name))) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
}

/**
 * Newest first; recovery points of a stopped instance stay listed as long as they are kept. With `table=` or
 * `schema=`: only the points that have it (or whose contents record cannot tell), each with its `match`, a page of
 * `top` at a time (shared/contents/pointSearch.ts). Without: the plain list, unchanged (SPEC section 2).
 */
export async function listInstanceRecoveryPoints(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const query = parsePointSearchQuery(request.query);
  await requireInstance(name);
  const points = await listRecoveryPoints(name);
  if (!query) return json(200, { value: points });
  const page = await searchRecoveryPoints(points, query.search, query.top, query.skipToken);
  if (page.resumeAfter === undefined) return json(200, { value: page.value });
  // Only the search's own parameters are repeated (not a function key in `?code=`, nor anything else sent).
  const next = new URLSearchParams({ [query.filter.key]: query.filter.text });
  if (request.query.has("top")) next.set("top", String(query.top));
  next.set("skipToken", page.resumeAfter);
  return json(200, { value: page.value, nextLink: `/api/backupInstances/${name}/recoveryPoints?${next.toString()}` });
}

/** The instance name and recovery point id of the route, checked, for an instance that exists. */
async function routeRecoveryPoint(request: HttpRequest): Promise<{ name: string; id: string }> {
  const name = routeName(request, "name");
  const id = request.params.rpId ?? "";
  if (!recoveryPointIdPattern.test(id)) throw new ValidationError([{ path: "rpId", message: "is not a recovery point id" }]);
  await requireInstance(name);
  return { name, id };
}

const noSuchPoint = (name: string, id: string) => new NotFoundError(`Recovery point '${id}' of '${name}' does not exist.`);

export async function getInstanceRecoveryPoint(request: HttpRequest): Promise<HttpResponseInit> {
  const { name, id } = await routeRecoveryPoint(request);
  const rp = await getRecoveryPoint(name, id);
  if (!rp) throw noSuchPoint(name, id);
  return json(200, rp);
}

/**
 * What the point holds (shared/contents/pointContents.ts): schemas, tables with their data size in the archive
 * (and rows, from the contents record), the other objects by kind. Read from the archive itself, so it answers for
 * every point a restore could restore: `Available` and `SoftDeleted` ones, of both kinds.
 */
export async function getRecoveryPointContents(request: HttpRequest): Promise<HttpResponseInit> {
  const { name, id } = await routeRecoveryPoint(request);
  const rp = await getRecoveryPoint(name, id);
  if (!rp || rp.status === "Deleted") throw noSuchPoint(name, id);
  return json(200, await pointContents(rp));
}

/**
 * Soft delete (204): the point becomes `SoftDeleted` and stays restorable and undeletable for
 * SOFT_DELETE_RETENTION_DAYS, then retention purges its data. The newest point of a protected instance may be
 * deleted too: this is a deliberate act, and a reversible one. Deleting a `SoftDeleted` or `Deleted` point again
 * changes nothing; one that retention is deleting right now is a 409.
 */
export async function deleteInstanceRecoveryPoint(request: HttpRequest, client: DurableClient, context: InvocationContext): Promise<HttpResponseInit> {
  const { name, id } = await routeRecoveryPoint(request);
  const deleted = await softDeleteRecoveryPoint(name, id, new Date(), getConfig().softDeleteRetentionDays);
  if (!deleted) throw noSuchPoint(name, id);
  if (deleted.changed) await announceDeletion(deleted.recoveryPoint, client, context);
  return { status: 204 };
}

/**
 * `pgvault.recoveryPoint.deleted`, handed to the eventPublishing orchestration before the answer (its publishing
 * retried there): the deletion stands whatever Event Grid says, and an orchestration that could not be started is
 * a warning in the log.
 */
async function announceDeletion(rp: RecoveryPoint, client: DurableClient, context: InvocationContext): Promise<void> {
  const { softDeletedAt, purgeAfter } = rp;
  if (!softDeletedAt || !purgeAfter) return;
  const event = recoveryPointDeletedEvent({ instanceName: rp.instanceName, id: rp.id, softDeletedAt, purgeAfter });
  await startEventPublishing(client, [event], (line) => context.warn(`recovery point ${rp.instanceName}/${rp.id} deleted; ${line}`));
}

/**
 * Brings a `SoftDeleted` point back (200, the point, `Available`); an `Available` one is answered as it is. A
 * `Deleted` point, or one whose purge has started, is a 409: its data is (being) gone.
 */
export async function undeleteInstanceRecoveryPoint(request: HttpRequest): Promise<HttpResponseInit> {
  const { name, id } = await routeRecoveryPoint(request);
  const rp = await undeleteRecoveryPoint(name, id, new Date(), getConfig().softDeleteRetentionDays);
  if (!rp) throw noSuchPoint(name, id);
  return json(200, rp);
}

app.http("listRecoveryPoints", { route: "backupInstances/{name}/recoveryPoints", methods: ["GET"], authLevel: "function", handler: secured("GET backupInstances/{name}/recoveryPoints", handled(listInstanceRecoveryPoints)) });
app.http("getRecoveryPoint", { route: "backupInstances/{name}/recoveryPoints/{rpId}", methods: ["GET"], authLevel: "function", handler: secured("GET backupInstances/{name}/recoveryPoints/{rpId}", handled(getInstanceRecoveryPoint)) });
app.http("getRecoveryPointContents", { route: "backupInstances/{name}/recoveryPoints/{rpId}/contents", methods: ["GET"], authLevel: "function", handler: secured("GET backupInstances/{name}/recoveryPoints/{rpId}/contents", handled(getRecoveryPointContents)) });
df.app.client.http("deleteRecoveryPoint", { route: "backupInstances/{name}/recoveryPoints/{rpId}", methods: ["DELETE"], authLevel: "function", handler: secured("DELETE backupInstances/{name}/recoveryPoints/{rpId}", handled(deleteInstanceRecoveryPoint)) });
app.http("undeleteRecoveryPoint", { route: "backupInstances/{name}/recoveryPoints/{rpId}/undelete", methods: ["POST"], authLevel: "function", handler: secured("POST backupInstances/{name}/recoveryPoints/{rpId}/undelete", handled(undeleteInstanceRecoveryPoint)) });
