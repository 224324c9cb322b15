import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import { cancelJobOrchestrationName, type CancelJobInput } from "../orchestrators/cancelJob";
import { cancelJobInstanceId } from "../shared/jobs/jobId";
import type { RestoreInput } from "../orchestrators/restore";
import type { VerifyInput } from "../orchestrators/verify";
import { drillEndpoint } from "../shared/verify/drillServer";
import { jobIndexRowKey } from "../shared/catalog/jobIndex";
import { getJob } from "../shared/catalog/jobRows";
import { listJobsPage } from "../shared/catalog/jobLists";
import { allInstances, resourceNamePattern, type Job } from "../shared/domain";
import { activeRuntimeStatuses, orchestrationExists, orchestrationStatus } from "../shared/durableInstances";
import { ConflictError, NotFoundError, ValidationError } from "../shared/errors";
import { errorResponse, handled, json, secured } from "../shared/http";
import { cancelRefusal, requestCancel } from "../shared/jobs/jobCancellation";
import type { CancelPlan } from "../shared/jobs/jobCleanup";
import { jobView } from "../shared/jobs/jobView";
import { IssueCollector } from "../shared/validation/issues";
import { jobLog } from "../shared/jobs/jobLog";

const jobIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

function jobIdOf(request: HttpRequest): string {
  const id = request.params.id ?? "";
  if (!jobIdPattern.test(id)) throw new ValidationError([{ path: "id", message: "is not a job id" }]);
  return id;
}

export async function getJobById(request: HttpRequest): Promise<HttpResponseInit> {
  const id = jobIdOf(request);
  const job = await getJob(id);
  if (!job) throw new NotFoundError(`Job '${id}' does not exist.`);
  return json(200, jobView(job, new Date()));
}

const operations: readonly Job["operation"][] = ["Backup", "Restore", "Retention", "Verify"];
const statuses: readonly Job["status"][] = ["Queued", "InProgress", "Succeeded", "Failed", "Cancelled"];

/**
 * `skipToken`: where the previous page ended, as the start time and id of its last job (base64url JSON), which
 * is the row key the next page continues after (shared/catalog/jobIndex.ts).
 */
function encodeCursor(job: Job): string {
  return Buffer.from(JSON.stringify([job.startTime, job.id])).toString("base64url");
}

function decodeCursor(token: string): string | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString());
    if (Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string") && !Number.isNaN(Date.parse(value[0] as string))) {
      return jobIndexRowKey({ startTime: value[0] as string, id: value[1] as string });
    }
  } catch {
    // Falls through to the refusal below.
  }
  return undefined;
}

/**
 * Newest first, `top` per page (default 50). `from` (inclusive) and `to` (exclusive) bound the start time.
 * `nextLink` carries a cursor (`skipToken`) of the last job shown, so jobs started meanwhile do not shift pages,
 * and the next page is read from there on, not from the top.
 */
export async function listJobsHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const issues = new IssueCollector();
  const query = request.query;
  const instanceName = query.get("instanceName") ?? undefined;
  // Only names a job can have: anything else matches nothing, and is not worth a storage query.
  if (instanceName !== undefined && instanceName !== allInstances && !resourceNamePattern.test(instanceName)) {
    issues.add("instanceName", "must be a backup instance name (or * for retention runs)");
  }
  const operation = issues.oneOf(query.get("operation") ?? undefined, "operation", operations, true);
  const status = issues.oneOf(query.get("status") ?? undefined, "status", statuses, true);
  const from = issues.dateTime(query.get("from"), "from");
  const to = issues.dateTime(query.get("to"), "to");
  if (from && to && from >= to) issues.add("to", "must be later than from");
  const top = issues.integer(query.has("top") ? Number(query.get("top")) : undefined, "top", 1, 1000, 50)!;
  const skipToken = query.get("skipToken");
  const cursor = skipToken === null ? undefined : decodeCursor(skipToken);
  if (skipToken !== null && !cursor) issues.add("skipToken", "is not a token from a nextLink");
  issues.throwIfAny();

  const page = await listJobsPage({ instanceName, operation, status, from, to }, top, cursor);
  const now = new Date();
  const value = page.jobs.map((job) => jobView(job, now));
  if (page.next === undefined) return json(200, { value });
  // Only the filters, as validated: any other parameter (a function key in `?code=`, or whatever else was sent) is
  // not repeated in the answer, which ends up in logs and browser histories.
  const filters = { instanceName, operation, status, from, to, top: query.has("top") ? String(top) : undefined };
  const next = new URLSearchParams(Object.entries(filters).filter((entry): entry is [string, string] => entry[1] !== undefined));
  next.set("skipToken", encodeCursor(page.jobs.at(-1)!));
  return json(200, { value, nextLink: `/api/jobs?${next.toString()}` });
}

/** What the cleanup must look for, from the terminated orchestration's input and the job row. */
function cancelPlan(job: Job, input: unknown): CancelPlan {
  if (job.operation === "Backup") return { kind: "backup", instanceName: job.instanceName, recoveryPointId: job.recoveryPointId };
  if (job.operation === "Restore" && input) {
    const { instanceName, recoveryPointId, target } = input as RestoreInput;
    return { kind: "restore", instanceName, recoveryPointId, target };
  }
  if (job.operation === "Verify" && input) return { kind: "verify", datasource: drillEndpoint(input as VerifyInput) };
  return { kind: "nothing" };
}

/**
 * POST /jobs/{id}/cancel: flags the job (running steps watch the flag and stop), terminates its orchestration,
 * and starts the cleanup that removes partial data and marks the job Cancelled. 202; 404 for an unknown job; 409
 * for a finished job, or a restore already swapping its database in (checked again in the flag's own write, which
 * a swap's claim of the job makes fail: see shared/jobs/jobCancellation.ts).
 */
export async function cancelJobHandler(request: HttpRequest, client: DurableClient, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const id = jobIdOf(request);
    const job = await getJob(id);
    if (!job) throw new NotFoundError(`Job '${id}' does not exist.`);
    const refusal = cancelRefusal(job);
    if (refusal) throw new ConflictError("Conflict", refusal);
    const accepted = json(202, { jobId: id }, { Location: `/api/jobs/${id}` });
    // A repeated cancel while the cleanup runs: it is already on its way.
    if (await orchestrationExists(client, cancelJobInstanceId(id))) return accepted;

    await requestCancel(id);
    const status = await orchestrationStatus(client, id, { showInput: true });
    if (status && activeRuntimeStatuses.includes(status.runtimeStatus)) await client.terminate(id, "Cancelled on request");
    // Read again: the row may have gained its recovery point id until the orchestration stopped.
    const current = (await getJob(id)) ?? job;
    const input: CancelJobInput = { jobId: id, instanceName: job.instanceName, operation: job.operation, plan: cancelPlan(current, status?.input) };
    await client.startNew(cancelJobOrchestrationName, { instanceId: cancelJobInstanceId(id), input });
    jobLog(context, { jobId: id, instanceName: job.instanceName, operation: job.operation }).info("cancel requested; orchestration terminated");
    return accepted;
  } catch (err) {
    return errorResponse(err, context);
  }
}

app.http("listJobs", { route: "jobs", methods: ["GET"], authLevel: "function", handler: secured("GET jobs", handled(listJobsHandler)) });
app.http("getJob", { route: "jobs/{id}", methods: ["GET"], authLevel: "function", handler: secured("GET jobs/{id}", handled(getJobById)) });
df.app.client.http("requestJobCancel", { route: "jobs/{id}/cancel", methods: ["POST"], authLevel: "function", handler: secured("POST jobs/{id}/cancel", cancelJobHandler) });
