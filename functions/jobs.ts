import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { getJob } from "../shared/catalog";
import { NotFoundError, ValidationError } from "../shared/errors";
import { handled, json } from "../shared/http";

const jobIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;

export async function getJobById(request: HttpRequest): Promise<HttpResponseInit> {
  const id = request.params.id ?? "";
  if (!jobIdPattern.test(id)) throw new ValidationError([{ path: "id", message: "is not a job id" }]);
  const job = await getJob(id);
  if (!job) throw new NotFoundError(`Job '${id}' does not exist.`);
  return json(200, job);
}

app.http("getJob", { route: "jobs/{id}", methods: ["GET"], authLevel: "function", handler: handled(getJobById) });
