import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getInstance, listInstances, listPolicies, putInstance } from "../shared/catalog/catalog";
import { getConfig } from "../shared/config";
import { NotFoundError, ValidationError } from "../shared/errors";
import { handled, json, readJson, routeName, secured } from "../shared/http";
import { instanceView } from "../shared/instanceView";
import { configureInstance } from "../shared/protect/configureInstance";
import { rposByPolicy } from "../shared/rpo/rpo";
import { softDeleteAllBackups } from "../shared/retention/softDelete";
import { parseInstanceRequest } from "../shared/validation/instance";

/** Configure protection (shared/protect/configureInstance.ts): 201 created, 200 replaced. */
export async function putBackupInstance(request: HttpRequest): Promise<HttpResponseInit> {
  const { created, instance } = await configureInstance(routeName(request, "name"), parseInstanceRequest(await readJson(request)));
  return json(created ? 201 : 200, await instanceView(instance, new Date()));
}

export async function getBackupInstance(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const instance = await getInstance(name);
  if (!instance) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
  return json(200, await instanceView(instance, new Date()));
}

export async function listBackupInstances(): Promise<HttpResponseInit> {
  const now = new Date();
  // The policies once for the whole list, each RPO derived once: not a read and a derivation per instance.
  const [instances, policyList] = await Promise.all([listInstances(), listPolicies()]);
  const policies = { byName: new Map(policyList.map((policy) => [policy.name, policy])), rpos: rposByPolicy(policyList, now) };
  return json(200, { value: await Promise.all(instances.map((instance) => instanceView(instance, now, policies))) });
}

/** `deleteBackups` is `true` or `false` (the default); anything else is refused rather than guessed. */
function deleteBackupsParameter(request: HttpRequest): boolean {
  const value = request.query.get("deleteBackups");
  if (value === null || value === "false") return false;
  if (value === "true") return true;
  throw new ValidationError([{ path: "deleteBackups", message: "must be 'true' or 'false'" }]);
}

/**
 * Stop protection: no more scheduled or on-demand backups. The recovery points stay until they expire (the
 * newest too, as the instance is no longer protected), or with `deleteBackups=true` are soft-deleted: restorable
 * and undeletable for SOFT_DELETE_RETENTION_DAYS, then purged by retention. Repeating the request is harmless, and
 * finishes one that failed part-way.
 */
export async function deleteBackupInstance(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const deleteBackups = deleteBackupsParameter(request);
  const instance = await getInstance(name);
  if (!instance) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
  if (instance.protectionState !== "ProtectionStopped") await putInstance({ ...instance, protectionState: "ProtectionStopped" });
  if (deleteBackups) await softDeleteAllBackups(name, new Date(), getConfig().softDeleteRetentionDays);
  return { status: 204 };
}

app.http("putBackupInstance", { route: "backupInstances/{name}", methods: ["PUT"], authLevel: "function", handler: secured("PUT backupInstances/{name}", handled(putBackupInstance)) });
app.http("getBackupInstance", { route: "backupInstances/{name}", methods: ["GET"], authLevel: "function", handler: secured("GET backupInstances/{name}", handled(getBackupInstance)) });
app.http("listBackupInstances", { route: "backupInstances", methods: ["GET"], authLevel: "function", handler: secured("GET backupInstances", handled(listBackupInstances)) });
app.http("deleteBackupInstance", { route: "backupInstances/{name}", methods: ["DELETE"], authLevel: "function", handler: secured("DELETE backupInstances/{name}", handled(deleteBackupInstance)) });
