import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { verifyOrchestrationName, type VerifyInput } from "../orchestrators/verify";
import { getInstance, getRecoveryPoint, listRecoveryPoints } from "../shared/catalog";
import type { RecoveryPoint } from "../shared/domain";
import { ConflictError, NotFoundError, PgVaultError, ValidationError } from "../shared/errors";
import { errorResponse, readJson, routeName, secured } from "../shared/http";
import { queueOnDemandJob } from "../shared/onDemandJob";
import { parseVerifyRequest } from "../shared/validation/verify";

const flexibleServerRefusal =
  "a Flexible Server recovery point cannot be verified yet: restore drills of its per-database pg_dump archives need a drill server the instance names, which is not built (restore it as files instead)";

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
    if (instance.datasource.type !== "database") throw new ValidationError([{ path: body.recoveryPointId ? "recoveryPointId" : "name", message: flexibleServerRefusal }]);
    const rp = await pointToVerify(name, body.recoveryPointId);
    if (rp.format !== "pg_dump-custom") throw new ValidationError([{ path: "recoveryPointId", message: flexibleServerRefusal }]);
    const input: VerifyInput = { instanceName: name, datasource: instance.datasource, recoveryPointId: rp.id, trigger: "OnDemand" };
    return await queueOnDemandJob(client, context, {
      operation: "Verify", instanceName: name, recoveryPointId: rp.id, orchestration: verifyOrchestrationName, input, what: `restore drill of ${rp.id}`,
    });
  } catch (err) {
    return errorResponse(err, context);
  }
}

df.app.client.http("startVerify", { route: "backupInstances/{name}/verify", methods: ["POST"], authLevel: "function", handler: secured("POST backupInstances/{name}/verify", startVerify) });
