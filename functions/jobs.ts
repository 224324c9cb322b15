import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getJob, listJobs } from "../shared/catalog";
import type { Job } from "../shared/domain";
import { NotFoundError, ValidationError } from "../shared/errors";
import { handled, json } from "../shared/http";
import { IssueCollector } from "../shared/validation/issues";

const jobIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

export async function getJobById(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!jobIdPattern.test(id)) throw new ValidationError([{ path: "id", message: "is not a job id" }]);
  const job = await getJob(id);
  if (!job) throw new NotFoundError(`Job '${id}' does not exist.`);
  return json(200, job);
}

const operations: readonly Job["operation"][] = ["Backup", "Restore", "Retention", "Verify"];
const statuses: readonly Job["status"][] = ["Queued", "InProgress", "Succeeded", "Failed", "Cancelled"];

/** Newest first, `top` per page (default 50), `nextLink` to the next page. */
export async function listJobsHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const issues = new IssueCollector();
  const query = request.query;
  const instanceName = query.get("instanceName") ?? undefined;
  const operation = issues.oneOf(query.get("operation") ?? undefined, "operation", operations, true);
  const status = issues.oneOf(query.get("status") ?? undefined, "status", statuses, true);
  const top = issues.integer(query.has("top") ? Number(query.get("top")) : undefined, "top", 1, 1000, 50)!;
  const skip = issues.integer(query.has("skip") ? Number(query.get("skip")) : undefined, "skip", 0, Number.MAX_SAFE_INTEGER, 0)!;
  issues.throwIfAny();
  const jobs = await listJobs({ instanceName, operation, status });
  const page = jobs.slice(skip, skip + top);
  if (skip + top >= jobs.length) return json(200, { value: page });
  const next = new URLSearchParams(query);
  next.set("skip", String(skip + top));
  return json(200, { value: page, nextLink: `/api/jobs?${next.toString()}` });
}

app.http("listJobs", { route: "jobs", methods: ["GET"], authLevel: "function", handler: handled(listJobsHandler) });
app.http("getJob", { route: "jobs/{id}", methods: ["GET"], authLevel: "function", handler: handled(getJobById) });
