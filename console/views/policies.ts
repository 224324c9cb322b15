/**
 * Policies (issue 27, item 2): `#/policies` lists them with their schedule, zone, retention and how many
 * instances use each; `#/policies/new` and `#/policies/{name}` open the editor (policyEditor.ts), read-only
 * without Backup.Admin.
 */
import type { BackupInstance, BackupPolicy } from "../../shared/domain";
import { api, segment } from "../api";
import { append, h } from "../dom";
import { can } from "../roles";
import { href, type View } from "../router";
import { pageHeading } from "../ui";
import { renderPolicyEditor } from "./policyEditor";
import { describeInterval, describeRetention } from "./policyText";

async function renderList(main: HTMLElement, signal: AbortSignal): Promise<void> {
  const [policies, instances] = await Promise.all([
    api<{ value: BackupPolicy[] }>("GET", "backupPolicies"),
    api<{ value: BackupInstance[] }>("GET", "backupInstances"),
  ]);
  if (signal.aborted) return;
  const users = new Map<string, number>();
  for (const instance of instances.value) users.set(instance.policyName, (users.get(instance.policyName) ?? 0) + 1);
  const rows = [...policies.value]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((policy) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, h("a", { href: href("/policies/{name}", { name: policy.name }) }, policy.name)),
        h("td", {}, policy.datasourceType),
        h("td", {}, h("ul", { class: "plain" }, policy.schedule.repeatingIntervals.map((interval) => h("li", {}, describeInterval(interval))))),
        h("td", {}, policy.schedule.timeZone),
        h("td", {}, describeRetention(policy.retention)),
        h("td", { class: "number" }, users.get(policy.name) ?? 0),
      ),
    );
  append(main, [
    pageHeading("Policies"),
    can("Backup.Admin") ? h("p", {}, h("a", { href: href("/policies/new"), class: "button-link" }, "New policy")) : null,
    rows.length === 0
      ? h("p", {}, "There are no backup policies yet.")
      : h(
          "table",
          { class: "policies" },
          h("caption", {}, `${rows.length} backup ${rows.length === 1 ? "policy" : "policies"}`),
          h("thead", {}, h("tr", {}, ["Name", "Type", "Schedule", "Time zone", "Retention", "Instances"].map((text) => h("th", { scope: "col" }, text)))),
          h("tbody", {}, rows),
        ),
  ]);
}

export const policyViews: View[] = [
  { path: "/policies", title: () => "Policies", render: (main, _params, signal) => renderList(main, signal), nav: { label: "Policies", role: "Backup.Reader", order: 40 } },
  { path: "/policies/new", title: () => "New policy", render: (main, _params, signal) => renderPolicyEditor(main, undefined, signal) },
  {
    path: "/policies/{name}",
    title: (params) => `Policy ${params.name ?? ""}`,
    render: async (main, params, signal) => {
      const policy = await api<BackupPolicy>("GET", `backupPolicies/${segment(params.name ?? "")}`);
      if (!signal.aborted) renderPolicyEditor(main, policy, signal);
    },
  },
];
