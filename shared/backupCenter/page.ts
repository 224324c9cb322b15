/**
 * The Backup Center page, rendered on the server as one self-contained HTML document: inline CSS and script only
 * (both carrying the response's CSP nonce), no external resources, so it works offline and behind strict proxies.
 * Every value from the catalog is escaped; error messages quote user input (database names, hosts).
 *
 * The script refreshes `<main>` every 30 s from the same URL and starts on-demand backups; the page reads fine
 * without it.
 */
import type { JobStatus } from "../domain";
import type { LastBackup } from "../catalog/instanceSummaries";
import type { InstanceHealth, RpoState } from "../rpo/rpo";
import { satisfies, type Role } from "../auth/roles";
import type { ConsoleBundle } from "./consoleBundle";
import { formatAge, formatBytes, formatTime } from "./format";
import type { BackupCenterSummary, DayOutcome, FailedJobSummary, InstanceSummary, TimelineDay } from "./summary";

export const refreshSeconds = 30;

export function escapeHtml(value: string | number): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** Escapes the interpolated values; nested `Html` (already rendered markup) is kept as is. */
class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | null | undefined | false | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return "";
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join("");
  return escapeHtml(part as string | number);
}

function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  return new Html(strings.reduce((out, text, i) => out + text + (i < values.length ? render(values[i]) : ""), ""));
}

const time = (iso: string) => html`<time datetime="${iso}">${formatTime(iso)}</time>`;
const hidden = (text: string) => html`<span class="vh">${text}</span>`;
const none = html`<span aria-hidden="true">—</span>${hidden("none")}`;

/** Symbol, label and class per state: the state never rests on colour alone. */
const outcomeStyle: Record<DayOutcome | "None", { symbol: string; label: string; cls: string }> = {
  Succeeded: { symbol: "✓", label: "Succeeded", cls: "ok" },
  Failed: { symbol: "✕", label: "Failed", cls: "failed" },
  InProgress: { symbol: "◐", label: "In progress", cls: "running" },
  Queued: { symbol: "…", label: "Queued", cls: "queued" },
  Cancelled: { symbol: "–", label: "Cancelled", cls: "cancelled" },
  None: { symbol: "", label: "No jobs", cls: "none" },
};

const jobStatusOrder: readonly JobStatus[] = ["Failed", "Succeeded", "InProgress", "Queued", "Cancelled"];
const statusWords: Record<JobStatus, string> = { Succeeded: "succeeded", Failed: "failed", InProgress: "in progress", Queued: "queued", Cancelled: "cancelled" };

function dayCell(day: TimelineDay): Html {
  const style = outcomeStyle[day.outcome ?? "None"];
  const counts = jobStatusOrder
    .filter((status) => (day.counts[status] ?? 0) > 0)
    .map((status) => `${day.counts[status]} ${statusWords[status]}`)
    .join(", ");
  const text = `${day.date}: ${style.label}${counts ? ` (${counts})` : ""}`;
  return html`<li class="day ${style.cls}" title="${text}"><span aria-hidden="true">${style.symbol}</span>${hidden(text)}</li>`;
}

function result(outcome: DayOutcome, label = outcomeStyle[outcome].label): Html {
  const style = outcomeStyle[outcome];
  return html`<span class="result ${style.cls}"><span class="sym" aria-hidden="true">${style.symbol}</span> ${label}</span>`;
}

function lastBackupCell(last: LastBackup | null): Html {
  if (!last) return html`<span class="muted">Never</span>`;
  const size = last.sizeBytes === null ? "" : html` <span class="sub">· ${formatBytes(last.sizeBytes)}</span>`;
  return html`<span class="nowrap">${result(last.result)}${size}</span><br><span class="sub">${time(last.time)}</span>`;
}

/** Symbol, label and class per RPO state (shared/rpo/rpo.ts). */
const healthStyle: Record<RpoState, { symbol: string; label: string; cls: string }> = {
  Healthy: { symbol: "✓", label: "Healthy", cls: "ok" },
  AtRisk: { symbol: "!", label: "At risk", cls: "risk" },
  Breached: { symbol: "✕", label: "Breached", cls: "failed" },
};

/** `3 h`, `2 d 4 h`: the newest point's age, to the hour. */
/** The state, the RPO and the newest point's age; the breach time in the title (and for screen readers). */
function healthCell(health: InstanceHealth | null): Html {
  if (!health) return html`<span class="muted">No RPO</span>`;
  const style = healthStyle[health.state];
  const newest = health.newestPoint ? `point ${formatAge(health.newestPoint.ageSeconds)} old` : "no point yet";
  const breach = `${health.state === "Breached" ? "breached since" : "breached at"} ${formatTime(health.breachAt)}`;
  return html`<span class="result ${style.cls}" title="${breach}"><span class="sym" aria-hidden="true">${style.symbol}</span> ${style.label}</span>${hidden(`, ${breach}`)}
<br><span class="sub">RPO ${health.rpo}, ${newest}</span>`;
}

/** `canBackUp`: the caller holds Backup.Operator; a Reader gets no actions column at all. */
function instanceRow(instance: InstanceSummary, days: readonly string[], canBackUp: boolean): Html {
  const protectedNow = instance.protectionState === "ProtectionConfigured";
  const kind = instance.datasourceType === "database" ? "Database" : "Flexible Server";
  const range = `${days[0] ?? ""} to ${days.at(-1) ?? ""}`;
  return html`<tr id="instance-${instance.name}">
<th scope="row"><a class="name" href="#/instances/${instance.name}">${instance.name}</a><br><span class="sub label">${kind}: ${instance.datasourceLabel}</span></th>
<td class="nowrap">${protectedNow ? html`<span class="state on"><span aria-hidden="true">●</span> Protected</span>` : html`<span class="state off"><span aria-hidden="true">○</span> Stopped</span>`}</td>
<td><span class="nowrap">${instance.policyName}</span>${instance.policyFound ? "" : html`<br><span class="sub warn">policy missing</span>`}</td>
<td>${lastBackupCell(instance.lastBackup)}</td>
<td>${instance.nextScheduledBackup ? time(instance.nextScheduledBackup) : none}</td>
<td class="num">${instance.recoveryPoints.count}<br><span class="sub">${formatBytes(instance.recoveryPoints.bytes)}</span></td>
<td>${healthCell(instance.health)}</td>
<td><ol class="timeline" aria-label="Job results per day for ${instance.name}, ${range}">${instance.timeline.map(dayCell)}</ol></td>
${
    !canBackUp
      ? ""
      : protectedNow
        ? html`<td><button type="button" class="backup" id="backup-${instance.name}" data-instance="${instance.name}">Back up now${hidden(` ${instance.name}`)}</button></td>`
        : html`<td><span class="muted">Protection stopped</span></td>`
  }
</tr>`;
}

function instancesSection(summary: BackupCenterSummary, canBackUp: boolean): Html {
  if (summary.instances.length === 0) {
    return html`<section aria-labelledby="instances-heading"><h2 id="instances-heading">Backup instances</h2>
<p class="empty">No backup instances yet. Configure protection with <code>PUT /api/backupInstances/{name}</code>.</p></section>`;
  }
  const legend = (["Succeeded", "Failed", "InProgress", "Queued", "Cancelled", "None"] as const).map((key) => {
    const style = outcomeStyle[key];
    return html`<li><span class="day ${style.cls}" aria-hidden="true">${style.symbol}</span> ${style.label}</li>`;
  });
  return html`<section aria-labelledby="instances-heading">
<h2 id="instances-heading">Backup instances</h2>
<table class="instances">
<caption>Backup instances: protection, last and next backup, recovery points, health against the recovery-point objective (RPO) and job results of the last ${summary.days.length} days (UTC)</caption>
<thead><tr><th scope="col">Instance</th><th scope="col">Protection</th><th scope="col">Policy</th><th scope="col">Last backup</th><th scope="col">Next backup</th><th scope="col" class="num">Recovery points</th><th scope="col">Health</th><th scope="col">Last ${summary.days.length} days <span class="sub">(oldest → today)</span></th>${canBackUp ? html`<th scope="col"><span class="vh">Actions</span></th>` : ""}</tr></thead>
<tbody>
${summary.instances.map((instance) => instanceRow(instance, summary.days, canBackUp))}
</tbody>
</table>
<ul class="legend" aria-label="Timeline legend">${legend}</ul>
</section>`;
}

function failedJobRow(job: FailedJobSummary): Html {
  return html`<tr>
<td>${time(job.endTime ?? job.startTime)}<br><code class="sub">${job.jobId}</code></td>
<td>${job.instanceName === "*" ? "all instances" : job.instanceName}</td>
<td>${job.operation}<br><span class="sub">${job.trigger}</span></td>
<td><code class="code">${job.code}</code><br>${job.message}</td>
<td>${job.recommendedAction}</td>
</tr>`;
}

function failedJobsSection(summary: BackupCenterSummary): Html {
  const total = summary.totals.failedJobs;
  const heading = html`<h2 id="failed-heading">Failed jobs, last ${summary.days.length} days</h2>`;
  if (total === 0) {
    return html`<section aria-labelledby="failed-heading">${heading}<p class="empty">${result("Succeeded", "No failed jobs.")}</p></section>`;
  }
  const shown = summary.failedJobs.length;
  return html`<section aria-labelledby="failed-heading">${heading}
<table class="failed">
<caption>Failed jobs, newest first${shown < total ? `: the newest ${shown} of ${total}` : ""}</caption>
<thead><tr><th scope="col">Time and job</th><th scope="col">Instance</th><th scope="col">Operation</th><th scope="col">Error</th><th scope="col">Recommended action</th></tr></thead>
<tbody>
${summary.failedJobs.map(failedJobRow)}
</tbody>
</table>
</section>`;
}

function mainContent(summary: BackupCenterSummary, canBackUp: boolean): Html {
  const { totals } = summary;
  return html`<h1>Backup Center</h1>
<p class="as-of">Updated ${time(summary.generatedAt)}, refreshes every ${refreshSeconds} s</p>
<section aria-labelledby="totals-heading">
<h2 id="totals-heading" class="vh">Totals</h2>
<dl class="totals">
<div><dt>Instances</dt><dd>${totals.instances}</dd></div>
<div><dt>Protected</dt><dd>${totals.protected}</dd></div>
<div class="${totals.health.Breached > 0 ? "alert" : ""}"><dt>RPO breached</dt><dd>${totals.health.Breached}</dd></div>
<div><dt>RPO at risk</dt><dd>${totals.health.AtRisk}</dd></div>
<div class="${totals.failedJobs > 0 ? "alert" : ""}"><dt>Failed jobs, ${summary.days.length} days</dt><dd>${totals.failedJobs}</dd></div>
<div><dt>Vault data</dt><dd>${formatBytes(totals.vaultBytes)}</dd></div>
</dl>
</section>
${instancesSection(summary, canBackUp)}
${failedJobsSection(summary)}`;
}

const styles = `
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa;
  --ok: #1a7f37; --failed: #cf222e; --running: #0969da; --queued: #8250df; --cancelled: #6e7781; --risk: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif; color: var(--fg); background: #fff; }
.skip { position: absolute; left: 8px; top: -40px; background: #fff; padding: 4px 8px; border: 2px solid var(--running); }
.skip:focus { top: 8px; }
header.bar { display: flex; align-items: center; gap: 16px; padding: 8px 24px; background: #24292f; color: #fff; }
header.bar .brand { font-weight: 700; margin: 0; }
header.bar .refresh { margin: 0 0 0 auto; font-size: 13px; }
header.bar button { font: inherit; font-size: 13px; }
main { padding: 12px 24px 32px; }
main:focus { outline: none; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 20px 0 6px; }
.as-of { margin: 0 0 10px; color: var(--muted); font-size: 13px; }
.vh { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.totals { display: flex; gap: 12px; margin: 0; }
.totals div { border: 1px solid var(--line); border-radius: 6px; padding: 6px 14px; min-width: 150px; background: var(--bg-soft); }
.totals div.alert { border-color: var(--failed); border-width: 2px; }
.totals dt { font-size: 12px; color: var(--muted); }
.totals dd { margin: 0; font-size: 20px; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding: 0 0 4px; font-size: 12px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
thead th { background: var(--bg-soft); font-size: 12px; font-weight: 600; }
tbody th { font-weight: 400; min-width: 180px; }
.name { font-weight: 600; }
.sub { color: var(--muted); font-size: 12px; }
.warn { color: var(--failed); }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }
.label { overflow-wrap: anywhere; }
.num { text-align: right; }
.state.on { color: var(--ok); font-weight: 600; }
.state.off { color: var(--muted); }
.result { font-weight: 600; white-space: nowrap; }
.result.ok { color: var(--ok); } .result.failed { color: var(--failed); } .result.cancelled { color: var(--cancelled); } .result.risk { color: var(--risk); }
.timeline { display: grid; grid-template-columns: repeat(30, 10px); gap: 2px; list-style: none; margin: 2px 0 0; padding: 0; }
.day { display: inline-block; width: 10px; height: 18px; border-radius: 2px; font-size: 9px; line-height: 18px; text-align: center; color: #fff; border: 1px solid transparent; }
.day.ok { background: var(--ok); }
.day.failed { background: var(--failed); font-weight: 700; }
.day.running { background: var(--running); }
.day.queued { background: var(--queued); }
.day.cancelled { background: var(--cancelled); }
.day.none { background: #fff; border-color: var(--line); }
.legend { display: flex; flex-wrap: wrap; gap: 14px; list-style: none; padding: 0; margin: 6px 0 0; font-size: 12px; color: var(--muted); }
.legend .day { vertical-align: middle; }
button.backup { font: inherit; font-size: 13px; padding: 4px 10px; border: 1px solid var(--running); background: #fff; color: var(--running); border-radius: 6px; cursor: pointer; white-space: nowrap; }
button.backup:hover { background: #ddf4ff; }
button:focus-visible, a:focus-visible { outline: 3px solid #fb8c00; outline-offset: 2px; }
button.backup[aria-disabled="true"] { color: var(--muted); border-color: var(--line); cursor: progress; }
table.failed td:nth-child(4) { max-width: 420px; }
table.failed td:nth-child(5) { max-width: 380px; }
code { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 12px; word-break: break-all; }
code.code { color: var(--failed); font-weight: 600; word-break: normal; }
.empty { color: var(--muted); }
#announcer { position: fixed; right: 16px; bottom: 16px; max-width: 560px; margin: 0; }
#announcer:not(:empty) { background: #24292f; color: #fff; padding: 8px 12px; border-radius: 6px; }
#refresh-error:empty { display: none; }
`;

/** The browser side: refresh `<main>` in place, and start on-demand backups. No dependencies. */
const script = `
(function () {
  "use strict";
  var refreshMs = ${refreshSeconds * 1000};
  var live = document.getElementById("announcer");
  var refreshError = document.getElementById("refresh-error");
  var refreshButton = document.getElementById("refresh-now");
  var running = {};
  var lastRefresh = Date.now();
  var key = new URLSearchParams(location.search).get("code");
  // A console view (#/...) holds the main element instead of the overview: no refresh then, one when it is back.
  function onOverview() { return location.hash.indexOf("#/") !== 0; }

  function announce(text) {
    live.textContent = "";
    setTimeout(function () { live.textContent = text; }, 50);
  }

  function applyRunning() {
    var buttons = document.querySelectorAll("button[data-instance]");
    for (var i = 0; i < buttons.length; i++) {
      // aria-disabled rather than disabled: a disabled button drops keyboard focus.
      if (running[buttons[i].getAttribute("data-instance")]) buttons[i].setAttribute("aria-disabled", "true");
      else buttons[i].removeAttribute("aria-disabled");
    }
  }

  function refresh() {
    if (!onOverview()) return Promise.resolve();
    lastRefresh = Date.now();
    return fetch(location.href, { headers: { accept: "text/html" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (text) {
        // Only the main element is parsed: the style and script of the whole document would be CSP violations
        // (they carry the new response's nonce). Values in it are escaped, so the first closing tag ends it.
        var startAt = text.indexOf("<" + "main");
        var endAt = text.indexOf("</" + "main>", startAt);
        var fresh = startAt >= 0 && endAt > startAt
          ? new DOMParser().parseFromString(text.slice(startAt, endAt + 7), "text/html").querySelector("main")
          : null;
        var main = document.querySelector("main");
        if (!fresh || !main) throw new Error("the answer has no main content");
        // Keep focus on the same control (buttons have stable ids), or on main when it was inside it.
        var active = document.activeElement;
        var inside = !!active && main.contains(active);
        var focusId = inside && active.id ? active.id : null;
        main.innerHTML = fresh.innerHTML;
        applyRunning();
        var again = focusId ? document.getElementById(focusId) : null;
        if (again) again.focus({ preventScroll: true });
        else if (inside) main.focus({ preventScroll: true });
        refreshError.textContent = "";
      })
      .catch(function (err) {
        var first = refreshError.textContent === "";
        refreshError.textContent = "Refresh failed (" + (err && err.message ? err.message : err) + "); showing the last update.";
        if (first) announce(refreshError.textContent);
      });
  }

  function describeError(response) {
    return response.json().then(function (body) {
      var error = body && body.error;
      return error && error.code ? error.code + ": " + (error.message || "") : "HTTP " + response.status;
    }, function () { return "HTTP " + response.status; });
  }

  function backUp(button) {
    var name = button.getAttribute("data-instance");
    if (!name || running[name]) return;
    running[name] = true;
    applyRunning();
    announce("Starting a backup of " + name + "...");
    var headers = { "content-type": "application/json" };
    if (key) headers["x-functions-key"] = key;
    var url = new URL("backupInstances/" + encodeURIComponent(name) + "/backup", location.href);
    fetch(url.href, { method: "POST", headers: headers, body: "{}", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 202) {
          return response.json().then(function (body) { announce("Backup of " + name + " started: job " + body.jobId); });
        }
        return describeError(response).then(function (text) { announce("Backup of " + name + " was not started: " + text); });
      })
      .catch(function (err) {
        announce("Backup of " + name + " was not started: " + (err && err.message ? err.message : err));
      })
      .then(function () {
        delete running[name];
        applyRunning();
        setTimeout(refresh, 1500);
      });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest("button[data-instance]") : null;
    if (button) backUp(button);
  });
  refreshButton.addEventListener("click", function () { refresh(); });
  document.addEventListener("pgvault:overview", function () { refresh(); });
  refreshButton.hidden = false;
  setInterval(function () { if (!document.hidden) refresh(); }, refreshMs);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && Date.now() - lastRefresh > refreshMs) refresh();
  });
})();
`;

export interface PageOptions {
  /** The response's CSP nonce, for the inline style and script. */
  nonce: string;
  /** The caller's roles (all of them with function keys): the console offers only what they allow. */
  roles: readonly Role[];
  /** The console's browser bundle (consoleBundle.ts). */
  console: ConsoleBundle;
}

export function renderBackupCenterPage(summary: BackupCenterSummary, options: PageOptions): string {
  return `<!doctype html>
${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Backup Center · pgvault</title>
<link rel="icon" href="data:,">
<style nonce="${options.nonce}">${new Html(styles)}${new Html(options.console.style)}</style>
</head>
<body data-roles="${JSON.stringify(options.roles)}">
<a class="skip" href="#main">Skip to the Backup Center</a>
<header class="bar">
<p class="brand">pgvault</p>
<nav id="console-nav" aria-label="Console"></nav>
<p class="refresh"><span id="refresh-error"></span> <button type="button" id="refresh-now" hidden>Refresh now</button></p>
</header>
<main id="main" tabindex="-1">
${mainContent(summary, satisfies(options.roles, "Backup.Operator"))}
</main>
<p id="announcer" role="status" aria-live="polite"></p>
<script nonce="${options.nonce}">${new Html(script)}</script>
<script nonce="${options.nonce}">${new Html(options.console.script)}</script>
</body>
</html>`}
`;
}
