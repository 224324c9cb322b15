/**
 * The Backup Center's view model and page from a catalog seeded directly (real Azurite): a fixed clock in the
 * past, so the 30-day window is the test's own (other files share the jobs table, on today's dates).
 */
import { beforeAll, describe, expect, test } from "vitest";
import { backupCenter } from "../../functions/backupCenter";
import { backupCenterSummary, dayOutcome, windowDays, type BackupCenterSummary, type InstanceSummary } from "../../shared/backupCenter/summary";
import { renderBackupCenterPage, type PageOptions } from "../../shared/backupCenter/page";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { refreshInstanceSummary } from "../../shared/catalog/instanceSummaries";
import { updateJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, BackupPolicy, Job, RecoveryPoint } from "../../shared/domain";
import { errorCatalog, PgVaultError } from "../../shared/errors";
import { handled } from "../../shared/http";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { invocation, request } from "../support/http";
import { uniqueName } from "../support/testDatabase";

const now = new Date("2025-03-02T09:00:00Z");
const name = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");
const a = name("bc-a");
const b = name("bc-b");
const c = name("bc-c");
const policyName = name("bc-pol");
const evilMessage = `Database "x" not found <script>alert("pwned")</script> & more`;

const policy: BackupPolicy = {
  name: policyName,
  datasourceType: "database",
  schedule: { repeatingIntervals: ["R/2025-01-01T02:30:00Z/P1D"], timeZone: "UTC" },
  retention: { default: { duration: "P30D" }, rules: [] },
};

// Created now (real time), so a scheduler ticking on a concurrent test host owes them nothing.
const instance = (instanceName: string, overrides: Partial<BackupInstance> = {}): BackupInstance => ({
  name: instanceName,
  policyName,
  datasource: { type: "database", host: "pg.example.com", port: 6432, database: "sales", secretRef: "env:UNUSED" },
  protectionState: "ProtectionConfigured",
  createdAt: new Date().toISOString(),
  ...overrides,
});

let sequence = 0;
async function job(instanceName: string, startTime: string, status: Job["status"], extra: Partial<Job> = {}): Promise<string> {
  const id = `bc-job-${instanceName}-${startTime.replace(/[-:]/g, "")}-${sequence++}`;
  const finished = status === "Succeeded" || status === "Failed" || status === "Cancelled";
  await updateJob(id, {
    operation: "Backup",
    trigger: "Scheduled",
    instanceName,
    status,
    phase: finished ? "Done" : "Uploading",
    startTime,
    ...(finished ? { endTime: new Date(Date.parse(startTime) + 90_000).toISOString().replace(/\.\d{3}Z$/, "Z") } : {}),
    bytes: 0,
    ...extra,
  });
  return id;
}

async function point(instanceName: string, time: string, sizeBytes: number, status: RecoveryPoint["status"] = "Available"): Promise<RecoveryPoint> {
  const id = recoveryPointId(new Date(time), Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, "0"));
  const rp: RecoveryPoint = {
    id,
    instanceName,
    time,
    tag: "Default",
    // Far ahead: a retention run of a concurrent test host must not take them.
    expiresAt: "2099-01-01T00:00:00Z",
    status,
    sizeBytes,
    sha256: "00",
    format: "pg_dump-custom",
    serverVersion: "15.18",
    toolVersion: "pg_dump 15.18",
    blobs: [`backups/${instanceName}/${id}/sales.dump`],
  };
  await putRecoveryPoint(rp);
  return rp;
}

const jobs: Record<string, string> = {};
let newestPoint: RecoveryPoint;
let summary: BackupCenterSummary;
const ours = (instanceName: string): InstanceSummary => {
  const found = summary.instances.find((i) => i.name === instanceName);
  if (!found) throw new Error(`instance ${instanceName} is not in the summary`);
  return found;
};
const cell = (instanceName: string, date: string) => ours(instanceName).timeline.find((day) => day.date === date);

beforeAll(async () => {
  await putPolicy(policy);
  // a: a busy protected database instance.
  await putInstance(instance(a));
  await point(a, "2025-02-01T02:31:00Z", 100);
  await point(a, "2025-02-05T02:31:00Z", 50, "SoftDeleted");
  await point(a, "2025-02-06T02:31:00Z", 1000, "Deleted");
  newestPoint = await point(a, "2025-03-02T02:31:00Z", 300);
  jobs.beforeWindow = await job(a, "2025-01-31T23:59:59Z", "Failed", { error: new PgVaultError("UserErrorServerUnreachable", "too old to show").toJobError() });
  jobs.firstDay = await job(a, "2025-02-01T00:00:00Z", "Succeeded");
  jobs.mixedOk = await job(a, "2025-02-10T02:30:00Z", "Succeeded");
  jobs.mixedFailed = await job(a, "2025-02-10T14:00:00Z", "Failed", { error: new PgVaultError("UserErrorDBUserAuthFailed", "password authentication failed for user 'backup'").toJobError() });
  jobs.evil = await job(a, "2025-02-15T10:00:00Z", "Failed", {
    operation: "Restore",
    trigger: "OnDemand",
    error: new PgVaultError("UserErrorDBNotFound", evilMessage).toJobError(),
  });
  jobs.queued = await job(a, "2025-02-20T02:30:00Z", "Queued");
  jobs.cancelled = await job(a, "2025-03-01T02:30:00Z", "Cancelled");
  jobs.newest = await job(a, "2025-03-02T02:30:00Z", "Succeeded", { recoveryPointId: newestPoint.id, bytes: 299 });
  jobs.running = await job(a, "2025-03-02T08:00:00Z", "InProgress", { trigger: "OnDemand" });
  // b: a stopped Flexible Server whose policy is gone, with one point older than the window and no jobs in it.
  await putInstance(
    instance(b, {
      policyName: `${policyName}-gone`,
      protectionState: "ProtectionStopped",
      datasource: { type: "flexibleServer", resourceId: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/flex-analytics" },
    }),
  );
  await point(b, "2024-12-24T03:00:00Z", 5 * 1024 ** 3);
  // c: the last backup failed after an older success.
  await putInstance(instance(c, { datasource: { type: "database", host: "10.0.0.7", port: 5432, database: "billing", secretRef: "env:UNUSED" } }));
  await point(c, "2025-02-20T02:31:00Z", 2048);
  jobs.cOk = await job(c, "2025-02-20T02:30:00Z", "Succeeded");
  jobs.cFailed = await job(c, "2025-03-01T02:30:00Z", "Failed", {
    error: new PgVaultError("UserErrorMissingDBPermissions", "user 'backup' lacks SELECT on table billing.invoices").toJobError(),
  });
  // Each write above counted its instance's summary at the real time, two years on: counted again at the test's clock.
  for (const instanceName of [a, b, c]) await refreshInstanceSummary(instanceName, now);
  summary = await backupCenterSummary(now);
});

/** Server-side rendering only: the console's bundle is the browser test's (test/backupCenter/backupCenterPage.test.ts). */
// Function keys: the page gets every role.
const pageOptions: PageOptions = { nonce: "n0nce", roles: ["Backup.Reader", "Backup.Operator", "Backup.Admin"], console: { script: "", style: "" } };

describe("the Backup Center view model", () => {
  test("when the clock reads 2025-03-02, then the timeline is the 30 UTC days from 2025-02-01 to that day, oldest first", () => {
    expect(summary.days).toEqual(windowDays(now));
    expect(summary.days).toHaveLength(30);
    expect(summary.days[0]).toBe("2025-02-01");
    expect(summary.days.at(-1)).toBe("2025-03-02");
    for (const instanceName of [a, b, c]) expect(ours(instanceName).timeline.map((day) => day.date)).toEqual(summary.days);
  });

  test("when a day had jobs, then its outcome is Failed over Succeeded over InProgress, Queued, Cancelled; a job before the window is left out", () => {
    expect(cell(a, "2025-02-01")).toEqual({ date: "2025-02-01", outcome: "Succeeded", counts: { Succeeded: 1 } });
    expect(cell(a, "2025-02-10")).toEqual({ date: "2025-02-10", outcome: "Failed", counts: { Succeeded: 1, Failed: 1 } });
    expect(cell(a, "2025-02-15")?.outcome).toBe("Failed");
    expect(cell(a, "2025-02-20")?.outcome).toBe("Queued");
    expect(cell(a, "2025-03-01")?.outcome).toBe("Cancelled");
    expect(cell(a, "2025-03-02")).toEqual({ date: "2025-03-02", outcome: "Succeeded", counts: { Succeeded: 1, InProgress: 1 } });
    expect(cell(a, "2025-02-02")).toEqual({ date: "2025-02-02", outcome: null, counts: {} });
    expect(ours(a).timeline.filter((day) => day.outcome !== null)).toHaveLength(6);
    expect(ours(b).timeline.every((day) => day.outcome === null)).toBe(true);
    expect(dayOutcome({ InProgress: 1, Queued: 2, Cancelled: 1 })).toBe("InProgress");
    expect(dayOutcome({ Queued: 2, Cancelled: 1 })).toBe("Queued");
  });

  test("when recovery points are Available, SoftDeleted or Deleted, then the first two count, in number and bytes", () => {
    expect(ours(a).recoveryPoints).toEqual({ count: 3, bytes: 450 });
    expect(ours(b).recoveryPoints).toEqual({ count: 1, bytes: 5 * 1024 ** 3 });
    expect(ours(c).recoveryPoints).toEqual({ count: 1, bytes: 2048 });
  });

  test("when the newest finished backup job succeeded, failed, or is older than the window, then the last backup says so", () => {
    expect(ours(a).lastBackup).toEqual({ time: "2025-03-02T02:31:30Z", result: "Succeeded", sizeBytes: 300, jobId: jobs.newest, recoveryPointId: newestPoint.id });
    expect(ours(c).lastBackup).toEqual({ time: "2025-03-01T02:31:30Z", result: "Failed", sizeBytes: null, jobId: jobs.cFailed, recoveryPointId: null });
    expect(ours(b).lastBackup).toMatchObject({ time: "2024-12-24T03:00:00Z", result: "Succeeded", sizeBytes: 5 * 1024 ** 3, jobId: null });
  });

  test("when instances differ in datasource, protection and policy, then each row carries its label, policy and next slot", () => {
    const names = summary.instances.map((i) => i.name);
    expect(names).toEqual([...names].sort((x, y) => x.localeCompare(y)));
    expect(ours(a)).toMatchObject({ datasourceType: "database", datasourceLabel: "pg.example.com:6432/sales", protectionState: "ProtectionConfigured", policyFound: true, nextScheduledBackup: "2025-03-03T02:30:00.000Z" });
    expect(ours(c)).toMatchObject({ datasourceLabel: "10.0.0.7/billing", nextScheduledBackup: "2025-03-03T02:30:00.000Z" });
    expect(ours(b)).toMatchObject({ datasourceType: "flexibleServer", datasourceLabel: "flex-analytics", protectionState: "ProtectionStopped", policyFound: false, nextScheduledBackup: null });
  });

  test("when instances are protected or not, then each carries its RPO health at the page's instant, and the totals count them by state", () => {
    // A daily policy in UTC: an RPO of 25 hours. a's newest Available point is 6 h 29 min old; c's, ten days.
    expect(ours(a).health).toEqual({
      state: "Healthy",
      rpo: "PT25H",
      newestPoint: { time: "2025-03-02T02:31:00Z", ageSeconds: 6 * 3600 + 29 * 60 },
      since: "2025-03-02T02:31:00.000Z",
      breachAt: "2025-03-03T03:31:00.000Z",
    });
    expect(ours(c).health).toMatchObject({ state: "Breached", newestPoint: { time: "2025-02-20T02:31:00Z" }, breachAt: "2025-02-21T03:31:00.000Z" });
    expect(ours(b).health).toBeNull();
    for (const state of ["Healthy", "AtRisk", "Breached"] as const) {
      expect(summary.totals.health[state]).toBe(summary.instances.filter((i) => i.health?.state === state).length);
    }
  });

  test("when jobs failed in the window, then they are listed newest first with their code, message and recommended action", () => {
    const mine = summary.failedJobs.filter((j) => [a, b, c].includes(j.instanceName));
    expect(mine.map((j) => j.jobId)).toEqual([jobs.cFailed, jobs.evil, jobs.mixedFailed]);
    expect(mine[0]).toEqual({
      jobId: jobs.cFailed,
      instanceName: c,
      operation: "Backup",
      trigger: "Scheduled",
      startTime: "2025-03-01T02:30:00Z",
      endTime: "2025-03-01T02:31:30Z",
      code: "UserErrorMissingDBPermissions",
      message: "user 'backup' lacks SELECT on table billing.invoices",
      recommendedAction: errorCatalog.UserErrorMissingDBPermissions.recommendedAction,
    });
    expect(mine[1]).toMatchObject({ operation: "Restore", code: "UserErrorDBNotFound", message: evilMessage, recommendedAction: errorCatalog.UserErrorDBNotFound.recommendedAction });
    expect(summary.failedJobs.length).toBeLessThanOrEqual(50);
    // The jobs table is shared: others may have failed in the same window, never fewer than ours.
    expect(summary.totals.failedJobs).toBeGreaterThanOrEqual(3);
    expect(summary.totals.instances).toBe(summary.instances.length);
    expect(summary.totals.protected).toBe(summary.instances.filter((i) => i.protectionState === "ProtectionConfigured").length);
    expect(summary.totals.vaultBytes).toBe(summary.instances.reduce((sum, i) => sum + i.recoveryPoints.bytes, 0));
  });
});

describe("the Backup Center page", () => {
  test("when an error message holds markup, then the page shows it as text and runs only its own nonce'd script", () => {
    const page = renderBackupCenterPage(summary, pageOptions);
    expect(page).toContain("Database &quot;x&quot; not found &lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; more");
    expect(page).not.toContain("<script>alert");
    // The overview's own script and the console's bundle.
    expect(page.match(/<script\b[^>]*>/g)).toEqual(['<script nonce="n0nce">', '<script nonce="n0nce">']);
    expect(page.match(/<style\b[^>]*>/g)).toEqual(['<style nonce="n0nce">']);
    // No style attributes (the CSP refuses them), no event-handler attributes, nothing loaded from elsewhere.
    expect(page).not.toMatch(/\s(style|on[a-z]+)=/);
    // Links stay in the page: each instance's name leads to its console route.
    expect(page.match(/\s(src|href)="[^"]*"/g)).toEqual([' href="data:,"', ' href="#main"', ...summary.instances.map((i) => ` href="#/instances/${i.name}"`)]);
  });

  test("when the page is rendered, then it has one main, one h1, captioned tables, a polite live region, and text for every timeline cell", () => {
    const page = renderBackupCenterPage(summary, pageOptions);
    expect(page.match(/<main\b/g)).toHaveLength(1);
    expect(page.match(/<h1>/g)).toHaveLength(1);
    expect(page).toContain('role="status" aria-live="polite"');
    expect(page.match(/<table\b/g)).toHaveLength(page.match(/<caption>/g)?.length ?? -1);
    expect(page).toContain(`<th scope="row"><a class="name" href="#/instances/${c}">${c}</a>`);
    expect(page).toContain(`<span class="vh">2025-02-10: Failed (1 failed, 1 succeeded)</span>`);
    expect(page).toContain(`<span class="vh">2025-02-02: No jobs</span>`);
    expect(page).toContain(`<button type="button" class="backup" id="backup-${a}" data-instance="${a}">`);
    expect(page).toContain("<dt>RPO breached</dt>");
    expect(page).toMatch(new RegExp(`<tr id="instance-${c}">(?:(?!</tr>)[^])*<span class="result failed" title="breached since 2025-02-21 03:31 UTC"><span class="sym" aria-hidden="true">✕</span> Breached</span>`));
    // A stopped instance offers no backup.
    expect(page).not.toContain(`data-instance="${b}"`);
  });

  test("when a Reader's page is rendered, then it offers no Back up now and has no actions column; an Operator's has both", () => {
    const reader = renderBackupCenterPage(summary, { ...pageOptions, roles: ["Backup.Reader"] });
    expect(reader).not.toContain("Back up now");
    expect(reader).not.toContain('class="backup"');
    expect(reader).not.toContain('<span class="vh">Actions</span>');
    expect(reader).not.toContain("Protection stopped</span></td>");
    const operator = renderBackupCenterPage(summary, { ...pageOptions, roles: ["Backup.Operator"] });
    expect(operator).toContain(`<button type="button" class="backup" id="backup-${a}" data-instance="${a}">`);
    expect(operator).toContain('<span class="vh">Actions</span>');
    // Every row has as many cells as the header has columns, with the actions column or without.
    for (const page of [reader, operator]) {
      const columns = /<thead><tr>((?:(?!<\/tr>)[^])*)<\/tr><\/thead>/.exec(page)![1]!.match(/<th scope="col"/g)!.length;
      for (const row of page.match(/<tr id="instance-[^"]*">(?:(?!<\/tr>)[^])*<\/tr>/g)!) expect((row.match(/<t[hd][\s>]/g) ?? []).length).toBe(columns);
    }
  });

  test("when the catalog is empty, or more jobs failed than are listed, then the page says so", () => {
    const empty: BackupCenterSummary = { generatedAt: now.toISOString(), days: windowDays(now), totals: { instances: 0, protected: 0, failedJobs: 0, vaultBytes: 0, health: { Healthy: 0, AtRisk: 0, Breached: 0 } }, instances: [], failedJobs: [] };
    const page = renderBackupCenterPage(empty, pageOptions);
    expect(page).toContain("No backup instances yet.");
    expect(page).toContain("No failed jobs.");
    expect(page).not.toContain("<table");
    const many = renderBackupCenterPage({ ...summary, totals: { ...summary.totals, failedJobs: 120 } }, pageOptions);
    expect(many).toContain(`<caption>Failed jobs, newest first: the newest ${summary.failedJobs.length} of 120</caption>`);
  });

  test("when GET /backup-center is called, then 200 HTML, never cached, under a CSP whose nonce is the page's", async () => {
    const response = await handled(backupCenter)(request("GET", "backup-center"), invocation("backupCenter"));
    expect(response.status).toBe(200);
    const headers = new Headers(response.headers as Record<string, string>);
    expect(headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(headers.get("cache-control")).toBe("no-store");
    const csp = headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(csp).toBe(
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    expect(String(response.body)).toContain(`<script nonce="${nonce}">`);
  });
});
