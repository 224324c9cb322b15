/**
 * The console's "Protect" page in Debian's chromium against a host process (issue 27: "protect two databases from
 * discovery, one needing grants"): discover a server, read the grant script the page shows for the database
 * that fails the access check, run it in PostgreSQL as an admin, discover again, select both, protect them under
 * a policy, and see both created, then listed by GET /api/backupInstances. No console error or CSP violation,
 * no serious axe-core violation.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openConsole, seriousAccessibilityViolations, useChromium } from "../support/consoleBrowser";
import { envSecret } from "../support/backupFixture";
import { callHost, repoRoot, startAppHost, type HostProcess } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const screenshotFile = path.join(repoRoot, "docs", "console-protect.png");
const browser = useChromium();
const role = uniqueName("ui_role");
const ready = uniqueName("ui_ready");
const needs = uniqueName("ui_needs");
const policyName = uniqueName("ui-pol").replaceAll("_", "-");
/** The page's default instance names: the database names in the naming rule's characters. */
const instanceOf = (database: string) => database.replaceAll("_", "-");
let secretRef: string;
let host: HostProcess;

beforeAll(async () => {
  await createDatabase(ready);
  await createDatabase(needs);
  await withAdmin(ready, (c) => c.query(`CREATE TABLE public.orders (id serial PRIMARY KEY, total numeric)`));
  await createBackupRole(ready, role, "pw-ui-protect-1");
  await withAdmin(needs, (c) => c.query(`CREATE SCHEMA billing; CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, amount numeric)`));
  secretRef = envSecret(`PGVAULT_SECRET_UI_${role.toUpperCase()}`, role, "pw-ui-protect-1");
  host = await startAppHost({});
  const policy = { datasourceType: "database", schedule: { repeatingIntervals: ["R/2026-01-01T03:00:00Z/P1D"], timeZone: "UTC" }, retention: { default: { duration: "P7D" } } };
  expect((await callHost(host.origin, "PUT", `/api/backupPolicies/${policyName}`, policy)).status).toBe(201);
});
afterAll(async () => {
  await host?.kill("SIGTERM");
  await dropDatabasesAndRoles([ready, needs], [role]);
});

test("when two databases are discovered and one needs grants, then its grant script applied makes it pass, and both are protected in one action", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, "#/protect");
  await page.getByRole("heading", { level: 1, name: "Protect databases" }).waitFor();
  const entraUser = page.getByLabel("Microsoft Entra user (PostgreSQL role)");
  expect(await entraUser.isVisible()).toBe(false);
  await page.getByLabel("the app's Microsoft Entra identity").check();
  expect(await entraUser.isVisible()).toBe(true);
  expect(await page.getByLabel("Secret reference").isVisible()).toBe(false);
  await page.getByLabel("a secret (its credentials name the server)").check();
  await page.getByLabel("Host").fill(cluster().host);
  await page.getByLabel("Port").fill(String(cluster().port));
  await page.getByLabel("Secret reference").fill(secretRef);
  await page.getByRole("button", { name: "Discover" }).click();

  const table = page.getByRole("table", { name: /^Databases on / });
  await table.waitFor();
  const readyRow = table.getByRole("row").filter({ has: page.getByRole("rowheader", { name: ready, exact: true }) });
  const needsRow = table.getByRole("row").filter({ has: page.getByRole("rowheader", { name: needs, exact: true }) });
  expect(await readyRow.getByRole("cell").allInnerTexts()).toEqual(["", expect.stringMatching(/ (B|KiB|MiB)$/), "No", "Passes", ""]);
  expect(await needsRow.getByRole("cell").nth(3).innerText()).toContain("Fails");

  const scriptSection = page.getByRole("region", { name: `Grant script for ${needs}` });
  const script = await scriptSection.locator("pre code").innerText();
  expect(script).toContain(`GRANT USAGE ON SCHEMA "billing" TO "${role}";`);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  if (process.env.UPDATE_SCREENSHOT === "1" || !existsSync(screenshotFile)) await page.screenshot({ path: screenshotFile, fullPage: true });

  await withAdmin(needs, (c) => c.query(script));
  await page.getByRole("button", { name: "Discover" }).click();
  await scriptSection.waitFor({ state: "detached" });
  expect(await needsRow.getByRole("cell").nth(3).innerText()).toBe("Passes");

  await page.getByLabel(`Protect ${ready}`).check();
  await page.getByLabel(`Protect ${needs}`).check();
  expect(await page.getByLabel(`Instance name for ${needs}`).inputValue()).toBe(instanceOf(needs));
  await page.getByLabel("Policy", { exact: true }).selectOption(policyName);
  await page.getByRole("button", { name: "Protect selected" }).click();

  const results = page.getByRole("table", { name: "Protection: 2 protected, 0 failed" });
  await results.waitFor();
  for (const database of [ready, needs]) {
    const row = results.getByRole("row").filter({ has: page.getByRole("rowheader", { name: database, exact: true }) });
    expect(await row.getByRole("cell").allInnerTexts()).toEqual([instanceOf(database), "Created", "ProtectionConfigured"]);
  }
  expect(await seriousAccessibilityViolations(page)).toEqual([]);

  const listed = await callHost(host.origin, "GET", "/api/backupInstances");
  const instances = (listed.json as { value: { name: string; policyName: string; datasource: { database: string } }[] }).value;
  for (const database of [ready, needs]) {
    expect(instances.find((instance) => instance.name === instanceOf(database))).toMatchObject({ policyName, datasource: { database } });
  }
  expect(problems).toEqual([]);
});

test("when a discovery is refused, then the page shows the code and what to do", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, "#/protect");
  await page.getByLabel("Host").fill(cluster().host);
  await page.getByLabel("Port").fill(String(cluster().port + 1));
  await page.getByLabel("Secret reference").fill(secretRef);
  await page.getByRole("button", { name: "Discover" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "Discovery failed" });
  await alert.waitFor();
  expect(await alert.innerText()).toContain("UserErrorSecretServerMismatch");
  expect(problems.filter((problem) => !problem.includes("422"))).toEqual([]);
});

test("when a Flexible Server resource id is entered, then the role assignments it needs are spelled out", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, "#/protect");
  const resourceId = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-db/providers/Microsoft.DBforPostgreSQL/flexibleServers/sales-prod";
  await page.getByLabel("Resource id").fill(resourceId);
  const commands = await page.getByRole("region", { name: "A Flexible Server" }).locator("pre code").innerText();
  expect(commands).toBe(
    'az role assignment create --role acdd72a7-3385-48ef-bd42-f606fba81ae7 --assignee "$PGVAULT_MANAGED_IDENTITY_CLIENT_ID" \\\n' +
      '  --scope "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-db"\n' +
      'az role assignment create --role c088a766-074b-43ba-90d4-1fb21feae531 --assignee "$PGVAULT_MANAGED_IDENTITY_CLIENT_ID" \\\n' +
      `  --scope "${resourceId}"`,
  );
  expect(await page.getByLabel("Instance name", { exact: true }).inputValue()).toBe("sales-prod");
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  expect(problems).toEqual([]);
});

describe("roles", () => {
  let rolesHost: HostProcess;
  beforeAll(async () => {
    rolesHost = await startAppHost({ AUTH_MODE: "appServiceRoles" });
  });
  afterAll(() => rolesHost?.kill("SIGTERM"));

  test.each([["Backup.Reader"], ["Backup.Operator"]])("when a %s opens the console, then it offers no Protect link, and the page offers no form", async (held) => {
    const { page, problems } = await openConsole(browser(), rolesHost.origin, "", { roles: [held] });
    const nav = page.getByRole("navigation", { name: "Console" });
    await nav.getByRole("link", { name: "Overview" }).waitFor();
    expect(await nav.getByRole("link", { name: "Protect" }).count()).toBe(0);
    await page.evaluate("location.hash = '#/protect'");
    await page.getByText("Protecting databases needs the Backup.Admin role.").waitFor();
    expect(await page.getByRole("button").filter({ hasText: /Discover|Protect/ }).count()).toBe(0);
    expect(problems).toEqual([]);
  });
});
