import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { verifyDatabaseAccess } from "../shared/backup/databaseAccess";
import { getInstance, getPolicy, listInstances, putInstance } from "../shared/catalog";
import type { BackupInstance } from "../shared/domain";
import { verifyFlexServerAccess } from "../shared/flexServer/serverAccess";
import { NotFoundError, PgVaultError, ValidationError } from "../shared/errors";
import { handled, json, readJson, routeName } from "../shared/http";
import { instanceView } from "../shared/instanceView";
import { deleteAllBackups } from "../shared/retention/instanceRetention";
import { parseInstanceRequest } from "../shared/validation/instance";

/** Configure protection: the policy must fit and the datasource must pass its access check before anything is stored. */
export async function putBackupInstance(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const body = parseInstanceRequest(await readJson(request));
  const policy = await getPolicy(body.policyName);
  if (!policy) throw new ValidationError([{ path: "policyName", message: `backup policy '${body.policyName}' does not exist` }]);
  if (policy.datasourceType !== body.datasource.type) {
    throw new ValidationError([
      { path: "datasource.type", message: `policy '${policy.name}' protects '${policy.datasourceType}' datasources` },
    ]);
  }
  // Refused with 422 and the job error code when the secret, connection, grants or ARM permissions are not right.
  if (body.datasource.type === "database") await verifyDatabaseAccess(body.datasource);
  else await verifyFlexServerAccess(body.datasource.resourceId, `pgvault-check-${name}`);
  const existing = await getInstance(name);
  const instance: BackupInstance = {
    name,
    policyName: body.policyName,
    datasource: body.datasource,
    protectionState: "ProtectionConfigured",
    createdAt: existing?.createdAt ?? new Date().toISOString(),
  };
  const { created } = await putInstance(instance);
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
  const instances = await listInstances();
  return json(200, { value: await Promise.all(instances.map((instance) => instanceView(instance, now))) });
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
 * newest too, as the instance is no longer protected), or with `deleteBackups=true` are expired and deleted now.
 * Repeating the request is harmless, and finishes a deletion that failed part-way.
 */
export async function deleteBackupInstance(request: HttpRequest): Promise<HttpResponseInit> {
  const name = routeName(request, "name");
  const deleteBackups = deleteBackupsParameter(request);
  const instance = await getInstance(name);
  if (!instance) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
  if (instance.protectionState !== "ProtectionStopped") await putInstance({ ...instance, protectionState: "ProtectionStopped" });
  if (deleteBackups) {
    const { deleted, failed } = await deleteAllBackups(name, new Date());
    if (failed.length > 0) {
      throw new PgVaultError(
        "SystemErrorUnexpected",
        `Protection of '${name}' is stopped, but ${failed.length} of ${deleted.length + failed.length} recovery points could not be ` +
          `deleted yet (first: ${failed[0]!.error.message}). They are expired: the daily retention run or a repeated request deletes them.`,
      );
    }
  }
  return { status: 204 };
}

app.http("putBackupInstance", { route: "backupInstances/{name}", methods: ["PUT"], authLevel: "function", handler: handled(putBackupInstance) });
app.http("getBackupInstance", { route: "backupInstances/{name}", methods: ["GET"], authLevel: "function", handler: handled(getBackupInstance) });
app.http("listBackupInstances", { route: "backupInstances", methods: ["GET"], authLevel: "function", handler: handled(listBackupInstances) });
app.http("deleteBackupInstance", { route: "backupInstances/{name}", methods: ["DELETE"], authLevel: "function", handler: handled(deleteBackupInstance) });
