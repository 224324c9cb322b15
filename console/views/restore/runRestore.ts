/**
 * Step 4 of the restore wizard: the pre-flight (POST .../restore with `dryRun: true`, docs/api.md "Pre-flight and
 * `dryRun`") and its findings, then the restore itself, followed to its end here (GET /api/jobs/{id} every 2 s until
 * the job ends or the user navigates away), with a link to the job's own page.
 */
import type { Job } from "../../../shared/domain";
import { finishedJobStatuses } from "../../../shared/domain";
import { api, ApiError, segment } from "../../api";
import { h, replaceChildren } from "../../dom";
import { href } from "../../router";
import { announce, errorPanel, formatBytes } from "../../ui";

export interface PreflightFinding {
  check: string;
  code: string;
  severity: "fatal" | "warning";
  object: string;
  message: string;
  recommendedAction: string;
}

export interface DryRunAnswer {
  passed: boolean;
  server?: { host: string; port: number };
  findings: PreflightFinding[];
}

const pollMs = 2_000;

export function findingsList(answer: DryRunAnswer): HTMLElement {
  const where = answer.server ? ` on ${answer.server.host}:${answer.server.port}` : "";
  return h("section", { class: `preflight ${answer.passed ? "passed" : "failed"}`, "aria-labelledby": "preflight-result" },
    h("h3", { id: "preflight-result" }, answer.passed ? `Pre-flight passed${where}` : `Pre-flight found problems${where}`),
    answer.findings.length === 0
      ? h("p", {}, "No findings: the restore would start restoring.")
      : h("ul", { class: "findings" }, answer.findings.map((f) => h("li", { class: `finding ${f.severity}` },
          h("p", {}, h("strong", {}, f.severity === "fatal" ? "Fatal" : "Warning"), " ", h("code", { class: "code" }, f.code), ` (${f.check}, ${f.object}): `, f.message),
          h("p", {}, h("strong", {}, "What to do: "), f.recommendedAction)))),
  );
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

function jobSummary(job: Job): HTMLElement {
  return h("dl", { class: "job-facts" },
    h("dt", {}, "Status"), h("dd", { class: `status-${job.status.toLowerCase()}` }, job.status),
    h("dt", {}, "Phase"), h("dd", {}, job.phase),
    h("dt", {}, "Bytes"), h("dd", {}, formatBytes(job.bytes)));
}

/** What a succeeded restore says it did: where tables went (`intoSchema`), what was left out. */
function reportOf(job: Job): HTMLElement | null {
  const report = job.restoreReport;
  if (!report) return null;
  const into = report.intoSchema;
  return h("section", { class: "restore-report", "aria-labelledby": "restore-report-title" },
    h("h3", { id: "restore-report-title" }, "What the restore did"),
    into
      ? [h("p", {}, `Into schema ${into.schema}:`),
         h("ul", {}, into.tables.map((t) => h("li", {}, h("code", {}, t.source), " restored as ", h("code", {}, t.restoredAs)))),
         h("p", {}, "Rows the live table lacks:"), h("pre", {}, into.compareSql),
         h("p", {}, "Copy them back:"), h("pre", {}, into.copyBackSql)]
      : null,
    report.databases ? h("ul", {}, report.databases.map((d) => h("li", {}, `${d.name} restored as ${d.restoreAs}`))) : null,
    report.rolesCreated.length > 0 ? h("p", {}, `Roles created: ${report.rolesCreated.join(", ")}`) : null,
    report.objectsLeftOut?.length ? h("p", {}, `Objects left out (they need what was not restored): ${report.objectsLeftOut.map((o) => o.object).join("; ")}`) : null,
    report.grantsSkipped.length > 0 ? h("p", {}, `Grants skipped for roles: ${report.grantsSkipped.map((g) => `${g.role} (${g.count})`).join(", ")}`) : null,
  );
}

/** Follows `jobId` into `host` until it ends (or `signal` aborts); the end is announced. */
export async function followJob(host: HTMLElement, jobId: string, signal: AbortSignal): Promise<void> {
  const link = h("p", {}, "Restore job ", h("code", {}, jobId), " started. ", h("a", { href: href("/jobs/{id}", { id: jobId }) }, "Open the job's page"));
  const live = h("div", { "aria-live": "polite" });
  replaceChildren(host, link, live);
  announce(`Restore job ${jobId} started.`);
  while (!signal.aborted) {
    let job: Job;
    try {
      job = await api<Job>("GET", `jobs/${segment(jobId)}`);
    } catch (err) {
      if (!signal.aborted) replaceChildren(live, errorPanel(err, "The job could not be read"));
      return;
    }
    if (signal.aborted) return;
    const ended = finishedJobStatuses.includes(job.status);
    replaceChildren(live,
      jobSummary(job),
      job.status === "Succeeded" ? [h("p", { role: "status" }, "The restore succeeded."), reportOf(job)] : null,
      job.error ? errorPanel(new ApiError(0, job.error.code, job.error.message, job.error.recommendedAction), job.status === "Cancelled" ? "The restore was cancelled" : "The restore failed") : null,
      job.status === "Cancelled" && !job.error ? h("p", { role: "status" }, "The restore was cancelled.") : null);
    if (ended) {
      announce(`Restore job ${job.status.toLowerCase()}.`);
      return;
    }
    await sleep(pollMs, signal);
  }
}
