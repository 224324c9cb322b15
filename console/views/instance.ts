/**
 * `#/instances/{name}`: one instance (GET /api/backupInstances/{name}: protection, policy, health) and its
 * recovery points (GET .../recoveryPoints) on a month calendar and in a list, each with its contents on demand and
 * the actions the caller's roles allow: restore and verify (Operator), delete and undelete (Admin).
 */
import type { BackupInstance, RecoveryPoint } from "../../shared/domain";
import type { InstanceHealth } from "../../shared/rpo/rpo";
import { api, segment } from "../api";
import { h, replaceChildren, type Child } from "../dom";
import { can } from "../roles";
import { href, type View } from "../router";
import { announce, errorPanel, formatBytes, formatTime, pageHeading } from "../ui";
import { dayOf, pointCalendar } from "./pointCalendar";
import { factList } from "./facts";
import { contentsView, type PointContents } from "./pointContents";

interface InstanceAnswer extends BackupInstance {
  lastBackup: { time: string; recoveryPointId: string; sizeBytes: number } | null;
  nextScheduledBackup: string | null;
  health: InstanceHealth | null;
}

function datasourceLabel(instance: BackupInstance): string {
  const source = instance.datasource;
  return source.type === "database" ? `Database ${source.database} on ${source.host}:${source.port}` : `Flexible Server ${source.resourceId.split("/").at(-1) ?? ""}`;
}

function summary(instance: InstanceAnswer): HTMLElement {
  const health = instance.health;
  return factList(
    ["Source", datasourceLabel(instance)],
    ["Protection", instance.protectionState === "ProtectionConfigured" ? "Protected" : "Stopped"],
    ["Policy", instance.policyName],
    ["Health", health ? `${health.state === "AtRisk" ? "At risk" : health.state} (RPO ${health.rpo}, breached ${health.state === "Breached" ? "since" : "at"} ${formatTime(health.breachAt)})` : "No RPO"],
    ["Last backup", instance.lastBackup ? `${formatTime(instance.lastBackup.time)}, ${formatBytes(instance.lastBackup.sizeBytes)}` : "none"],
    ["Next backup", instance.nextScheduledBackup ? formatTime(instance.nextScheduledBackup) : "none scheduled"],
    ["Jobs", h("a", { href: href("/jobs", {}, { instance: instance.name }) }, `Jobs of ${instance.name}`)],
  );
}

function statusText(rp: RecoveryPoint): Child {
  if (rp.status === "SoftDeleted") return [h("span", { class: "point-status softdeleted" }, "Soft-deleted"), h("br", {}), h("span", { class: "sub" }, `purged after ${formatTime(rp.purgeAfter ?? "")}`)];
  if (rp.recording) return h("span", { class: "point-status recording" }, "Being recorded");
  return h("span", { class: `point-status ${rp.status.toLowerCase()}` }, rp.status);
}

function verificationText(rp: RecoveryPoint): Child {
  const verification = rp.verification;
  if (!verification) return h("span", { class: "muted" }, "Not verified");
  const passed = verification.outcome === "Succeeded";
  return [
    h("span", { class: `verdict ${passed ? "passed" : "failed"}` }, h("span", { "aria-hidden": "true" }, passed ? "✓ " : "✗ "), passed ? "Passed" : "Failed"),
    h("br", {}),
    h("span", { class: "sub" }, formatTime(verification.verifiedAt)),
    verification.error ? [h("br", {}), h("code", {}, verification.error.code)] : null,
  ];
}

const immutabilityText = (rp: RecoveryPoint) => (rp.immutableUntil ? `${rp.immutabilityMode ?? "Unlocked"} until ${formatTime(rp.immutableUntil)}` : "No");

export const instanceView: View = {
  path: "/instances/{name}",
  title: (params) => `Instance ${params.name ?? ""}`,
  async render(main, params, signal) {
    const name = params.name ?? "";
    const route = `backupInstances/${segment(name)}`;
    const instance = await api<InstanceAnswer>("GET", route);
    if (signal.aborted) return;
    const feedback = h("div", { class: "feedback" });
    const calendarSlot = h("div", {});
    const listSlot = h("div", {});
    let points: RecoveryPoint[] = [];
    let day: string | undefined;

    const pointRoute = (rp: RecoveryPoint) => `${route}/recoveryPoints/${segment(rp.id)}`;
    const act = async (what: string, run: () => Promise<Child>) => {
      feedback.replaceChildren();
      try {
        const done = await run();
        feedback.replaceChildren(h("p", { role: "status" }, done));
        announce(what);
        await reload();
      } catch (err) {
        feedback.replaceChildren(errorPanel(err));
      }
    };
    const actions = (rp: RecoveryPoint): Child[] => {
      const label = (verb: string) => `${verb} recovery point ${rp.id}`;
      const usable = rp.status !== "Deleted" && !rp.deletionStartedAt && !rp.recording;
      const out: Child[] = [];
      if (can("Backup.Operator") && usable) {
        out.push(
          h("button", { type: "button", class: "action", "aria-expanded": "false", "aria-label": label("Contents of"), onclick: (event: Event) => void toggleContents(rp, event.currentTarget as HTMLButtonElement) }, "Contents"),
          h("a", { class: "action", href: href("/instances/{name}/restore", { name }, { point: rp.id }), "aria-label": label("Restore") }, "Restore"),
          h("button", {
            type: "button",
            class: "action",
            "aria-label": label("Verify"),
            onclick: () =>
              void act("Verify started", async () => {
                const { jobId } = await api<{ jobId: string }>("POST", `${route}/verify`, { body: { recoveryPointId: rp.id } });
                return ["Restore drill started: ", h("a", { href: href("/jobs/{id}", { id: jobId }) }, jobId)];
              }),
          }, "Verify"),
        );
      }
      if (can("Backup.Admin") && rp.status === "Available" && usable) {
        out.push(
          h("button", {
            type: "button",
            class: "action danger",
            "aria-label": label("Delete"),
            onclick: () => {
              if (!confirm(`Delete the recovery point of ${formatTime(rp.time)}? It stays restorable, and can be undeleted, until it is purged.`)) return;
              void act("Recovery point deleted", async () => {
                await api("DELETE", pointRoute(rp));
                return `Recovery point ${rp.id} deleted: soft-deleted until it is purged.`;
              });
            },
          }, "Delete"),
        );
      }
      if (can("Backup.Admin") && rp.status === "SoftDeleted" && !rp.deletionStartedAt) {
        out.push(
          h("button", {
            type: "button",
            class: "action",
            "aria-label": label("Undelete"),
            onclick: () =>
              void act("Recovery point undeleted", async () => {
                await api("POST", `${pointRoute(rp)}/undelete`);
                return `Recovery point ${rp.id} is available again.`;
              }),
          }, "Undelete"),
        );
      }
      return out;
    };

    const toggleContents = async (rp: RecoveryPoint, button: HTMLButtonElement) => {
      const row = button.closest("tr");
      const open = row?.nextElementSibling?.classList.contains("contents-row") ? row.nextElementSibling : null;
      if (open) {
        open.remove();
        button.setAttribute("aria-expanded", "false");
        return;
      }
      const cell = h("td", { colspan: 8 }, h("p", { role: "status" }, "Reading the point's archive…"));
      row?.after(h("tr", { class: "contents-row" }, cell));
      button.setAttribute("aria-expanded", "true");
      try {
        cell.replaceChildren(contentsView(await api<PointContents>("GET", `${pointRoute(rp)}/contents`)));
      } catch (err) {
        cell.replaceChildren(errorPanel(err));
      }
    };

    const list = () => {
      const shown = day ? points.filter((rp) => dayOf(rp.time) === day) : points;
      const heading = ["Time", "Tag", "Size", "Expires", "Immutable", "Status", "Verification", "Actions"];
      return [
        day ? h("p", {}, `Points of ${day} (UTC). `, h("button", { type: "button", class: "action", onclick: () => pick(undefined) }, "Show all points")) : null,
        h(
          "table",
          { class: "points" },
          h("caption", {}, day ? `Recovery points of ${day}` : "Recovery points, newest first"),
          h("thead", {}, h("tr", {}, heading.map((title) => h("th", { scope: "col" }, title)))),
          h(
            "tbody",
            {},
            shown.length === 0
              ? h("tr", {}, h("td", { colspan: 8 }, "No recovery points."))
              : shown.map((rp) =>
                  h(
                    "tr",
                    { "data-point": rp.id },
                    h("th", { scope: "row" }, formatTime(rp.time), h("br", {}), h("span", { class: "sub" }, rp.id)),
                    h("td", {}, rp.tag),
                    h("td", { class: "num" }, formatBytes(rp.sizeBytes)),
                    h("td", { class: "nowrap" }, formatTime(rp.expiresAt)),
                    h("td", {}, immutabilityText(rp)),
                    h("td", {}, statusText(rp)),
                    h("td", {}, verificationText(rp)),
                    h("td", { class: "point-actions" }, actions(rp)),
                  ),
                ),
          ),
        ),
      ];
    };

    const draw = () => {
      const counts = new Map<string, number>();
      for (const rp of points) counts.set(dayOf(rp.time), (counts.get(dayOf(rp.time)) ?? 0) + 1);
      calendarSlot.replaceChildren(pointCalendar({ counts, ...(day ? { selected: day } : {}), onPick: pick }));
      replaceChildren(listSlot, list());
    };
    const pick = (chosen: string | undefined) => {
      day = chosen;
      draw();
      announce(chosen ? `Showing the points of ${chosen}` : "Showing all points");
      calendarSlot.querySelector<HTMLButtonElement>("button.day[tabindex='0']")?.focus();
    };
    const reload = async () => {
      points = (await api<{ value: RecoveryPoint[] }>("GET", `${route}/recoveryPoints`)).value;
      if (!signal.aborted) draw();
    };

    main.append(
      pageHeading(`Instance ${name}`),
      h("section", { "aria-labelledby": "instance-heading" }, h("h2", { id: "instance-heading" }, "Protection"), summary(instance)),
      h("section", { "aria-labelledby": "points-heading" }, h("h2", { id: "points-heading" }, "Recovery points"), feedback, h("div", { class: "points-layout" }, calendarSlot, listSlot)),
    );
    await reload();
  },
};
