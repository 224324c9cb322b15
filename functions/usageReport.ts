import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { resourceNamePattern } from "../shared/domain";
import { handled, json, secured } from "../shared/http";
import { defaultUsageDays, maxUsageDays, usageReport } from "../shared/reports/usageReport";
import { IssueCollector } from "../shared/validation/issues";

/**
 * GET /reports/usage?days=[&instanceName=]: the vault's bytes per day, RPO health and, for one instance, its
 * backups of the period (shared/reports/usageReport.ts), for the console's charts. `days` (1 to 400, default 90)
 * counts UTC days ending today.
 */
export async function usageReportHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const issues = new IssueCollector();
  const days = issues.integer(request.query.has("days") ? Number(request.query.get("days")) : undefined, "days", 1, maxUsageDays, defaultUsageDays);
  const instanceName = request.query.get("instanceName") ?? undefined;
  if (instanceName !== undefined && !resourceNamePattern.test(instanceName)) issues.add("instanceName", "must be a backup instance name");
  issues.throwIfAny();
  return json(200, await usageReport(days!, new Date(), instanceName), { "cache-control": "no-store" });
}

app.http("usageReport", {
  route: "reports/usage",
  methods: ["GET"],
  authLevel: "function",
  handler: secured("GET reports/usage", handled(usageReportHandler)),
});
