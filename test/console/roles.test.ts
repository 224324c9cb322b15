/**
 * Roles shape the page (issue 27, item 7), behind App Service authentication (`AUTH_MODE=appServiceRoles`, the
 * caller's roles in `x-ms-client-principal`): a Reader sees the views but no action, an Operator can start a
 * backup but configures nothing, an Admin sees everything; and when the API refuses what the page offered (a role
 * taken away after the page was rendered), the refusal is shown with its code and message. Covers the overview,
 * Usage and Protect's link; each view's own test checks its actions by role.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { putInstance, putPolicy } from "../../shared/catalog/catalog";
import { openConsole, useChromium, type ConsolePage } from "../support/consoleBrowser";
import { startAppHost, type HostProcess } from "../support/localHost";
import { principalHeader } from "../support/principal";
import { uniqueName } from "../support/testDatabase";

const browser = useChromium();
let host: HostProcess;
const instanceName = uniqueName("roles").replaceAll("_", "-");

beforeAll(async () => {
  // A daily slot half a day away: the host's scheduler starts no backup while the test runs.
  const hour = (new Date().getUTCHours() + 12) % 24;
  await putPolicy({ name: `${instanceName}-p`, datasourceType: "database", schedule: { repeatingIntervals: [`R/2026-01-05T${String(hour).padStart(2, "0")}:30:00Z/P1D`], timeZone: "UTC" }, retention: { default: { duration: "P7D" }, rules: [] } });
  await putInstance({ name: instanceName, policyName: `${instanceName}-p`, datasource: { type: "database", host: "pg.example.com", port: 5432, database: "roles", secretRef: "env:PGVAULT_SECRET_ROLES" }, protectionState: "ProtectionConfigured", createdAt: new Date().toISOString() });
  host = await startAppHost({ AUTH_MODE: "appServiceRoles" });
}, 120_000);
afterAll(() => host?.kill("SIGTERM"));

async function overviewAs(roles: readonly string[]): Promise<ConsolePage> {
  const opened = await openConsole(browser(), host.origin, "", { roles });
  await opened.page.getByRole("heading", { level: 1, name: "Backup Center" }).waitFor();
  return opened;
}

const nav = ({ page }: ConsolePage) => page.getByRole("navigation", { name: "Console" });
const backUpNow = ({ page }: ConsolePage) => page.getByRole("button", { name: `Back up now ${instanceName}` });

test("when a Reader opens the console, then it shows the views but no action: no Back up now, and Usage reads", async () => {
  const reader = await overviewAs(["Backup.Reader"]);
  expect(await reader.page.locator("body").getAttribute("data-roles")).toBe('["Backup.Reader"]');
  expect(await nav(reader).getByRole("link", { name: "Usage" }).count()).toBe(1);
  expect(await nav(reader).getByRole("link", { name: "Protect" }).count()).toBe(0);
  expect(await reader.page.getByRole("row", { name: new RegExp(`^${instanceName} `) }).count()).toBe(1);
  expect(await backUpNow(reader).count()).toBe(0);
  expect(await reader.page.getByRole("button", { name: /^Back up now/ }).count()).toBe(0);
  expect(await reader.page.getByRole("columnheader", { name: "Actions" }).count()).toBe(0);
  await nav(reader).getByRole("link", { name: "Usage" }).click();
  await reader.page.getByRole("img", { name: /^Vault data, last 90 days\./ }).waitFor();
  // No action in the view (the header keeps the overview's Refresh now, a read).
  expect(await reader.page.getByRole("main").getByRole("button").allInnerTexts()).toEqual([]);
  expect(reader.problems).toEqual([]);
});

test.each([
  { role: "Backup.Operator", offers: "Back up now but no configuration", protect: 0 },
  { role: "Backup.Admin", offers: "every view and action", protect: 1 },
])("when a $role opens the console, then it offers $offers", async ({ role, protect }) => {
  const opened = await overviewAs([role]);
  expect(await backUpNow(opened).count()).toBe(1);
  expect(await nav(opened).getByRole("link", { name: "Usage" }).count()).toBe(1);
  expect(await nav(opened).getByRole("link", { name: "Protect" }).count()).toBe(protect);
  expect(opened.problems).toEqual([]);
});

test("when the API refuses what the page offered (the role was taken away after the page loaded), then the page shows the refusal", async () => {
  // Every request is a Reader's, except the page itself, rendered while the caller was still an Operator.
  const reader = await openConsole(browser(), host.origin, "", { roles: ["Backup.Reader"] });
  await reader.page.route(`${host.origin}/api/backup-center*`, (route) =>
    route.request().resourceType() === "document"
      ? route.continue({ headers: { ...route.request().headers(), "x-ms-client-principal": principalHeader(["Backup.Operator"]) } })
      : route.continue(),
  );
  await reader.page.reload();
  await backUpNow(reader).click();
  await expect
    .poll(() => reader.page.getByRole("status").textContent(), { timeout: 15_000 })
    .toBe(`Backup of ${instanceName} was not started: Forbidden: POST backupInstances/{name}/backup needs the role 'Backup.Operator' (or a higher one), which the caller does not have.`);
  // Chromium logs the refused request; nothing else went wrong.
  expect(reader.problems).toEqual(["Failed to load resource: the server responded with a status of 403 (Forbidden)"]);
});
