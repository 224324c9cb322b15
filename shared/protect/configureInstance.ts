/**
 * Configure protection (PUT /backupInstances/{name}, and each database of POST /protectDatabases): the policy
 * must fit and the datasource must pass its access check before anything is stored.
 */
import { verifyDatabaseAccess } from "../backup/databaseAccess";
import { getInstance, getPolicy, putInstance } from "../catalog/catalog";
import type { BackupInstance, Datasource } from "../domain";
import { createDataKey, resolveKey } from "../encryption/dataKeys";
import { ValidationError } from "../errors";
import { verifyFlexServerAccess } from "../flexServer/serverAccess";
import type { InstanceRequest } from "../validation/instance";
import { verifiedDrillServer } from "../verify/drillServer";

export async function configureInstance(name: string, body: InstanceRequest): Promise<{ created: boolean; instance: BackupInstance }> {
  const policy = await getPolicy(body.policyName);
  if (!policy) throw new ValidationError([{ path: "policyName", message: `backup policy '${body.policyName}' does not exist` }]);
  if (policy.datasourceType !== body.datasource.type) {
    throw new ValidationError([
      { path: "datasource.type", message: `policy '${policy.name}' protects '${policy.datasourceType}' datasources` },
    ]);
  }
  // Refused with 422 and the job error code when the secret (or its server), connection, grants or ARM permissions
  // are not right. The instance keeps the server checked, so GET shows it and each backup binds the secret to it.
  let datasource: Datasource;
  if (body.datasource.type === "database") {
    datasource = { ...body.datasource, ...(await verifyDatabaseAccess(body.datasource)).server };
  } else {
    await verifyFlexServerAccess(body.datasource.resourceId, `pgvault-check-${name}`);
    datasource = body.datasource;
  }
  // A Flexible Server's drill server passes the drill's own access check (connect, CREATEDB) now, not at the first drill.
  const verification = body.verification && (await verifiedDrillServer(body.verification));
  // A wrap and unwrap round trip now, so a missing key or permission is refused here rather than at 2 a.m.
  if (policy.encryption) await createDataKey(await resolveKey(policy.encryption.keyRef));
  const existing = await getInstance(name);
  const instance: BackupInstance = {
    name,
    policyName: body.policyName,
    datasource,
    ...(verification ? { verification } : {}),
    protectionState: "ProtectionConfigured",
    createdAt: existing?.createdAt ?? new Date().toISOString(),
  };
  const { created } = await putInstance(instance);
  return { created, instance };
}
