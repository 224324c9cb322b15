/**
 * How an on-demand request becomes a job (backup, restore, restore drill): refused while another job of the
 * instance runs, recorded `Queued` before its orchestration starts (so the job is visible at once), started with
 * the job id as its instance id, answered 202 with where to follow it.
 */
import type { HttpResponseInit, InvocationContext } from "@azure/functions";
import type { DurableClient } from "durable-functions";
import { updateJob } from "../catalog/jobRows";
import type { JobOperation } from "../domain";
import { orchestrationProbe } from "../durableInstances";
import { json } from "../http";
import { isoSeconds } from "../time/isoTime";
import { newJobId } from "./jobId";
import { jobLog } from "./jobLog";
import { refuseIfInstanceBusy } from "./operationLock";

export interface OnDemandJob<Input> {
  operation: Exclude<JobOperation, "Retention">;
  instanceName: string;
  /** The point a restore or drill works on. */
  recoveryPointId?: string;
  orchestration: string;
  input: Input;
  /** The log line's subject, e.g. "restore of rp-..." ("... queued"). */
  what: string;
}

export async function queueOnDemandJob<Input>(client: DurableClient, context: InvocationContext, job: OnDemandJob<Input>): Promise<HttpResponseInit> {
  await refuseIfInstanceBusy(job.instanceName, orchestrationProbe(client));
  const now = new Date();
  const jobId = newJobId(job.operation === "Backup" ? "backup" : job.operation === "Restore" ? "restore" : "verify", job.instanceName, now);
  await updateJob(jobId, {
    operation: job.operation,
    trigger: "OnDemand",
    instanceName: job.instanceName,
    status: "Queued",
    phase: "Queued",
    startTime: isoSeconds(now),
    bytes: 0,
    ...(job.recoveryPointId ? { recoveryPointId: job.recoveryPointId } : {}),
  });
  await client.startNew(job.orchestration, { instanceId: jobId, input: job.input });
  jobLog(context, { jobId, instanceName: job.instanceName, operation: job.operation }).info(`${job.what} queued`);
  return json(202, { jobId }, { Location: `/api/jobs/${jobId}` });
}
