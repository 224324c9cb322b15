/**
 * `#/jobs`: the job list (GET /api/jobs), filtered by instance, operation, status and start time through the
 * route's query (`#/jobs?instance=sales&status=Failed`), so a filtered list can be linked; further pages through
 * the answer's `nextLink`, appended below.
 */
import type { JobOperation, JobStatus } from "../../shared/domain";
import type { JobView } from "../../shared/jobs/jobView";
import { api } from "../api";
import { h } from "../dom";
import { hashQuery, href, type View } from "../router";
import { announce, errorPanel, formatBytes, formatTime, pageHeading } from "../ui";
import { statusBadge } from "./jobStatus";

interface JobPage {
  value: JobView[];
  nextLink?: string;
}

const operations: readonly JobOperation[] = ["Backup", "Restore", "Verify", "Retention"];
const statuses: readonly JobStatus[] = ["Queued", "InProgress", "Succeeded", "Failed", "Cancelled"];

/** The filters as the route's query holds them; times are UTC, as the page shows every time. */
interface Filters {
  instance: string;
  operation: string;
  status: string;
  from: string;
  to: string;
}

const filterNames: readonly (keyof Filters)[] = ["instance", "operation", "status", "from", "to"];

/** `2026-12-07T10:00` (a datetime-local value, read as UTC) → `2026-12-07T10:00:00Z`. */
const utc = (local: string) => (local ? `${local}:00Z` : undefined);

function apiQuery(filters: Filters): Record<string, string | undefined> {
  return { instanceName: filters.instance || undefined, operation: filters.operation || undefined, status: filters.status || undefined, from: utc(filters.from), to: utc(filters.to), top: "25" };
}

function choice(id: string, label: string, values: readonly string[], selected: string): HTMLElement[] {
  return [
    h("label", { for: id }, label),
    h("select", { id, name: id }, h("option", { value: "" }, "Any"), values.map((value) => h("option", { value, selected: value === selected }, value))),
  ];
}

function filterForm(filters: Filters): HTMLFormElement {
  const form = h(
    "form",
    { class: "form-grid job-filters", "aria-label": "Filter jobs" },
    h("label", { for: "instance" }, "Instance"),
    h("input", { id: "instance", name: "instance", value: filters.instance, placeholder: "any instance", autocomplete: "off" }),
    choice("operation", "Operation", operations, filters.operation),
    choice("status", "Status", statuses, filters.status),
    h("label", { for: "from" }, "Started from (UTC)"),
    h("input", { id: "from", name: "from", type: "datetime-local", value: filters.from }),
    h("label", { for: "to" }, "Started before (UTC)"),
    h("input", { id: "to", name: "to", type: "datetime-local", value: filters.to }),
    h("span", {}),
    h("div", {}, h("button", { type: "submit", class: "action primary" }, "Apply filters"), " ", h("a", { href: "#/jobs" }, "Clear")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    location.hash = href("/jobs", {}, Object.fromEntries(filterNames.map((name) => [name, String(data.get(name) ?? "")])));
  });
  return form;
}

function jobRow(job: JobView): HTMLTableRowElement {
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, h("a", { href: href("/jobs/{id}", { id: job.id }) }, job.id)),
    h("td", {}, job.operation),
    h("td", {}, job.instanceName === "*" ? "every instance" : h("a", { href: href("/instances/{name}", { name: job.instanceName }) }, job.instanceName)),
    h("td", {}, statusBadge(job.status)),
    h("td", {}, job.phase),
    h("td", { class: "nowrap" }, formatTime(job.startTime)),
    h("td", { class: "num" }, `${job.durationSeconds} s`),
    h("td", { class: "num" }, formatBytes(job.bytes)),
  );
}

export const jobsView: View = {
  path: "/jobs",
  title: () => "Jobs",
  nav: { label: "Jobs", role: "Backup.Reader", order: 50 },
  async render(main, _params, signal) {
    const query = hashQuery();
    const filters = Object.fromEntries(filterNames.map((name) => [name, query.get(name) ?? ""])) as unknown as Filters;
    const body = h("tbody", {});
    const more = h("p", {});
    const table = h(
      "table",
      { class: "jobs" },
      h("caption", {}, "Jobs, newest first"),
      h("thead", {}, h("tr", {}, ["Job", "Operation", "Instance", "Status", "Phase", "Started", "Duration", "Bytes"].map((title) => h("th", { scope: "col" }, title)))),
      body,
    );
    main.append(pageHeading("Jobs"), filterForm(filters), table, more);

    const load = async (page: Record<string, string | undefined>) => {
      const answer = await api<JobPage>("GET", "jobs", { query: page });
      if (signal.aborted) return;
      body.append(...answer.value.map(jobRow));
      if (body.childElementCount === 0) body.append(h("tr", {}, h("td", { colspan: 8 }, "No job matches these filters.")));
      more.replaceChildren();
      if (answer.nextLink) {
        // The link repeats the filters and adds the cursor: the same route, its query as given.
        const next = Object.fromEntries(new URL(answer.nextLink, location.origin).searchParams);
        more.append(
          h("button", {
            type: "button",
            class: "action",
            onclick: () => {
              load(next).then(
                () => announce("More jobs shown"),
                (err: unknown) => more.replaceChildren(errorPanel(err)),
              );
            },
          }, "Show more jobs"),
        );
      }
    };
    await load(apiQuery(filters));
  },
};
