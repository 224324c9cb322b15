import { app, type HttpRequest, type HttpResponseInit } from "@azure/functions";
import { negotiate } from "../shared/contentNegotiation";
import { resourceNamePattern } from "../shared/domain";
import { handled, json, secured } from "../shared/http";
import { complianceCsv } from "../shared/reports/complianceCsv";
import { complianceReport, maxReportDays } from "../shared/reports/complianceReport";
import { IssueCollector } from "../shared/validation/issues";

const dayMs = 86_400_000;
const offered = ["application/json", "text/csv"] as const;

interface ComplianceQuery {
  from: Date;
  to: Date;
  instanceName?: string;
}

/** Whole seconds, as the catalog keeps times (the job index's key ranges are seconds). */
const wholeSeconds = (iso: string) => new Date(Math.floor(Date.parse(iso) / 1000) * 1000);

/**
 * `from` and `to` (required, ISO 8601 with a zone, to the second), `from` before `to` and before `now`, at most
 * `maxReportDays` apart; a `to` after `now` is reported up to `now`. `instanceName` (optional) narrows to one.
 */
function complianceQuery(query: URLSearchParams, now: Date): ComplianceQuery {
  const issues = new IssueCollector();
  const fromText = issues.dateTime(query.get("from"), "from");
  const toText = issues.dateTime(query.get("to"), "to");
  if (!query.has("from")) issues.add("from", "is required: the start of the period, e.g. 2026-01-01T00:00:00Z");
  if (!query.has("to")) issues.add("to", "is required: the end of the period, e.g. 2027-01-01T00:00:00Z");
  const instanceName = query.get("instanceName") ?? undefined;
  if (instanceName !== undefined && !resourceNamePattern.test(instanceName)) issues.add("instanceName", "must be a backup instance name");
  const [from, to] = [fromText === undefined ? undefined : wholeSeconds(fromText), toText === undefined ? undefined : wholeSeconds(toText)];
  if (from && from.getTime() >= now.getTime()) issues.add("from", "must be in the past");
  if (from && to && from.getTime() >= to.getTime()) issues.add("to", "must be later than from");
  else if (from && to && to.getTime() - from.getTime() > maxReportDays * dayMs) issues.add("to", `must be at most ${maxReportDays} days after from`);
  issues.throwIfAny();
  return { from: from!, to: new Date(Math.min(to!.getTime(), now.getTime())), ...(instanceName ? { instanceName } : {}) };
}

/**
 * GET /reports/compliance?from=&to=[&instanceName=]: each instance's RPO compliance, backups and drills for the
 * period (shared/reports/), as JSON, or CSV when the Accept header prefers `text/csv`; JSON when it accepts neither.
 */
export async function complianceReportHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const now = new Date();
  const { from, to, instanceName } = complianceQuery(request.query, now);
  // An Accept that allows neither gets JSON: RFC 9110 section 12.5.1 lets a server disregard the header instead of
  // answering 406, and the spec's error codes have none for it.
  const format = negotiate(request.headers.get("accept"), offered) ?? "application/json";
  const report = await complianceReport(from, to, now, instanceName);
  // Caches keep the JSON and the CSV answer apart.
  const vary = { vary: "Accept", "cache-control": "no-store" };
  if (format === "application/json") return json(200, report, vary);
  const name = `compliance-${report.period.from}-${report.period.to}.csv`.replaceAll(":", "");
  return {
    status: 200,
    headers: { "content-type": "text/csv; charset=utf-8; header=present", "content-disposition": `attachment; filename="${name}"`, ...vary },
    body: complianceCsv(report),
  };
}

app.http("complianceReport", {
  route: "reports/compliance",
  methods: ["GET"],
  authLevel: "function",
  handler: secured("GET reports/compliance", handled(complianceReportHandler)),
});
