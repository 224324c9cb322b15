import { type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { backupOrchestrationName, type BackupInput } from "../orchestrators/backup";
import { getInstance, getPolicy, updateJob } from "../shared/catalog";
import { orchestrationProbe } from "../shared/durableInstances";
import { ConflictError, NotFoundError, ValidationError } from "../shared/errors";
import { errorResponse, json, readJson, routeName, secured } from "../shared/http";
import { newJobId } from "../shared/jobId";
import { parseBackupRequest } from "../shared/validation/instance";
import { isoSeconds } from "../shared/isoTime";
import { jobLog } from "../shared/jobLog";
import { refuseIfInstanceBusy } from "../shared/operationLock";

export async function startOnDemandBackup(request: HttpRequest, client: DurableClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const name = routeName(request, "name");
    const body = parseBackupRequest(await readJson(request));
    const instance = await getInstance(name);
    if (!instance) throw new NotFoundError(`Backup instance '${name}' does not exist.`);
    if (instance.protectionState !== "ProtectionConfigured") {
      throw new ConflictError("Conflict", `Protection of '${name}' is stopped; configure it again to take backups.`);
    }
    const policy = await getPolicy(instance.policyName);
    const tag = body.retentionTag;
    if (tag && tag !== "Default" && !policy?.retention.rules.some((rule) => rule.tag === tag)) {
      throw new ValidationError([{ path: "retentionTag", message: `policy '${instance.policyName}' has no '${tag}' retention rule` }]);
    }
    await refuseIfInstanceBusy(name, orchestrationProbe(client));
    const now = new Date();
    const jobId = newJobId("backup", name, now);
    const startTime = isoSeconds(now);
    await updateJob(jobId, { operation: "Backup", trigger: "OnDemand", instanceName: name, status: "Queued", phase: "Queued", startTime, bytes: 0 });
    const input: BackupInput = { instanceName: name, datasource: instance.datasource, trigger: "OnDemand", retentionTag: tag };
    await client.startNew(backupOrchestrationName, { instanceId: jobId, input });
    jobLog(context, { jobId, instanceName: name, operation: "Backup" }).info("on-demand backup queued");
    return json(202, { jobId }, { Location: `/api/jobs/${jobId}` });
  } catch (err) {
    return errorResponse(err, context);
  }
}

df.app.client.http("startOnDemandBackup", {
  route: "backupInstances/{name}/backup",
  methods: ["POST"],
  authLevel: "function",
  handler: secured("POST backupInstances/{name}/backup", startOnDemandBackup),
});
