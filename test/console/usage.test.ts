/**
 * `#/usage` in a real browser (issue 27, item 6) against the local host on a private Azurite, so the charts show
 * this file's story: 90 days of one instance's backups (growing, two failed, retention purging points after 30
 * days), one breached, one at risk, one stopped. Each chart is an image with a name that says its figures, its
 * data as a table, the instance is chosen with the keyboard; axe-core finds no serious violation, and the page
 * logs no error.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { formatBytes } from "../../shared/backupCenter/format";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { catalogTables, deleteRow } from "../../shared/catalog/documents";
import { updateJob } from "../../shared/catalog/jobRows";
import type { BackupPolicy, RecoveryPoint } from "../../shared/domain";
import { PgVaultError } from "../../shared/errors";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { openConsole, seriousAccessibilityViolations, useChromium } from "../support/consoleBrowser";
import { repoRoot, startHostProcess, type HostProcess } from "../support/localHost";
import { cluster } from "../support/testDatabase";

const screenshotFile = path.join(repoRoot, "docs", "console-usage.png");
const day = 86_400_000;
const hour = 3_600_000;
const mib = 1024 ** 2;
const today = Math.floor(Date.now() / day) * day;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

const browser = useChromium();
let vault: AzuriteInstance;
let host: HostProcess;
let serial = 0;
/** orders-prod's bytes held now: its points of the last 30 days. */
let ordersHeld = 0;

function policy(name: string, period: string): BackupPolicy {
  return { name, datasourceType: "database", schedule: { repeatingIntervals: [`R/2026-01-05T02:00:00Z/${period}`], timeZone: "UTC" }, retention: { default: { duration: "P30D" }, rules: [] } };
}

async function point(instanceName: string, time: number, sizeBytes: number): Promise<string> {
  const id = recoveryPointId(new Date(time), (++serial).toString(16).padStart(8, "0"));
  const expires = time + 30 * day;
  // Retention purged it if it expired before today (UTC); today's run may not have come yet.
  const purged = expires < today ? { status: "Deleted" as const, deletionStartedAt: iso(expires + hour) } : { status: "Available" as const };
  await putRecoveryPoint({ id, instanceName, time: iso(time), tag: "Default", expiresAt: iso(expires), sizeBytes, blobs: [], format: "pg_dump-custom", sha256: "0".repeat(64), serverVersion: "16", toolVersion: "16", ...purged } as RecoveryPoint);
  return id;
}

async function backup(instanceName: string, start: number, seconds: number, bytes: number, failed = false): Promise<void> {
  const rpId = failed ? undefined : await point(instanceName, start + seconds * 1000, bytes);
  await updateJob(`${instanceName}-${iso(start).replace(/[-:]/g, "")}`, {
    operation: "Backup",
    trigger: "Scheduled",
    instanceName,
    status: failed ? "Failed" : "Succeeded",
    phase: "Done",
    startTime: iso(start),
    endTime: iso(start + seconds * 1000),
    bytes: failed ? 0 : bytes,
    ...(rpId ? { recoveryPointId: rpId } : {}),
    ...(failed ? { error: new PgVaultError("UserErrorServerUnreachable", "Server did not answer within 30 s.").toJobError() } : {}),
  });
}

beforeAll(async () => {
  vault = await startAzurite();
  process.env.VaultStorage = vault.connectionString;
  await Promise.all([putPolicy(policy("daily-30d", "P1D")), putPolicy(policy("weekly-30d", "P1W"))]);
  const datasource = (database: string) => ({ type: "database" as const, host: "pg.example.com", port: 5432, database, secretRef: "env:PGVAULT_SECRET_X" });
  const created = iso(today - 400 * day);
  await putInstance({ name: "orders-prod", policyName: "daily-30d", datasource: datasource("orders"), protectionState: "ProtectionConfigured", createdAt: created });
  await putInstance({ name: "billing-eu", policyName: "daily-30d", datasource: datasource("billing"), protectionState: "ProtectionConfigured", createdAt: created });
  await putInstance({ name: "analytics", policyName: "weekly-30d", datasource: datasource("analytics"), protectionState: "ProtectionConfigured", createdAt: created });
  await putInstance({ name: "legacy-crm", policyName: "daily-30d", datasource: datasource("crm"), protectionState: "ProtectionStopped", createdAt: created });

  // orders-prod: a backup every day for 89 days, growing from 40 to 62 MiB and from 60 to 150 s; two failed. Its
  // newest point, an hour ago, keeps it healthy.
  const seeds: Promise<void>[] = [];
  for (let d = 89; d >= 1; d--) {
    const bytes = Math.round((40 + (89 - d) / 4) * mib);
    seeds.push(backup("orders-prod", today - d * day + 2 * hour, 60 + (89 - d), bytes, d === 40 || d === 12));
    if (d <= 30 && d !== 12) ordersHeld += bytes;
  }
  seeds.push(backup("orders-prod", Date.now() - hour, 151, 63 * mib));
  ordersHeld += 63 * mib;
  // billing-eu: 200 MiB a day until two days ago: breached. analytics: weekly, newest six days ago: at risk.
  for (let d = 40; d >= 2; d--) seeds.push(backup("billing-eu", today - d * day + 3 * hour, 300, 200 * mib));
  for (const d of [27, 20, 13, 6]) seeds.push(backup("analytics", today - d * day + hour, 900, 1024 * mib));
  for (let i = 0; i < seeds.length; i += 40) await Promise.all(seeds.slice(i, i + 40));
  host = await startHostProcess(repoRoot, { AzureWebJobsStorage: vault.connectionString, VaultStorage: vault.connectionString, PG_BIN_DIR: cluster().binDir });
}, 300_000);
afterAll(async () => {
  await host?.kill("SIGTERM");
  await vault?.stop();
});

test("when a reader opens Usage, then each chart is an image named with its figures and has its data as a table, the instance is chosen with the keyboard, and axe-core finds nothing serious", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, "#/usage");
  await page.getByRole("heading", { level: 1, name: "Usage and health" }).waitFor();
  expect(await page.title()).toBe("Usage · pgvault");
  expect(await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Usage" }).count()).toBe(1);

  // Vault usage: the image's name says today's figure in words; the table has a row per day.
  const vaultChart = page.getByRole("img", { name: /^Vault data, last 90 days\. / });
  await vaultChart.waitFor();
  const vaultLabel = (await vaultChart.getAttribute("aria-label")) ?? "";
  const billingHeld = 29 * 200 * mib; // days 30 to 2; those before expired before today, purged
  const analyticsHeld = 4 * 1024 * mib;
  expect(vaultLabel).toContain(`${formatBytes(ordersHeld + billingHeld + analyticsHeld)} in ${30 + 29 + 4} recovery points today`);
  expect(await vaultChart.locator("title").textContent()).toBe("Vault data, last 90 days");
  expect(await vaultChart.locator("desc").textContent()).toBe(vaultLabel.replace(/^Vault data, last 90 days\. /, ""));
  await page.getByText("Vault data at the end of each day (UTC): the data as a table").click();
  const vaultTable = page.getByRole("table", { name: "Vault data at the end of each day (UTC)" });
  expect(await vaultTable.getByRole("row").count()).toBe(1 + 90);
  expect(await vaultTable.getByRole("row").nth(1).getByRole("rowheader").textContent()).toBe(iso(today).slice(0, 10));

  // RPO health: counts in words, and a bar per instance that owes an RPO, its state in words.
  const counts = page.getByRole("list", { name: "Instances per RPO state" }).getByRole("listitem");
  expect(await counts.allInnerTexts()).toEqual(["✓ Healthy: 1", "⚠ At risk: 1", "✕ Breached: 1", "– No RPO: 1"]);
  const healthChart = page.getByRole("img", { name: /^Newest recovery point's age against the RPO\. 1 healthy, 1 at risk, 1 breached, 1 without an RPO; the oldest newest point against its RPO: billing-eu, ✕ Breached: / });
  expect(await healthChart.count()).toBe(1);
  expect(await healthChart.locator("g.bar").count()).toBe(3);
  expect(await healthChart.locator("g.bar text").allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^analytics$/), expect.stringMatching(/^⚠ At risk: \d+ d \d+ h of 7 d 1 h \(\d+%\)$/)]));

  // Backups: the first instance by name (analytics); the arrow keys move through billing-eu and legacy-crm to orders-prod.
  const instance = page.getByLabel("Instance", { exact: true });
  expect(await instance.inputValue()).toBe("analytics");
  await page.getByRole("img", { name: /^Backup duration, analytics\. 4 backups of analytics; the longest took 15 min/ }).waitFor();
  await instance.focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowDown");
  expect(await instance.inputValue()).toBe("orders-prod");
  const durations = page.getByRole("img", { name: /^Backup duration, orders-prod\. 90 backups of orders-prod, 2 failed; the longest took 2 min 31 s on \d{4}-\d\d-\d\d, the latest 2 min 31 s\.$/ });
  await durations.waitFor();
  expect(await durations.locator("g.bar").count()).toBe(90);
  expect(await durations.locator("g.bar.failed").count()).toBe(2);
  // A failure is a shape and a word, not only a colour.
  expect(await durations.locator("g.bar.failed text").allTextContents()).toEqual(["✕", "✕"]);
  expect(await durations.locator("g.bar.failed title").first().textContent()).toMatch(/^\d{4}-\d\d-\d\d 02:00 UTC: Failed, \d+ min \d+ s$/);
  const sizes = page.getByRole("img", { name: /^Backup size, orders-prod\. 90 backups of orders-prod, 2 failed; the largest wrote 63 MiB on / });
  expect(await sizes.count()).toBe(1);
  expect(page.url()).toMatch(/#\/usage\?instance=orders-prod$/);
  await page.getByText("Backups of orders-prod, newest first: the data as a table").click();
  const runs = page.getByRole("table", { name: "Backups of orders-prod, newest first" });
  expect(await runs.getByRole("row").count()).toBe(1 + 90);
  expect(await runs.getByRole("row").nth(1).getByRole("cell").allInnerTexts()).toEqual(["Succeeded", "2 min 31 s", "63 MiB"]);

  // The charts fit a laptop's window.
  expect(Number(await page.evaluate("document.documentElement.scrollWidth"))).toBeLessThanOrEqual(1366);
  if (process.env.UPDATE_SCREENSHOT === "1" || !existsSync(screenshotFile)) {
    // The picture shows the charts with their tables folded again.
    await page.getByText("Backups of orders-prod, newest first: the data as a table").click();
    await page.getByText("Vault data at the end of each day (UTC): the data as a table").click();
    await page.screenshot({ path: screenshotFile, fullPage: true });
  }
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  expect(problems).toEqual([]);
});

test("when the report refuses an instance, then the page shows the error with its code, not an empty chart", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, "#/usage?instance=orders-prod");
  await page.getByRole("img", { name: /^Backup duration, orders-prod\./ }).waitFor();
  // legacy-crm is deleted after the page listed it: the API answers 404 for it.
  await deleteRow(catalogTables.instances, "instance", "legacy-crm");
  await page.getByLabel("Instance", { exact: true }).selectOption("legacy-crm");
  const alert = page.getByRole("alert").filter({ hasText: "The backups of legacy-crm could not be read" });
  await alert.waitFor();
  expect(await alert.innerText()).toContain("NotFound: Backup instance 'legacy-crm' does not exist.");
  expect(await page.getByRole("img", { name: /^Backup duration, / }).count()).toBe(0);
  // Chromium logs the refused fetch; nothing else.
  expect(problems).toEqual(["Failed to load resource: the server responded with a status of 404 (Not Found)"]);
});
