/**
 * The restore wizard (`#/instances/{name}/restore`, optionally `?point=<rpId>`): a recovery point, a target, part of
 * the point, then the pre-flight and the restore, followed to its end. Backup.Operator, as POST .../restore is
 * (shared/auth/roles.ts). Every request is one a client could send (docs/api.md); the API still decides, and its
 * refusals are shown with their details.
 */
import type { RecoveryPoint } from "../../shared/domain";
import { api, segment } from "../api";
import { h, replaceChildren } from "../dom";
import { can } from "../roles";
import { hashQuery, type View } from "../router";
import { errorPanel, formatTime, pageHeading } from "../ui";
import { pointLabel, pointPicker, restorablePoints } from "./restore/pointPicker";
import {
  dumpTargetKinds, emptyChoice, hasPreflight, needsSubset, restoreBody, serverPointTargetKinds, subsetProblem, takesSubset,
  type SubsetPick, type TargetChoice,
} from "./restore/requestBody";
import { findingsList, followJob, type DryRunAnswer } from "./restore/runRestore";
import { tablePicker, type PointContents } from "./restore/tablePicker";
import { targetForm } from "./restore/targetForm";

const stepNames = ["Recovery point", "Target", "Tables", "Pre-flight and start"] as const;

interface Wizard {
  instance: string;
  points: RecoveryPoint[];
  point?: RecoveryPoint;
  choice: TargetChoice;
  subset: SubsetPick;
  contents?: { pointId: string; answer: Promise<PointContents> };
}

const isServerPoint = (rp: RecoveryPoint | undefined) => rp?.format === "flexibleServer-ltr";

/** The point's contents, read once per point (a Flexible Server point's archive is read whole: slow). */
function contentsOf(wizard: Wizard, rp: RecoveryPoint): Promise<PointContents> {
  if (wizard.contents?.pointId !== rp.id) {
    const answer = api<PointContents>("GET", `backupInstances/${segment(wizard.instance)}/recoveryPoints/${segment(rp.id)}/contents`);
    const entry = { pointId: rp.id, answer };
    wizard.contents = entry;
    // A failed read is not kept: coming back to the step reads again.
    answer.catch(() => {
      if (wizard.contents === entry) wizard.contents = undefined;
    });
  }
  return wizard.contents.answer;
}

async function render(main: HTMLElement, params: Record<string, string>, signal: AbortSignal): Promise<void> {
  const instance = params.name!;
  main.append(pageHeading(`Restore ${instance}`));
  if (!can("Backup.Operator")) {
    main.append(h("p", {}, "Restoring needs the Backup.Operator role."));
    return;
  }
  const listed = await api<{ value: RecoveryPoint[] }>("GET", `backupInstances/${segment(instance)}/recoveryPoints`);
  if (signal.aborted) return;
  const points = restorablePoints(listed.value);
  const wanted = hashQuery().get("point");
  const wizard: Wizard = { instance, points, point: points.find((rp) => rp.id === wanted), choice: emptyChoice("newDatabase"), subset: { tables: [], schemas: [] } };

  const progress = h("ol", { class: "wizard-steps", "aria-label": "Restore steps" });
  const stepHost = h("section", { class: "wizard-step", "aria-labelledby": "wizard-step-title" });
  main.append(
    ...(wanted && !wizard.point ? [errorPanel(new Error(`Recovery point ${wanted} is not one this instance can restore (unknown, deleted, or still being recorded).`), "Point not found")] : []),
    progress,
    stepHost,
  );

  const show = (step: number) => {
    replaceChildren(progress, stepNames.map((name, i) => h("li", { "aria-current": i === step ? "step" : null, class: i < step ? "done" : "" }, name)));
    const heading = h("h2", { id: "wizard-step-title", tabindex: "-1" }, `Step ${step + 1} of ${stepNames.length}: ${stepNames[step]}`);
    const body = h("div", {});
    const actions = h("div", { class: "wizard-actions" });
    replaceChildren(stepHost, heading, body, actions);
    heading.focus();
    // A step that reads (the point's contents) shows a failure in place, as every refusal is shown.
    Promise.resolve([pointStep, targetStep, subsetStep, startStep][step]!(body, actions, show)).catch((err: unknown) => {
      if (!signal.aborted) replaceChildren(body, errorPanel(err));
    });
  };

  type Step = (body: HTMLElement, actions: HTMLElement, show: (step: number) => void) => void | Promise<void>;
  const button = (label: string, onclick: () => void, primary = false, disabled = false) =>
    h("button", { type: "button", class: `action${primary ? " primary" : ""}`, disabled, onclick }, label);

  const pointStep: Step = (body, actions, go) => {
    const next = button("Next: target", () => go(1), true, !wizard.point);
    pointPicker(body, wizard.points, wizard.point, (rp) => {
      if (rp.id !== wizard.point?.id) wizard.subset = { tables: [], schemas: [] };
      wizard.point = rp;
      next.disabled = false;
    });
    replaceChildren(actions, next);
  };

  const targetStep: Step = async (body, actions, go) => {
    const rp = wizard.point!;
    const kinds = isServerPoint(rp) ? serverPointTargetKinds : dumpTargetKinds;
    if (!kinds.includes(wizard.choice.kind)) wizard.choice.kind = kinds[0]!;
    replaceChildren(body, h("p", {}, "Recovery point ", h("strong", {}, pointLabel(rp))));
    replaceChildren(actions, button("Back", () => go(0)));
    if (isServerPoint(rp)) {
      body.append(h("p", { role: "status" }, "Reading the point's databases…"));
      const contents = await contentsOf(wizard, rp);
      if (signal.aborted) return;
      const names = contents.databases.map((db) => db.database);
      if (wizard.choice.serverDatabases.map((d) => d.name).join("\u0000") !== names.join("\u0000")) {
        wizard.choice.serverDatabases = names.map((name) => ({ name, selected: true, restoreAs: name }));
      }
      body.lastElementChild?.remove();
    }
    const formHost = h("div", {});
    body.append(formHost);
    const complete = targetForm(formHost, kinds, wizard.choice);
    actions.append(" ", button("Next: tables", () => complete() && go(2), true));
  };

  const subsetStep: Step = async (body, actions, go) => {
    const rp = wizard.point!;
    const kind = wizard.choice.kind;
    const problem = h("div", { role: "alert" });
    replaceChildren(actions, button("Back", () => go(1)), " ", button("Next: pre-flight", () => {
      const why = subsetProblem(kind, wizard.subset, isServerPoint(rp));
      if (why) replaceChildren(problem, h("p", { class: "problem" }, why));
      else go(3);
    }, true), problem);
    if (!takesSubset(kind)) {
      wizard.subset = { tables: [], schemas: [] };
      replaceChildren(body, h("p", {}, "An export as files holds the whole point: there is nothing to pick."));
      return;
    }
    replaceChildren(body,
      h("p", {}, needsSubset(kind) ? "Pick the tables to restore." : "Optionally pick part of the point; pick nothing to restore all of it."),
      h("p", { role: "status" }, "Reading the point's contents…"));
    const contents = await contentsOf(wizard, rp);
    if (signal.aborted) return;
    body.lastElementChild?.remove();
    const picker = h("div", { class: "subset" });
    body.append(picker);
    const databases = kind === "server" ? wizard.choice.serverDatabases.filter((d) => d.selected).map((d) => d.name) : undefined;
    tablePicker(picker, contents, databases, wizard.subset, { schemas: kind !== "csv" });
  };

  const startStep: Step = (body, actions, go) => {
    const rp = wizard.point!;
    const kind = wizard.choice.kind;
    const serverPoint = isServerPoint(rp);
    const request = restoreBody(rp.id, wizard.choice, wizard.subset, { serverPoint, dryRun: false });
    const result = h("div", { class: "preflight-result" });
    const start = button("Start the restore", () => void begin(), true, hasPreflight(kind));
    const check = button("Run the pre-flight again", () => void preflight());
    replaceChildren(body,
      h("p", {}, "Recovery point ", h("strong", {}, formatTime(rp.time)), ` (${rp.id})`),
      h("details", {}, h("summary", {}, "The request"), h("pre", {}, JSON.stringify(request, null, 2))),
      hasPreflight(kind) ? null : h("p", {}, "An export has no pre-flight: the job checks the container before it writes anything."),
      result);
    replaceChildren(actions, button("Back", () => go(2)), " ", hasPreflight(kind) ? [check, " "] : null, start);

    const preflight = async () => {
      check.disabled = true;
      start.disabled = true;
      replaceChildren(result, h("p", { role: "status" }, "Running the pre-flight…"));
      try {
        const answer = await api<DryRunAnswer>("POST", `backupInstances/${segment(wizard.instance)}/restore`, { body: restoreBody(rp.id, wizard.choice, wizard.subset, { serverPoint, dryRun: true }) });
        if (signal.aborted) return;
        replaceChildren(result, findingsList(answer), answer.passed ? null : h("p", {}, "Fix the fatal findings (go back to the target), then run the pre-flight again."));
        start.disabled = !answer.passed;
      } catch (err) {
        if (!signal.aborted) replaceChildren(result, errorPanel(err, "The pre-flight was refused"));
      }
      check.disabled = false;
    };

    const begin = async () => {
      start.disabled = true;
      check.disabled = true;
      try {
        const { jobId } = await api<{ jobId: string }>("POST", `backupInstances/${segment(wizard.instance)}/restore`, { body: request });
        if (signal.aborted) return;
        replaceChildren(actions);
        await followJob(result, jobId, signal);
      } catch (err) {
        if (signal.aborted) return;
        replaceChildren(result, errorPanel(err, "The restore was refused"));
        start.disabled = false;
        check.disabled = false;
      }
    };

    if (hasPreflight(kind)) void preflight();
  };

  show(0);
}

export const restoreView: View = {
  path: "/instances/{name}/restore",
  title: (params) => `Restore ${params.name ?? ""}`,
  render,
};
