/**
 * `#/jobs/{id}`: one job (GET /api/jobs/{id}) as it runs: its phases as a timeline, the bytes moved with a progress
 * bar and the time left (backups, restores and drills), its error with the recommended action, and Cancel for an
 * Operator. Polled every 2 s until it ends; the route's signal stops the polling when the user moves on.
 */
import type { RecoveryPoint } from "../../shared/domain";
import type { JobView } from "../../shared/jobs/jobView";
import { api, ApiError, segment } from "../api";
import { h, replaceChildren } from "../dom";
import { can } from "../roles";
import { href, type View } from "../router";
import { announce, errorPanel, formatBytes, formatTime, pageHeading } from "../ui";
import { factList } from "./facts";
import { estimateProgress, formatSeconds, phaseLabel, phaseTimeline } from "./jobPhases";
import { statusBadge } from "./jobStatus";

const pollMs = 2_000;
const finished = (job: JobView) => job.status === "Succeeded" || job.status === "Failed" || job.status === "Cancelled";

/**
 * What the job's bytes count towards: a restore or drill reads its point (its `sizeBytes`); a backup writes about
 * as much as the instance's newest earlier point held, or, for a first backup, at most about the database's size
 * (`expectedBytes`, set once it uploads). Undefined when neither is known: the page then shows the bytes alone.
 */
async function estimatedTotal(job: JobView): Promise<number | undefined> {
  if (job.operation === "Retention") return undefined;
  const points = `backupInstances/${segment(job.instanceName)}/recoveryPoints`;
  if (job.operation !== "Backup") {
    if (!job.recoveryPointId) return undefined;
    return (await api<RecoveryPoint>("GET", `${points}/${segment(job.recoveryPointId)}`)).sizeBytes;
  }
  const { value } = await api<{ value: RecoveryPoint[] }>("GET", points);
  return value.find((rp) => rp.id !== job.recoveryPointId && rp.status !== "Deleted" && rp.sizeBytes > 0)?.sizeBytes ?? job.expectedBytes;
}

function timeline(job: JobView): HTMLElement {
  const words = { done: "done", current: "in progress", failed: job.status === "Cancelled" ? "cancelled here" : "failed here", pending: "not yet" };
  return h(
    "ol",
    { class: "phases", "aria-label": "Phases" },
    phaseTimeline(job).map((step) =>
      h("li", { class: `phase ${step.state}`, "aria-current": step.state === "current" ? "step" : null }, phaseLabel(step.phase), h("span", { class: "vh" }, `: ${words[step.state]}`)),
    ),
  );
}

function progress(job: JobView, total: number | undefined): HTMLElement | null {
  if (job.operation === "Retention") return null;
  const moved = formatBytes(job.bytes);
  // A backup that succeeded wrote its whole point: its bytes are the total.
  if (job.status === "Succeeded") total = Math.max(job.bytes, 1);
  if (total === undefined) return h("p", { class: "progress-text" }, `${moved} so far (no total to estimate from yet)`);
  const estimate = estimateProgress(job, total);
  const left = estimate.secondsLeft !== undefined ? `, about ${formatSeconds(estimate.secondsLeft)} left` : "";
  return h(
    "div",
    { class: "job-progress" },
    h("label", { for: "job-progress" }, "Progress"),
    " ",
    h("progress", { id: "job-progress", max: 100, value: estimate.percent }, `${estimate.percent}%`),
    " ",
    h("span", { class: "progress-text" }, `${estimate.percent}% (${moved} of about ${formatBytes(total)})${left}`),
  );
}

function facts(job: JobView): HTMLElement {
  return factList(
    ["Status", statusBadge(job.status)],
    ["Operation", `${job.operation} (${job.trigger === "OnDemand" ? "on demand" : "scheduled"})`],
    ["Instance", job.instanceName === "*" ? "every instance" : h("a", { href: href("/instances/{name}", { name: job.instanceName }) }, job.instanceName)],
    ["Started", formatTime(job.startTime)],
    job.endTime ? ["Ended", formatTime(job.endTime)] : null,
    ["Duration", formatSeconds(job.durationSeconds)],
    job.recoveryPointId ? ["Recovery point", job.recoveryPointId] : null,
  );
}

function jobError(job: JobView): HTMLElement | null {
  if (!job.error) return null;
  return errorPanel(new ApiError(0, job.error.code, job.error.message, job.error.recommendedAction), job.status === "Cancelled" ? "The job was cancelled" : "The job failed");
}

export const jobView: View = {
  path: "/jobs/{id}",
  title: (params) => `Job ${params.id ?? ""}`,
  async render(main, params, signal) {
    const id = params.id ?? "";
    const route = `jobs/${segment(id)}`;
    const body = h("div", { class: "job-body" });
    const actions = h("p", {});
    const feedback = h("div", {});
    main.append(pageHeading(`Job ${id}`), h("p", {}, h("a", { href: "#/jobs" }, "All jobs")), actions, feedback, body);

    let job = await api<JobView>("GET", route);
    // Only an estimate: if the point cannot be read, the bytes are shown without a percentage (the job still is).
    const total = await estimatedTotal(job).catch(() => undefined);
    const cancel = async () => {
      if (!confirm(`Cancel job ${id}? Its partial data is removed.`)) return;
      try {
        await api("POST", `${route}/cancel`);
        announce("Cancel requested");
        feedback.replaceChildren(h("p", { role: "status" }, "Cancel requested: the job stops and removes its partial data."));
      } catch (err) {
        feedback.replaceChildren(errorPanel(err));
      }
    };
    const show = () => {
      replaceChildren(body, h("section", { "aria-label": "Job" }, facts(job), h("h2", {}, "Phases"), timeline(job), progress(job, total ?? job.expectedBytes), jobError(job)));
      actions.replaceChildren();
      if (!finished(job) && can("Backup.Operator")) actions.append(h("button", { type: "button", class: "action danger", onclick: () => void cancel() }, "Cancel job"));
    };
    show();
    while (!finished(job) && !signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      if (signal.aborted) return;
      try {
        job = await api<JobView>("GET", route);
      } catch (err) {
        feedback.replaceChildren(errorPanel(err, "The job could not be read"));
        continue;
      }
      if (signal.aborted) return;
      show();
      if (finished(job)) announce(`Job ${job.status === "InProgress" ? "running" : job.status}`);
    }
  },
};
