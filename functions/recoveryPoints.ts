import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getInstance, getRecoveryPoint, listRecoveryPoints } from "../shared/catalog";
import { NotFoundError, ValidationError } from "../shared/errors";
import { handled, json, routeName } from "../shared/http";

const recoveryPointIdPattern = /^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

async function requireInstance(name: string): Promise<void> {
  if (!(await getInstance(name))) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
}

/** Newest first; recovery points of a stopped instance stay listed as long as they are kept. */
export async function listInstanceRecoveryPoints(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  await requireInstance(name);
  return json(200, { value: await listRecoveryPoints(name) });
}

export async function getInstanceRecoveryPoint(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const id = request.params.rpId ?? "";
  if (!recoveryPointIdPattern.test(id)) throw new ValidationError([{ path: "rpId", message: "is not a recovery point id" }]);
  await requireInstance(name);
  const rp = await getRecoveryPoint(name, id);
  if (!rp) throw new NotFoundError(`Recovery point '${id}' of '${name}' does not exist.`);
  return json(200, rp);
}

app.http("listRecoveryPoints", {
  route: "backupInstances/{name}/recoveryPoints",
  methods: ["GET"],
  authLevel: "function",
  handler: handled(listInstanceRecoveryPoints),
});
app.http("getRecoveryPoint", {
  route: "backupInstances/{name}/recoveryPoints/{rpId}",
  methods: ["GET"],
  authLevel: "function",
  handler: handled(getInstanceRecoveryPoint),
});
