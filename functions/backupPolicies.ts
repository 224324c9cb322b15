import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { deletePolicy, getPolicy, instancesUsingPolicy, listPolicies, putPolicy } from "../shared/catalog/catalog";
import { ConflictError, NotFoundError } from "../shared/errors";
import { handled, json, readJson, routeName, secured } from "../shared/http";
import { previewPolicy } from "../shared/policies/preview";
import { parsePolicy, parsePreviewFrom } from "../shared/validation/policy";

export async function putBackupPolicy(request: HttpRequest): Promise<HttpResponseInit> {
  const policy = parsePolicy(routeName(request, "name"), await readJson(request));
  const { created } = await putPolicy(policy);
  return json(created ? 201 : 200, policy);
}

/** A policy body as PUT takes it, validated the same way, answered with what it would do: nothing is stored. */
export async function previewBackupPolicy(request: HttpRequest): Promise<HttpResponseInit> {
  const from = parsePreviewFrom(request.query.get("from"));
  const policy = parsePolicy("preview", await readJson(request));
  return json(200, previewPolicy(policy, from));
}

export async function getBackupPolicy(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const policy = await getPolicy(name);
  if (!policy) throw new NotFoundError(`Backup policy '${name}' does not exist.`);
  return json(200, policy);
}

export async function listBackupPolicies(): Promise<HttpResponseInit> {
  return json(200, { value: await listPolicies() });
}

export async function deleteBackupPolicy(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const users = await instancesUsingPolicy(name);
  if (users.length > 0) {
    throw new ConflictError("PolicyInUse", `Backup policy '${name}' is used by ${users.map((i) => `'${i.name}'`).join(", ")}.`);
  }
  await deletePolicy(name);
  return { status: 204 };
}

app.http("putBackupPolicy", { route: "backupPolicies/{name}", methods: ["PUT"], authLevel: "function", handler: secured("PUT backupPolicies/{name}", handled(putBackupPolicy)) });
app.http("previewBackupPolicy", { route: "backupPolicies/preview", methods: ["POST"], authLevel: "function", handler: secured("POST backupPolicies/preview", handled(previewBackupPolicy)) });
app.http("getBackupPolicy", { route: "backupPolicies/{name}", methods: ["GET"], authLevel: "function", handler: secured("GET backupPolicies/{name}", handled(getBackupPolicy)) });
app.http("listBackupPolicies", { route: "backupPolicies", methods: ["GET"], authLevel: "function", handler: secured("GET backupPolicies", handled(listBackupPolicies)) });
app.http("deleteBackupPolicy", { route: "backupPolicies/{name}", methods: ["DELETE"], authLevel: "function", handler: secured("DELETE backupPolicies/{name}", handled(deleteBackupPolicy)) });
