import { type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { backupOrchestrationName, type BackupInput } from "../orchestrators/backup";
import { getInstance, getPolicy } from "../shared/catalog/catalog";
import { ConflictError, NotFoundError, ValidationError } from "../shared/errors";
import { errorResponse, readJson, routeName, secured } from "../shared/http";
import { parseBackupRequest } from "../shared/validation/instance";
import { queueOnDemandJob } from "../shared/jobs/onDemandJob";

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
    const input: BackupInput = { instanceName: name, datasource: instance.datasource, trigger: "OnDemand", retentionTag: tag };
    return await queueOnDemandJob(client, context, { operation: "Backup", instanceName: name, orchestration: backupOrchestrationName, input, what: "on-demand backup" });
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
