/**
 * The policy editor (`#/policies/new`, `#/policies/{name}`): every field PUT takes (docs/api.md), the preview of
 * what the policy would do (policyPreview.ts) refreshed as it is edited, and Save (PUT). Without Backup.Admin the
 * form is read-only and has no Save; the preview still shows. A refusal lists its details in the error panel and
 * beside the fields they name.
 */
import { compressionLevels } from "../../shared/compression/compressionSettings";
import { criteriaOfTag, type BackupPolicy, type RetentionRule } from "../../shared/domain";
import { hourlyPeriods } from "../../shared/time/repeatingInterval";
import type { PolicyPreview } from "../../shared/policies/preview";
import { api, ApiError, segment } from "../api";
import { h, replaceChildren, type Child } from "../dom";
import { can } from "../roles";
import { href } from "../router";
import { announce, errorPanel, pageHeading } from "../ui";
import { previewContent } from "./policyPreview";
import { describeInterval } from "./policyText";

type PolicyBody = Omit<BackupPolicy, "name">;
type Control = HTMLInputElement | HTMLSelectElement;

const periods = ["P1D", "P1W", ...hourlyPeriods.map((hours) => `PT${hours}H`)];
const periodNames: Record<string, string> = { P1D: "Daily", P1W: "Weekly" };
const ruleTags = Object.keys(criteriaOfTag) as RetentionRule["tag"][];
const ruleHints: Record<RetentionRule["tag"], string> = {
  Weekly: "the first backup of each ISO week (Monday start) in the policy's zone",
  Monthly: "the first backup of each month in the policy's zone",
  Yearly: "the first backup of each year in the policy's zone",
};

const newPolicy: PolicyBody = {
  datasourceType: "database",
  schedule: { repeatingIntervals: [`R/${new Date().toISOString().slice(0, 10)}T02:30:00/P1D`], timeZone: "UTC" },
  retention: { default: { duration: "P30D" }, rules: [] },
};

let ids = 0;
const nextId = (stem: string) => `policy-${stem}-${++ids}`;

/** A labelled control with an optional hint, the hint tied to it for screen readers. */
function field(label: string, control: Control, hint?: string): HTMLElement {
  control.id ||= nextId("field");
  const hintId = hint ? `${control.id}-hint` : undefined;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), h("div", {}, control, hint ? h("p", { class: "hint", id: hintId }, hint) : null));
}

const input = (value: string, attributes: Record<string, string | boolean> = {}) => h("input", { type: "text", value, ...attributes });
const select = (value: string, options: [string, string][]) => {
  const element = h("select", {}, options.map(([optionValue, text]) => h("option", { value: optionValue }, text)));
  element.value = value;
  return element;
};

/** One schedule interval as a row: start date and time (wall clock in the policy's zone) and period. */
interface IntervalRow {
  element: HTMLElement;
  date: HTMLInputElement;
  time: HTMLInputElement;
  period: HTMLSelectElement;
  describe(): void;
}

const intervalPattern = /^R\/(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::(\d{2}))?[^/]*\/(.+)$/;

function intervalText(row: IntervalRow): string {
  const time = row.time.value.length === 5 ? `${row.time.value}:00` : row.time.value;
  return `R/${row.date.value}T${time}/${row.period.value}`;
}

function intervalRow(text: string, number: number, onRemove: (row: IntervalRow) => void): IntervalRow {
  const match = intervalPattern.exec(text);
  const [date, time, seconds, period] = match ? [match[1]!, match[2]!, match[3], match[4]!] : ["", "", undefined, "P1D"];
  const dateInput = h("input", { type: "date", value: date, required: true, id: nextId("date") });
  const timeInput = h("input", { type: "time", value: seconds && seconds !== "00" ? `${time}:${seconds}` : time, required: true, step: seconds && seconds !== "00" ? "1" : "60", id: nextId("time") });
  const periodSelect = select(period, periods.map((p) => [p, periodNames[p] ?? `Every ${p.slice(2, -1)} hour${p === "PT1H" ? "" : "s"}`]));
  periodSelect.id = nextId("period");
  const description = h("span", { class: "interval-description" });
  const element = h("fieldset", { class: "interval" });
  const row: IntervalRow = {
    element,
    date: dateInput,
    time: timeInput,
    period: periodSelect,
    describe: () => replaceChildren(description, describeInterval(intervalText(row))),
  };
  const remove = h("button", { type: "button", class: "action", onclick: () => onRemove(row) }, `Remove interval ${number}`);
  replaceChildren(
    element,
    h("legend", {}, `Interval ${number}`),
    h("label", { for: dateInput.id }, "Start date"),
    dateInput,
    h("label", { for: timeInput.id }, "Time"),
    timeInput,
    h("label", { for: periodSelect.id }, "Repeats"),
    periodSelect,
    description,
    remove,
  );
  row.describe();
  return row;
}

export function renderPolicyEditor(main: HTMLElement, policy: BackupPolicy | undefined, signal: AbortSignal): void {
  const editable = can("Backup.Admin");
  const initial: PolicyBody = policy ?? newPolicy;
  const nameInput = input(policy?.name ?? "", { required: true, pattern: "[a-z0-9][a-z0-9\\-]{2,62}", autocomplete: "off" });
  const datasourceType = select(initial.datasourceType, [
    ["database", "database (PostgreSQL databases, pg_dump)"],
    ["flexibleServer", "flexibleServer (Azure Flexible Server long-term retention)"],
  ]);

  // Schedule
  let rows: IntervalRow[] = [];
  const intervalList = h("div", { class: "intervals" });
  const redrawIntervals = () => {
    // Rebuilt from their values, so labels and legends number them 1, 2, 3 again after a removal.
    rows = rows.map((row, i) => intervalRow(intervalText(row), i + 1, removeRow));
    replaceChildren(intervalList, rows.map((row) => row.element));
  };
  const removeRow = (row: IntervalRow) => {
    rows = rows.filter((candidate) => candidate !== row);
    redrawIntervals();
    changed();
  };
  rows = initial.schedule.repeatingIntervals.map((text, i) => intervalRow(text, i + 1, removeRow));
  replaceChildren(intervalList, rows.map((row) => row.element));
  const addInterval = h(
    "button",
    {
      type: "button",
      class: "action",
      onclick: () => {
        const last = rows[rows.length - 1];
        rows.push(intervalRow(last ? intervalText(last) : newPolicy.schedule.repeatingIntervals[0]!, rows.length + 1, removeRow));
        redrawIntervals();
        changed();
      },
    },
    "Add interval",
  );
  const weekdays = h(
    "button",
    {
      type: "button",
      class: "action",
      onclick: () => {
        // Monday to Friday of the first interval's week, each weekly at its time.
        const first = rows[0] ? intervalText(rows[0]) : newPolicy.schedule.repeatingIntervals[0]!;
        const match = intervalPattern.exec(first);
        const start = new Date(`${match?.[1] ?? new Date().toISOString().slice(0, 10)}T00:00:00Z`);
        start.setUTCDate(start.getUTCDate() - ((start.getUTCDay() + 6) % 7));
        const time = rows[0]?.time.value || "02:30";
        rows = [0, 1, 2, 3, 4].map((offset, i) => {
          const day = new Date(start.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
          return intervalRow(`R/${day}T${time.length === 5 ? `${time}:00` : time}/P1W`, i + 1, removeRow);
        });
        redrawIntervals();
        changed();
      },
    },
    "Weekdays (Monday to Friday) at the first interval's time",
  );
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zoneList = h("datalist", { id: nextId("zones") }, ["UTC", ...zones].map((zone) => h("option", { value: zone })));
  const timeZone = input(initial.schedule.timeZone, { list: zoneList.id, required: true, autocomplete: "off", spellcheck: false });

  // Retention
  const defaultDuration = input(initial.retention.default.duration, { required: true });
  const rules = ruleTags.map((tag) => {
    const existing = initial.retention.rules.find((rule) => rule.tag === tag);
    const keep = h("input", { type: "checkbox", id: nextId(`keep-${tag}`), checked: existing !== undefined });
    const hintId = nextId(`rule-hint-${tag}`);
    const duration = input(existing?.duration ?? { Weekly: "P12W", Monthly: "P12M", Yearly: "P10Y" }[tag], { "aria-label": `${tag} retention duration`, "aria-describedby": hintId });
    const element = h(
      "div",
      { class: "field rule" },
      h("div", {}, keep, " ", h("label", { for: keep.id }, `Keep ${tag.toLowerCase()} points`)),
      h("div", {}, duration, h("p", { class: "hint", id: hintId }, `Tagged ${tag}: ${ruleHints[tag]}.`)),
    );
    return { tag, keep, duration, element };
  });

  // Compression, encryption, verification, RPO, notifications
  const algorithm = select(initial.compression?.algorithm ?? "", [
    ["", "Default (zstd, level 1)"],
    ["zstd", "zstd"],
    ["gzip", "gzip"],
    ["none", "none"],
  ]);
  const level = h("input", { type: "number", value: initial.compression?.level === undefined ? "" : String(initial.compression.level), min: 1, max: 19 });
  const fitLevel = () => {
    const range = algorithm.value === "zstd" || algorithm.value === "gzip" ? compressionLevels[algorithm.value] : undefined;
    level.disabled = !editable || range === undefined;
    if (range) (level.min = String(range.min), (level.max = String(range.max)));
  };
  algorithm.addEventListener("change", fitLevel);
  fitLevel();
  const keyRef = input(initial.encryption?.keyRef ?? "", { autocomplete: "off", spellcheck: false });
  const verification = input(initial.verification?.interval ?? "");
  const rpo = input(initial.rpo ?? "");
  const rpoGrace = input(initial.rpoGrace ?? "");
  const jobSucceeded = h("input", { type: "checkbox", id: nextId("job-succeeded"), checked: initial.notifications?.jobSucceeded === true });

  /** Everything the form holds, read into a PUT body, with the control each JSON path of a refusal points at. */
  const readForm = (): { body: PolicyBody; controls: Map<string, Control> } => {
    const controls = new Map<string, Control>([
      ["name", nameInput],
      ["datasourceType", datasourceType],
      ["schedule", timeZone],
      ["schedule.timeZone", timeZone],
      ["schedule.repeatingIntervals", rows[0]?.date ?? timeZone],
      ["retention", defaultDuration],
      ["retention.default", defaultDuration],
      ["encryption", keyRef],
      ["compression", algorithm],
      ["compression.level", level],
      ["verification", verification],
      ["rpo", rpo],
      ["rpoGrace", rpoGrace],
      ["notifications", jobSucceeded],
    ]);
    rows.forEach((row, i) => controls.set(`schedule.repeatingIntervals[${i}]`, row.date));
    const chosen = rules.filter((rule) => rule.keep.checked);
    chosen.forEach((rule, i) => controls.set(`retention.rules[${i}]`, rule.duration));
    const body: PolicyBody = {
      datasourceType: datasourceType.value as PolicyBody["datasourceType"],
      schedule: { repeatingIntervals: rows.map(intervalText), timeZone: timeZone.value.trim() },
      retention: { default: { duration: defaultDuration.value.trim() }, rules: chosen.map((rule) => ({ tag: rule.tag, criteria: criteriaOfTag[rule.tag], duration: rule.duration.value.trim() })) },
    };
    if (algorithm.value) {
      const chosenAlgorithm = algorithm.value as NonNullable<PolicyBody["compression"]>["algorithm"];
      body.compression = chosenAlgorithm !== "none" && level.value !== "" ? { algorithm: chosenAlgorithm, level: Number(level.value) } : { algorithm: chosenAlgorithm };
    }
    if (keyRef.value.trim()) body.encryption = { keyRef: keyRef.value.trim() };
    if (verification.value.trim()) body.verification = { interval: verification.value.trim() };
    if (rpo.value.trim()) body.rpo = rpo.value.trim();
    if (rpoGrace.value.trim()) body.rpoGrace = rpoGrace.value.trim();
    if (jobSucceeded.checked) body.notifications = { jobSucceeded: true };
    return { body, controls };
  };

  // Preview and refusals
  const previewRegion = h("div", { class: "policy-preview" });
  const previewStatus = h("p", { class: "muted", role: "status" });
  const saveResult = h("div", { role: "status" });
  let fieldErrors: HTMLElement[] = [];
  const clearFieldErrors = () => {
    for (const error of fieldErrors) error.remove();
    fieldErrors = [];
    for (const invalid of Array.from(form.querySelectorAll("[aria-invalid]"))) {
      invalid.removeAttribute("aria-invalid");
      const described = (invalid.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => !id.startsWith("policy-error-"));
      if (described.length > 0) invalid.setAttribute("aria-describedby", described.join(" "));
      else invalid.removeAttribute("aria-describedby");
    }
  };
  const showFieldErrors = (err: unknown, controls: Map<string, Control>) => {
    if (!(err instanceof ApiError)) return;
    for (const detail of err.details) {
      let path = detail.path;
      while (path && !controls.has(path)) path = path.replace(/(\.[^.[]*|\[\d+\])$/, "");
      const control = controls.get(path);
      if (!control) continue;
      const error = h("p", { class: "field-error", id: nextId("error") }, `${detail.path}: ${detail.message}`);
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), error.id].filter(Boolean).join(" "));
      control.insertAdjacentElement("afterend", error);
      fieldErrors.push(error);
    }
  };

  let sequence = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const refreshPreview = async () => {
    const mine = ++sequence;
    const { body, controls } = readForm();
    replaceChildren(previewStatus, "Computing the preview…");
    try {
      const preview = await api<PolicyPreview>("POST", "backupPolicies/preview", { body });
      if (mine !== sequence || signal.aborted) return;
      clearFieldErrors();
      replaceChildren(previewRegion, previewContent(preview));
      replaceChildren(previewStatus, `Preview of the policy as edited, from ${preview.from.slice(0, 16).replace("T", " ")} UTC.`);
    } catch (err) {
      if (mine !== sequence || signal.aborted) return;
      clearFieldErrors();
      showFieldErrors(err, controls);
      replaceChildren(previewRegion, errorPanel(err, "The policy cannot be previewed"));
      replaceChildren(previewStatus, "");
    }
  };
  function changed(): void {
    for (const row of rows) row.describe();
    clearTimeout(timer);
    timer = setTimeout(() => void refreshPreview(), 400);
  }
  signal.addEventListener("abort", () => clearTimeout(timer));

  const save = async (event: Event) => {
    event.preventDefault();
    clearTimeout(timer);
    const name = policy?.name ?? nameInput.value.trim();
    const { body, controls } = readForm();
    replaceChildren(saveResult, "Saving…");
    try {
      await api<BackupPolicy>("PUT", `backupPolicies/${segment(name || "-")}`, { body });
      if (signal.aborted) return;
      clearFieldErrors();
      replaceChildren(saveResult, h("p", { class: "saved" }, `Policy ${name} saved.`));
      announce(`Policy ${name} saved.`);
      if (!policy) location.hash = href("/policies/{name}", { name });
      else void refreshPreview();
    } catch (err) {
      if (signal.aborted) return;
      clearFieldErrors();
      showFieldErrors(err, controls);
      replaceChildren(saveResult, errorPanel(err, "The policy was not saved"));
    }
  };

  const section = (title: string, ...children: Child[]) => h("fieldset", { class: "policy-section" }, h("legend", {}, title), children);
  const form = h(
    "form",
    { class: "policy-form", novalidate: true, onsubmit: (event: Event) => void save(event), oninput: () => changed(), onchange: () => changed() },
    h(
      "fieldset",
      { class: "policy-fields", disabled: !editable },
      policy ? null : field("Name", nameInput, "3 to 63 characters: lower-case letters, digits and hyphens, starting with a letter or digit."),
      field("Data source type", datasourceType),
      section(
        "Schedule",
        intervalList,
        h("p", {}, addInterval, " ", weekdays),
        field("Time zone", timeZone, "An IANA time zone, e.g. Europe/Berlin: start dates and times are wall-clock times there, daylight saving time included."),
        zoneList,
      ),
      section(
        "Retention",
        field("Keep every backup for", defaultDuration, "ISO 8601 years, months, weeks and days, P1D to P10Y: P30D, P12W, P1Y6M."),
        rules.map((rule) => rule.element),
      ),
      section(
        "Storage",
        field("Compression", algorithm, "database policies only; changes apply to new backups."),
        field("Compression level", level, "zstd 1 to 19 (default 1), gzip 1 to 9 (default 6); empty: the default."),
        field("Encryption key", keyRef, "Key Vault key URI or env:PGVAULT_SECRET_<NAME>; empty: not encrypted. database policies only."),
      ),
      section(
        "Checks and alerts",
        field("Restore drill every", verification, "ISO 8601 duration P1D to P1Y, e.g. P7D; empty: drills on request only."),
        field("Recovery-point objective (RPO)", rpo, "ISO 8601 duration P1D to P1Y, at least the schedule's longest gap; empty: derived from the schedule."),
        field("RPO grace", rpoGrace, "Added to the schedule's longest gap when the RPO is derived: PT0M to P7D, e.g. PT2H; empty: PT1H. Not with an RPO."),
        h("div", { class: "field" }, h("div", {}, jobSucceeded, " ", h("label", { for: jobSucceeded.id }, "Publish an event for every job that succeeds (pgvault.job.succeeded)"))),
      ),
    ),
    editable ? h("p", {}, h("button", { type: "submit", class: "action primary" }, "Save")) : h("p", { class: "muted" }, "Read-only: editing a policy needs the Backup.Admin role."),
    saveResult,
  );

  main.append(
    pageHeading(policy ? `Policy ${policy.name}` : "New policy"),
    h("p", {}, h("a", { href: href("/policies") }, "All policies")),
    h("div", { class: "policy-editor" }, form, h("section", { class: "policy-preview-section", "aria-labelledby": "policy-preview-heading" }, h("h2", { id: "policy-preview-heading" }, "Preview"), previewStatus, previewRegion)),
  );
  void refreshPreview();
}
