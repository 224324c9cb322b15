import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { verifyOrchestrationName, type VerifyInput } from "../orchestrators/verify";
import { getInstance } from "../shared/catalog/catalog";
import { getRecoveryPoint, listRecoveryPoints } from "../shared/catalog/recoveryPointReads";
import type { RecoveryPoint } from "../shared/domain";
import { ConflictError, NotFoundError, PgVaultError, ValidationError } from "../shared/errors";
import { errorResponse, readJson, routeName, secured } from "../shared/http";
import { queueOnDemandJob } from "../shared/jobs/onDemandJob";
import { parseVerifyRequest } from "../shared/validation/verify";
import { drillSubjectOf } from "../shared/verify/drillServer";

/**
 * A Flexible Server instance without a drill server: a 400 on the instance, as the request cannot be served as the
 * instance stands (SPEC section 9 has no code for a missing setting; 422 is configure-protection's).
 */
const noDrillServer = (name: string) =>
  `backup instance '${name}' is a Flexible Server and names no drill server: pgvault has no credentials for the Flexible Server itself, so its points ` +
  `are drilled on a server of your choice. Set "verification": { "host", "port"?, "secretRef" | "auth" } on the instance (PUT /api/backupInstances/${name}), then retry`;

/** The point to verify: the one asked for (Available or SoftDeleted), else the newest Available one. */
async function pointToVerify(name: string, recoveryPointId: string | undefined): Promise<RecoveryPoint> {
  if (recoveryPointId === undefined) {
    const latest = (await listRecoveryPoints(name)).find((rp) => rp.status === "Available");
    if (!latest) throw new PgVaultError("UserErrorRecoveryPointNotFound", `Backup instance '${name}' has no Available recovery point to verify.`);
    return latest;
  }
  const rp = await getRecoveryPoint(name, recoveryPointId);
  if (!rp || rp.status === "Deleted") {
    throw new PgVaultError("UserErrorRecoveryPointNotFound", `Recovery point '${recoveryPointId}' of '${name}' does not exist or is deleted.`);
  }
  if (rp.deletionStartedAt) throw new ConflictError("Conflict", `Recovery point '${recoveryPointId}' of '${name}' is being deleted by retention.`);
  return rp;
}

/**
 * POST /backupInstances/{name}/verify: a restore drill of the latest Available recovery point, or of
 * `{ "recoveryPointId" }` (a SoftDeleted one too: it is restorable until purged). 202 with the job.
 */
export async function startVerify(request: HttpRequest, client: DurableClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const name = routeName(request, "name");
    const body = parseVerifyRequest(await readJson(request));
    const instance = await getInstance(name);
    if (!instance) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
    const subject = drillSubjectOf(instance);
    if (!subject) throw new ValidationError([{ path: "name", message: noDrillServer(name) }]);
    const rp = await pointToVerify(name, body.recoveryPointId);
    const input: VerifyInput = { instanceName: name, recoveryPointId: rp.id, trigger: "OnDemand", ...subject };
    return await queueOnDemandJob(client, context, {
      operation: "Verify", instanceName: name, recoveryPointId: rp.id, orchestration: verifyOrchestrationName, input, what: `restore drill of ${rp.id}`,
    });
  } catch (err) {
    return errorResponse(err, context);
  }
}

df.app.client.http("startVerify", { route: "backupInstances/{name}/verify", methods: ["POST"], authLevel: "function", handler: secured("POST backupInstances/{name}/verify", startVerify) });
