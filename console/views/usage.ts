/**
 * `#/usage`: pictures to look at rather than read (issue 27, item 6), from GET /reports/usage: the vault's data
 * over 90 days, one instance's backup durations and sizes (chosen with a select; `#/usage?instance=<name>` links
 * to it), and RPO health (counts per state, and each instance's newest point's age against its RPO). Every chart
 * says its figures in words and carries its data as a table (console/charts.ts). Nothing here changes anything:
 * Backup.Reader sees it all.
 */
import type { BackupRun } from "../../shared/reports/usageFigures";
import type { UsageHealth, UsageReport } from "../../shared/reports/usageReport";
import type { RpoState } from "../../shared/rpo/rpo";
import { formatAge, formatBytes, formatTime } from "../../shared/backupCenter/format";
import { api } from "../api";
import { areaChart, barChart, barLegend, byteUnit, chartFigure, dataTable, secondsUnit, shareChart, type BarKind, type ShareBar } from "../charts";
import { h, replaceChildren } from "../dom";
import { hashQuery, type View } from "../router";
import { announce, errorPanel, pageHeading } from "../ui";

const days = 90;
const dayMs = 86_400_000;

const healthWords: Record<RpoState | "None", { symbol: string; label: string; kind: BarKind | "risk" }> = {
  Healthy: { symbol: "✓", label: "Healthy", kind: "ok" },
  AtRisk: { symbol: "⚠", label: "At risk", kind: "risk" },
  Breached: { symbol: "✕", label: "Breached", kind: "failed" },
  None: { symbol: "–", label: "No RPO", kind: "other" },
};

const statusWords: Record<BackupRun["status"], string> = { Succeeded: "Succeeded", Failed: "Failed", Cancelled: "Cancelled", InProgress: "In progress", Queued: "Queued" };
const barKind = (status: BackupRun["status"]): BarKind => (status === "Succeeded" ? "ok" : status === "Failed" ? "failed" : "other");

/** `1 min 29 s`, `45 s`, `2 h 5 min`. */
function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${seconds % 60} s` : ""}`;
  return `${Math.floor(seconds / 3600)} h${Math.floor((seconds % 3600) / 60) ? ` ${Math.floor((seconds % 3600) / 60)} min` : ""}`;
}

/** Axis labels in the axis's unit (`0 s`, `2 min`, `512 MiB`). */
const durationTick = (seconds: number) => (seconds === 0 ? "0" : formatDuration(seconds));
const bytesTick = (bytes: number) => (bytes === 0 ? "0" : formatBytes(bytes));

const periodOf = (report: UsageReport) => ({ from: Date.parse(report.period.from), to: Date.parse(`${report.vault.at(-1)?.date ?? report.period.to.slice(0, 10)}T00:00:00Z`) + dayMs });

function vaultSection(report: UsageReport): HTMLElement {
  const { from, to } = periodOf(report);
  const series = report.vault.map((day) => ({ at: Date.parse(`${day.date}T00:00:00Z`) + dayMs / 2, value: day.bytes }));
  const first = report.vault[0];
  const last = report.vault.at(-1);
  const peak = report.vault.reduce((best, day) => (day.bytes > (best?.bytes ?? -1) ? day : best), first);
  const summary =
    first && last && peak
      ? `${formatBytes(last.bytes)} in ${last.points} recovery points today (${last.date}); ${formatBytes(first.bytes)} on ${first.date}; the most, ${formatBytes(peak.bytes)}, on ${peak.date}.`
      : "No data.";
  const chart = areaChart({ title: `Vault data, last ${report.period.days} days`, summary }, series, from, to, bytesTick, byteUnit(peak?.bytes ?? 0));
  const table = dataTable(
    "Vault data at the end of each day (UTC)",
    ["Day", "Data", "Recovery points"],
    [...report.vault].reverse().map((day) => [day.date, formatBytes(day.bytes), String(day.points)]),
    new Set([1, 2]),
  );
  return h(
    "section",
    { "aria-labelledby": "usage-vault-heading" },
    h("h2", { id: "usage-vault-heading" }, "Vault usage"),
    h("p", { class: "chart-summary" }, summary),
    chartFigure(`Data the vault holds (Available and soft-deleted recovery points) at the end of each UTC day, last ${report.period.days} days`, chart, table),
  );
}

/** What a backup chart measures: its words, its figure per run (null: none yet) and its axis. */
interface Measure {
  title: string;
  caption: string;
  /** `the longest took`: before the highest figure in the summary. */
  most: string;
  value(run: BackupRun): number | null;
  format(value: number): string;
  tick(value: number): string;
  unit(max: number): number;
}

const measures: Measure[] = [
  { title: "Backup duration", caption: "How long each backup of {name} took", most: "the longest took", value: (run) => run.durationSeconds, format: formatDuration, tick: durationTick, unit: secondsUnit },
  { title: "Backup size", caption: "What each backup of {name} wrote", most: "the largest wrote", value: (run) => run.bytes, format: formatBytes, tick: bytesTick, unit: byteUnit },
];

/** One measure of the instance's runs as bars, named with its figures in words; returns the figure and that summary. */
function measureFigure(measure: Measure, runs: readonly BackupRun[], counted: string, instanceName: string, period: { from: number; to: number }): { figure: HTMLElement; summary: string } {
  const valued = runs.flatMap((run) => {
    const value = measure.value(run);
    return value === null ? [] : [{ run, value }];
  });
  const highest = valued.reduce<(typeof valued)[number] | undefined>((best, entry) => (entry.value > (best?.value ?? -1) ? entry : best), undefined);
  const latest = runs.at(-1);
  const latestValue = latest ? measure.value(latest) : null;
  const summary = highest
    ? `${counted}; ${measure.most} ${measure.format(highest.value)} on ${highest.run.startTime.slice(0, 10)}${latestValue !== null ? `, the latest ${measure.format(latestValue)}` : ""}.`
    : `${counted}.`;
  const bars = valued.map(({ run, value }) => ({ at: Date.parse(run.startTime), value, kind: barKind(run.status), label: `${formatTime(run.startTime)}: ${statusWords[run.status]}, ${measure.format(value)}` }));
  const chart = barChart({ title: `${measure.title}, ${instanceName}`, summary }, bars, period.from, period.to, measure.tick, measure.unit(highest?.value ?? 0));
  const legend = barLegend([{ kind: "ok", label: "Succeeded" }, { kind: "failed", label: "Failed (✕)" }, { kind: "other", label: "Cancelled or running" }]);
  return { figure: chartFigure(measure.caption.replace("{name}", instanceName), chart, legend), summary };
}

function backupFigures(report: UsageReport, runs: readonly BackupRun[], instanceName: string): HTMLElement[] {
  const failed = runs.filter((run) => run.status === "Failed").length;
  const counted = `${runs.length} backups of ${instanceName}${failed ? `, ${failed} failed` : ""}`;
  const figures = measures.map((measure) => measureFigure(measure, runs, counted, instanceName, periodOf(report)));
  const rows = [...runs].reverse().map((run) => [formatTime(run.startTime), statusWords[run.status], run.durationSeconds === null ? "running" : formatDuration(run.durationSeconds), formatBytes(run.bytes)]);
  return [
    h("p", { class: "chart-summary" }, figures[0]?.summary ?? counted),
    h("div", { class: "chart-pair" }, figures.map((entry) => entry.figure)),
    dataTable(`Backups of ${instanceName}, newest first`, ["Started", "Result", "Duration", "Size"], rows, new Set([2, 3])),
  ];
}

/** The instance picker and its charts, loaded on choice. */
function backupsSection(report: UsageReport, signal: AbortSignal): HTMLElement {
  const names = report.health.instances.map((instance) => instance.instanceName);
  const body = h("div", { id: "usage-backups-body", "aria-live": "polite" });
  const section = h("section", { "aria-labelledby": "usage-backups-heading" }, h("h2", { id: "usage-backups-heading" }, "Backups per instance"));
  if (names.length === 0) {
    section.append(h("p", { class: "empty" }, "No backup instances yet."));
    return section;
  }
  const wanted = hashQuery().get("instance");
  const select = h("select", { id: "usage-instance" }, names.map((name) => h("option", { value: name, selected: name === wanted }, name)));
  const load = async (name: string) => {
    body.setAttribute("aria-busy", "true");
    try {
      const instance = await api<UsageReport>("GET", "reports/usage", { query: { days, instanceName: name } });
      if (signal.aborted || select.value !== name) return;
      replaceChildren(body, backupFigures(instance, instance.backups ?? [], name));
    } catch (err) {
      if (!signal.aborted) replaceChildren(body, errorPanel(err, `The backups of ${name} could not be read`));
    } finally {
      body.removeAttribute("aria-busy");
    }
  };
  select.addEventListener("change", () => {
    // The choice goes into the address, so the link shows the same instance; replaceState fires no hashchange.
    history.replaceState(null, "", `#/usage?instance=${encodeURIComponent(select.value)}`);
    announce(`Showing the backups of ${select.value}.`);
    void load(select.value);
  });
  void load(select.value);
  section.append(h("p", { class: "chart-controls" }, h("label", { for: "usage-instance" }, "Instance"), " ", select), body);
  return section;
}

function healthBar(instance: UsageHealth): ShareBar | undefined {
  if (instance.state === null || instance.rpoSeconds === null || !(instance.rpoSeconds > 0)) return undefined;
  const words = healthWords[instance.state];
  const age = instance.newestPoint?.ageSeconds;
  const share = age === undefined ? 0 : age / instance.rpoSeconds;
  const figures = age === undefined ? "no point yet" : `${formatAge(age)} of ${formatAge(instance.rpoSeconds)} (${Math.round(share * 100)}%)`;
  return { name: instance.instanceName, share, text: `${words.symbol} ${words.label}: ${figures}`, kind: words.kind };
}

function healthSection(report: UsageReport): HTMLElement {
  const { counts, instances } = report.health;
  const states = (["Healthy", "AtRisk", "Breached", "None"] as const).map((state) =>
    h("li", { class: `health-count ${healthWords[state].kind}` }, h("span", { class: "sym", "aria-hidden": "true" }, healthWords[state].symbol), " ", healthWords[state].label, ": ", h("strong", {}, String(counts[state]))),
  );
  const bars = instances.map(healthBar).filter((bar): bar is ShareBar => bar !== undefined);
  const worst = [...bars].sort((a, b) => b.share - a.share)[0];
  const summary = `${counts.Healthy} healthy, ${counts.AtRisk} at risk, ${counts.Breached} breached, ${counts.None} without an RPO${worst ? `; the oldest newest point against its RPO: ${worst.name}, ${worst.text}` : ""}.`;
  const chart = shareChart({ title: "Newest recovery point's age against the RPO", summary }, bars, [
    { share: 0.8, label: "80%: at risk", side: "end" },
    { share: 1, label: "100%: breached", side: "start" },
  ]);
  const table = dataTable(
    "RPO health per instance",
    ["Instance", "Health", "Newest point", "Age", "RPO", "Share of the RPO"],
    instances.map((instance) => {
      const words = healthWords[instance.state ?? "None"];
      const age = instance.newestPoint?.ageSeconds;
      return [
        instance.instanceName,
        `${words.symbol} ${words.label}`,
        instance.newestPoint ? formatTime(instance.newestPoint.time) : "none",
        age === undefined ? "–" : formatAge(age),
        instance.rpo ?? "–",
        age === undefined || !instance.rpoSeconds ? "–" : `${Math.round((age / instance.rpoSeconds) * 100)}%`,
      ];
    }),
    new Set([3, 5]),
  );
  return h(
    "section",
    { "aria-labelledby": "usage-health-heading" },
    h("h2", { id: "usage-health-heading" }, "RPO health"),
    h("ul", { class: "health-counts", "aria-label": "Instances per RPO state" }, states),
    bars.length ? chartFigure("Each instance's newest recovery point: its age as a share of its RPO (80% is at risk, 100% breached)", chart, table) : h("p", { class: "empty" }, "No instance owes an RPO."),
  );
}

export const usageView: View = {
  path: "/usage",
  title: () => "Usage",
  nav: { label: "Usage", role: "Backup.Reader", order: 60 },
  async render(main, _params, signal) {
    main.append(pageHeading("Usage and health"));
    const report = await api<UsageReport>("GET", "reports/usage", { query: { days } });
    if (signal.aborted) return;
    main.append(
      h("p", { class: "as-of" }, `As of ${formatTime(report.generatedAt)}; days are UTC.`),
      vaultSection(report),
      healthSection(report),
      backupsSection(report, signal),
    );
  },
};
