/**
 * The Backup Center in a real browser (Debian chromium driven by playwright-core) against the local host as
 * `npm start` runs it, with real PostgreSQL. The vault is a private Azurite: the page lists every instance of its
 * catalog, and the screenshot in docs/ should show this story, not whatever other test files left behind.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { updateJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, BackupPolicy, Job, RecoveryPoint } from "../../shared/domain";
import { errorCatalog, PgVaultError, type JobError } from "../../shared/errors";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { databaseSource, envSecret } from "../support/backupFixture";
import { repoRoot, startHostProcess, waitUntil, type HostProcess } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const screenshotFile = path.join(repoRoot, "docs", "backup-center.png");
const dayMs = 86_400_000;
const mib = 1024 ** 2;
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const functionKey = "test-function-key";

const database = uniqueName("bc_sales");
const role = uniqueName("bc_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const missingGrants = new PgVaultError(
  "UserErrorMissingDBPermissions",
  "Backup user 'billing_backup' on database 'billing' lacks SELECT on tables billing.invoices, billing.payments.",
).toJobError();

let vault: AzuriteInstance;
let host: HostProcess;
let browser: Browser;
let seededSalesPoints = 0;

/** A daily slot half a day away, so no scheduler tick comes due while the test runs. */
function quietDailyPolicy(name: string, datasourceType: BackupPolicy["datasourceType"], period = "P1D"): BackupPolicy {
  const hour = (new Date().getUTCHours() + 12) % 24;
  return {
    name,
    datasourceType,
    schedule: { repeatingIntervals: [`R/2026-01-05T${String(hour).padStart(2, "0")}:30:00Z/${period}`], timeZone: "UTC" },
    retention: { default: { duration: "P90D" }, rules: [] },
  };
}

async function instance(name: string, policyName: string, datasource: BackupInstance["datasource"], protectionState: BackupInstance["protectionState"] = "ProtectionConfigured") {
  // Created now: the scheduler owes no slot before it.
  await putInstance({ name, policyName, datasource, protectionState, createdAt: new Date().toISOString() });
}

/** A finished backup job (and its recovery point when it succeeded) at 10:00 UTC `daysAgo` days before today. */
async function history(instanceName: string, daysAgo: number, status: Job["status"], options: { bytes?: number; error?: JobError; today: number }) {
  const start = options.today - daysAgo * dayMs + 10 * 3_600_000;
  const id = `seed-${instanceName}-${isoSeconds(start).replace(/[-:]/g, "")}`;
  let rpId: string | undefined;
  if (status === "Succeeded" && options.bytes !== undefined) {
    rpId = recoveryPointId(new Date(start + 60_000), Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, "0"));
    const rp: RecoveryPoint = {
      id: rpId,
      instanceName,
      time: isoSeconds(start + 60_000),
      tag: "Default",
      expiresAt: isoSeconds(start + 90 * dayMs),
      status: "Available",
      sizeBytes: options.bytes,
      sha256: "00",
      format: "pg_dump-custom",
      serverVersion: "15.18",
      toolVersion: "pg_dump 15.18",
      blobs: [`backups/${instanceName}/${rpId}/seeded.dump`],
    };
    await putRecoveryPoint(rp);
  }
  await updateJob(id, {
    operation: "Backup",
    trigger: "Scheduled",
    instanceName,
    status,
    phase: "Done",
    startTime: isoSeconds(start),
    endTime: isoSeconds(start + 95_000),
    bytes: options.bytes ?? 0,
    ...(rpId ? { recoveryPointId: rpId } : {}),
    ...(options.error ? { error: options.error } : {}),
  });
}

async function seedCatalog(): Promise<void> {
  const today = Math.floor(Date.now() / dayMs) * dayMs;
  await Promise.all([
    putPolicy(quietDailyPolicy("daily-90d", "database")),
    putPolicy(quietDailyPolicy("flex-weekly", "flexibleServer", "P1W")),
  ]);
  await instance("sales-prod", "daily-90d", databaseSource(database, `env:${secretSetting}`));
  await instance("billing-eu", "daily-90d", { type: "database", host: "billing-eu.postgres.example.net", port: 5432, database: "billing", secretRef: "env:BILLING_PG" });
  await instance("flex-analytics", "flex-weekly", {
    type: "flexibleServer",
    resourceId: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/flex-analytics",
  });
  await instance("legacy-crm", "daily-90d", { type: "database", host: "10.20.0.4", port: 5433, database: "crm", secretRef: "env:CRM_PG" }, "ProtectionStopped");

  const seeds: Promise<void>[] = [];
  for (let day = 29; day >= 1; day--) {
    if (day === 12) seeds.push(history("sales-prod", day, "Failed", { today, error: new PgVaultError("UserErrorServerUnreachable", "Server 127.0.0.1:5432 did not answer within 30 s.").toJobError() }));
    else {
      seeds.push(history("sales-prod", day, "Succeeded", { today, bytes: Math.round((40 + day / 7) * mib) }));
      seededSalesPoints++;
    }
    if (day >= 3) seeds.push(history("billing-eu", day, "Succeeded", { today, bytes: Math.round((210 - day) * mib) }));
    else seeds.push(history("billing-eu", day, "Failed", { today, error: missingGrants }));
    if (day % 7 === 2) seeds.push(history("flex-analytics", day, "Succeeded", { today, bytes: Math.round(38.5 * 1024 * mib) }));
  }
  seeds.push(history("legacy-crm", 45, "Succeeded", { today, bytes: 12 * mib }));
  seeds.push(history("legacy-crm", 44, "Succeeded", { today, bytes: 12 * mib }));
  await Promise.all(seeds);
}

beforeAll(async () => {
  vault = await startAzurite();
  // Before any app module reads its configuration: this file's vault is its own.
  process.env.VaultStorage = vault.connectionString;
  await createDatabase(database);
  await withAdmin(database, (c) => c.query("CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 1000) g"));
  await createBackupRole(database, role, "pw-backup-center");
  envSecret(secretSetting, role, "pw-backup-center");
  await seedCatalog();
  const env = {
    AzureWebJobsStorage: vault.connectionString,
    VaultStorage: vault.connectionString,
    PG_BIN_DIR: cluster().binDir,
    [secretSetting]: process.env[secretSetting]!,
  };
  [host, browser] = await Promise.all([
    startHostProcess(repoRoot, env),
    chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await host?.kill("SIGTERM");
  await vault?.stop();
});

async function jobStatus(jobId: string): Promise<Job | undefined> {
  const response = await fetch(`${host.origin}/api/jobs/${jobId}`);
  return response.ok ? ((await response.json()) as Job) : undefined;
}

const row = (page: Page, name: string) => page.getByRole("table", { name: /^Backup instances/ }).getByRole("row", { name: new RegExp(`^${name} `) });

test("when an operator opens the Backup Center, then it shows every instance and the failed job with its fix, and its button starts a backup that succeeds", async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const requests: { url: string; method: string; key: string | undefined }[] = [];
  const consoleErrors: string[] = [];
  page.on("request", (request) => requests.push({ url: request.url(), method: request.method(), key: request.headers()["x-functions-key"] }));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));

  const response = await page.goto(`${host.origin}/api/backup-center?code=${functionKey}`);
  expect(response?.status()).toBe(200);
  expect(response?.headers()["content-type"]).toBe("text/html; charset=utf-8");
  expect(await page.title()).toBe("Backup Center · pgvault");
  expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Backup Center");
  expect(await page.getByRole("main").count()).toBe(1);

  // Every instance, with what its row should say.
  for (const name of ["billing-eu", "flex-analytics", "legacy-crm", "sales-prod"]) expect(await row(page, name).count()).toBe(1);
  expect(await row(page, "billing-eu").getByRole("cell").nth(2).innerText()).toMatch(/Failed\n\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  expect(await row(page, "legacy-crm").innerText()).toMatch(/Stopped/);
  expect(await row(page, "legacy-crm").getByRole("button").count()).toBe(0);
  // RPO health, in words (never colour alone): billing-eu's newest point is over two days old against a daily
  // policy's 25 hours, flex-analytics' two days against a weekly one's 169; a stopped instance owes none.
  const health = (name: string) => row(page, name).getByRole("cell").nth(5).innerText();
  expect(await health("billing-eu")).toMatch(/^✕ Breached[^]*RPO PT25H, point \d+ d \d+ h old$/);
  expect(await health("flex-analytics")).toMatch(/^✓ Healthy[^]*RPO PT169H, point \d+ (h|d \d+ h) old$/);
  expect(await health("legacy-crm")).toBe("No RPO");
  expect(await row(page, "flex-analytics").getByRole("rowheader").innerText()).toContain("Flexible Server: flex-analytics");
  // The timeline is readable without colour: each day has its own text.
  const billingDays = row(page, "billing-eu").getByRole("list", { name: /^Job results per day for billing-eu/ }).getByRole("listitem");
  expect(await billingDays.count()).toBe(30);
  expect(await billingDays.last().textContent()).toMatch(/^\d{4}-\d{2}-\d{2}: No jobs$/);
  expect(await billingDays.nth(28).textContent()).toMatch(/^✕\d{4}-\d{2}-\d{2}: Failed \(1 failed\)$/);
  expect(await billingDays.nth(0).textContent()).toMatch(/^✓\d{4}-\d{2}-\d{2}: Succeeded \(1 succeeded\)$/);

  // The failed job: its code and what to do about it.
  const failed = page.getByRole("table", { name: /^Failed jobs/ });
  const billingFailure = failed.getByRole("row").filter({ hasText: "billing-eu" }).first();
  expect(await billingFailure.getByRole("cell").nth(3).innerText()).toContain("UserErrorMissingDBPermissions");
  expect(await billingFailure.getByRole("cell").nth(3).innerText()).toContain("lacks SELECT on tables billing.invoices");
  expect(await billingFailure.getByRole("cell").nth(4).innerText()).toBe(errorCatalog.UserErrorMissingDBPermissions.recommendedAction);
  expect(await failed.getByRole("row").count()).toBe(1 + 3);

  // Readable on a laptop: nothing wider than the window.
  expect(Number(await page.evaluate("document.documentElement.scrollWidth"))).toBeLessThanOrEqual(1366);
  expect(await page.evaluate("Array.from(document.querySelectorAll('table')).every((t) => t.offsetWidth <= t.parentElement.clientWidth)")).toBe(true);
  if (process.env.UPDATE_SCREENSHOT === "1" || !existsSync(screenshotFile)) await page.screenshot({ path: screenshotFile, fullPage: true });

  // On-demand backup: announced in the live region, with the job id the API answered.
  const sales = row(page, "sales-prod");
  expect(await sales.getByRole("cell").nth(4).innerText()).toMatch(new RegExp(`^${seededSalesPoints}\\n`));
  await sales.getByRole("button", { name: "Back up now sales-prod" }).click();
  const status = page.getByRole("status");
  await expect.poll(() => status.textContent(), { timeout: 15_000 }).toMatch(/^Backup of sales-prod started: job (\S+)$/);
  const jobId = /job (\S+)$/.exec((await status.textContent()) ?? "")?.[1] ?? "";
  // Marks the button as rendered now, to see the refresh replace it.
  await page.evaluate("document.getElementById('backup-sales-prod').setAttribute('data-before-refresh', '')");
  expect(requests.filter((r) => r.method === "POST")).toEqual([{ url: `${host.origin}/api/backupInstances/sales-prod/backup`, method: "POST", key: functionKey }]);
  const job = await waitUntil(async () => {
    const current = await jobStatus(jobId);
    return current && ["Succeeded", "Failed", "Cancelled"].includes(current.status) ? current : undefined;
  }, 60_000, `job ${jobId} finished`);
  expect(job).toMatchObject({ id: jobId, operation: "Backup", trigger: "OnDemand", instanceName: "sales-prod", status: "Succeeded" });

  // The page refreshes itself after starting a backup, and the button keeps keyboard focus across the refresh.
  await expect.poll(() => page.evaluate("document.querySelector('#backup-sales-prod[data-before-refresh]') === null"), { timeout: 10_000 }).toBe(true);
  expect(await page.evaluate("document.activeElement && document.activeElement.id")).toBe("backup-sales-prod");
  await page.getByRole("button", { name: "Refresh now" }).click();
  await expect.poll(() => sales.getByRole("cell").nth(4).innerText(), { timeout: 10_000 }).toMatch(new RegExp(`^${seededSalesPoints + 1}\\n`));
  const todayUtc = new Date().toISOString().slice(0, 10);
  expect(await sales.getByRole("cell").nth(2).innerText()).toMatch(new RegExp(`^✓ Succeeded · [\\d.]+ KiB\\n${todayUtc} \\d\\d:\\d\\d UTC$`));
  expect(await health("sales-prod")).toMatch(/^✓ Healthy[^]*RPO PT25H, point \d+ min old$/);

  // A refused backup names the error code and message.
  await instance("flex-analytics", "flex-weekly", { type: "flexibleServer", resourceId: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/flex-analytics" }, "ProtectionStopped");
  await row(page, "flex-analytics").getByRole("button", { name: /^Back up now/ }).click();
  await expect
    .poll(() => status.textContent(), { timeout: 10_000 })
    .toBe("Backup of flex-analytics was not started: Conflict: Protection of 'flex-analytics' is stopped; configure it again to take backups.");

  expect(requests.filter((r) => !r.url.startsWith(`${host.origin}/`))).toEqual([]);
  // Chromium logs every non-2xx fetch; the refused backup's 409 is the only error.
  expect(consoleErrors).toEqual(["Failed to load resource: the server responded with a status of 409 (Conflict)"]);
  await page.close();
});
