import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { restoreOrchestrationName, type RestoreInput } from "../orchestrators/restore";
import { getInstance, getRecoveryPoint } from "../shared/catalog";
import { NotFoundError, PgVaultError, ValidationError } from "../shared/errors";
import { errorResponse, readJson, routeName, secured } from "../shared/http";
import { parseRestoreRequest } from "../shared/validation/restore";
import { queueOnDemandJob } from "../shared/onDemandJob";
import { orchestrationProbe } from "../shared/durableInstances";
import { refuseIfRestoreTargetBusy } from "../shared/operationLock";

/** POST /backupInstances/{name}/restore: validates the request and the recovery point, then starts the job. */
export async function startRestore(request: HttpRequest, client: DurableClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const name = routeName(request, "name");
    const body = parseRestoreRequest(await readJson(request));
    if (!(await getInstance(name))) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
    const recoveryPoint = await getRecoveryPoint(name, body.recoveryPointId);
    if (!recoveryPoint || recoveryPoint.status === "Deleted") {
      throw new PgVaultError("UserErrorRecoveryPointNotFound", `Recovery point '${body.recoveryPointId}' of '${name}' does not exist or is deleted.`);
    }
    if (recoveryPoint.format === "flexibleServer-ltr" && body.target.type !== "blob") {
      // Restoring the server's per-database archives to a server is not built yet (issue 21, point 3); files only.
      throw new ValidationError([{ path: "target.type", message: "a Flexible Server recovery point can be restored as files only ('blob')" }]);
    }
    // Another restore writing into the same database (of any instance): 409 naming it; the job's lock checks again.
    // (Only when the request names the server: otherwise its secret does, and the job's lock checks once it is read.)
    const { target } = body;
    if (target.type === "database" && target.host !== undefined && target.port !== undefined) {
      await refuseIfRestoreTargetBusy({ host: target.host, port: target.port, database: target.database }, orchestrationProbe(client));
    }
    const input: RestoreInput = { instanceName: name, recoveryPointId: recoveryPoint.id, target: body.target };
    return await queueOnDemandJob(client, context, {
      operation: "Restore", instanceName: name, recoveryPointId: recoveryPoint.id, orchestration: restoreOrchestrationName, input, what: `restore of ${recoveryPoint.id}`,
    });
  } catch (err) {
    return errorResponse(err, context);
  }
}

df.app.client.http("startRestore", { route: "backupInstances/{name}/restore", methods: ["POST"], authLevel: "function", handler: secured("POST backupInstances/{name}/restore", startRestore) });
