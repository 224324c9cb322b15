/**
 * The console's restore wizard in Debian's chromium against a host process with real PostgreSQL (issue 27: "restore
 * one table into a schema and check it in PostgreSQL"): a database with two tables is backed up through the API;
 * the wizard picks the point (the latest before a time, then the calendar by keyboard), a new schema of a live
 * database as the target, one table of the point's contents, shows the pre-flight's findings, starts the restore and
 * follows its job to Succeeded; PostgreSQL then has that table in the schema with its rows, and not the other.
 * A schema name the API refuses shows the API's 400 with its details; an export the job refuses shows the job's
 * error with its recommended action; a Reader is offered no step. No console error or CSP violation, no serious
 * axe-core violation on any step.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { Job, RecoveryPoint } from "../../shared/domain";
import { openConsole, seriousAccessibilityViolations, useChromium } from "../support/consoleBrowser";
import { envSecret } from "../support/backupFixture";
import { callHost, configureHostedDatabase, repoRoot, startAppHost, waitUntil, type HostProcess } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const screenshotFile = path.join(repoRoot, "docs", "console-restore.png");
const pointScreenshotFile = path.join(repoRoot, "docs", "console-restore-point.png");
const screenshot = async (page: Page, file: string) => {
  if (process.env.UPDATE_SCREENSHOT === "1" || !existsSync(file)) await page.screenshot({ path: file, fullPage: true });
};
const browser = useChromium();
const source = uniqueName("ui_rs_source");
const live = uniqueName("ui_rs_live");
const role = uniqueName("ui_rs_role");
const policyName = uniqueName("ui-rs-pol").replaceAll("_", "-");
const instanceName = uniqueName("ui-rs").replaceAll("_", "-");
let restorerRef: string;
let host: HostProcess;
let point: RecoveryPoint;

beforeAll(async () => {
  await createDatabase(source);
  await withAdmin(source, (c) => c.query(`
    CREATE SCHEMA shop;
    CREATE TABLE shop.orders (id int PRIMARY KEY, total numeric(10,2));
    INSERT INTO shop.orders SELECT g, g * 1.5 FROM generate_series(1, 120) g;
    CREATE TABLE shop.customers (id int PRIMARY KEY, name text);
    INSERT INTO shop.customers SELECT g, 'customer ' || g FROM generate_series(1, 7) g;`));
  await createBackupRole(source, role, "pw-ui-restore-1");
  await createDatabase(live);
  await withAdmin(live, (c) => c.query(`CREATE TABLE public.still_here (id int); INSERT INTO public.still_here VALUES (1); CREATE SCHEMA archive`));
  const backupRef = envSecret(`PGVAULT_SECRET_UI_${role.toUpperCase()}`, role, "pw-ui-restore-1");
  // The restoring user: the suite's admin (CREATEDB, and CREATE on the live database, as intoSchema needs).
  restorerRef = envSecret(`PGVAULT_SECRET_UI_RESTORER_${role.toUpperCase()}`, cluster().user, cluster().password);
  host = await startAppHost({});
  await configureHostedDatabase(host.origin, { policyName, instanceName }, { host: cluster().host, port: cluster().port, database: source, secretRef: backupRef });
  const started = await callHost(host.origin, "POST", `/api/backupInstances/${instanceName}/backup`);
  expect(started.status).toBe(202);
  const jobId = (started.json as { jobId: string }).jobId;
  const job = await waitUntil(async () => {
    const answer = (await callHost(host.origin, "GET", `/api/jobs/${jobId}`)).json as unknown as Job;
    return ["Succeeded", "Failed", "Cancelled"].includes(answer.status) ? answer : undefined;
  }, 90_000, "the backup job ended");
  expect(job.status).toBe("Succeeded");
  point = ((await callHost(host.origin, "GET", `/api/backupInstances/${instanceName}/recoveryPoints`)).json as unknown as { value: RecoveryPoint[] }).value[0]!;
}, 180_000);
afterAll(async () => {
  await host?.kill("SIGTERM");
  await dropDatabasesAndRoles([source, live], [role]);
});

async function noSeriousViolations(page: Page, step: string) {
  expect(await seriousAccessibilityViolations(page), step).toEqual([]);
}

/** Step 2 filled for a new schema of the live database. */
async function intoSchemaTarget(page: Page, schema: string) {
  await page.getByRole("heading", { level: 2, name: "Step 2 of 4: Target" }).waitFor();
  await page.getByLabel("A new schema in a live database (tables restored beside what is there)").check();
  await page.getByRole("textbox", { name: "Secret reference" }).fill(restorerRef);
  await page.getByRole("textbox", { name: "Live database" }).fill(live);
  await page.getByRole("textbox", { name: "New schema" }).fill(schema);
}

test("when one table of a point is restored into a new schema of a live database from the wizard, then the pre-flight passes, the job is followed to Succeeded, and PostgreSQL has that table with its rows and not the other", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, `#/instances/${instanceName}/restore`);
  await page.getByRole("heading", { level: 1, name: `Restore ${instanceName}` }).waitFor();
  await page.getByRole("heading", { level: 2, name: "Step 1 of 4: Recovery point" }).waitFor();
  const next = page.getByRole("button", { name: "Next: target" });
  expect(await next.isDisabled()).toBe(true);

  // "The latest before" a time before the backup finds nothing; one after it finds the point.
  const pointTime = Date.parse(point.time);
  await page.getByLabel("The latest point before (UTC)").fill(new Date(pointTime - 3_600_000).toISOString().slice(0, 19));
  await page.getByRole("button", { name: "Choose the latest before" }).click();
  await page.getByText(/^No recovery point before /).waitFor();
  await page.getByLabel("The latest point before (UTC)").fill(new Date(pointTime + 60_000).toISOString().slice(0, 19));
  await page.getByRole("button", { name: "Choose the latest before" }).click();
  await page.getByText(`(${point.id})`).waitFor();
  expect(await page.getByRole("radio", { name: new RegExp(`^${point.time.slice(0, 16).replace("T", " ")} UTC`) }).isChecked()).toBe(true);

  // The calendar by keyboard: the point's day holds the focusable cell; arrows move off it and back.
  const pointDay = page.getByRole("grid").getByRole("button", { name: /, 1 recovery point$/ });
  expect(await pointDay.getAttribute("tabindex")).toBe("0");
  await pointDay.focus();
  await page.keyboard.press("ArrowRight");
  const nextDay = new Date(Date.parse(`${point.time.slice(0, 10)}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  expect(await page.evaluate("document.activeElement.dataset.day")).toBe(nextDay);
  await page.keyboard.press("ArrowLeft");
  expect(await page.evaluate("document.activeElement.dataset.day")).toBe(point.time.slice(0, 10));
  await page.keyboard.press("Enter");
  expect(await next.isDisabled()).toBe(false);
  await noSeriousViolations(page, "step 1");
  await screenshot(page, pointScreenshotFile);
  await next.click();

  // First a schema the live database already has: the pre-flight's fatal finding, and no start.
  await intoSchemaTarget(page, "archive");
  // A point of a database offers no server target; a schema in a live database has no ownership to preserve.
  expect(await page.getByLabel("A PostgreSQL server (the point's databases)").count()).toBe(0);
  expect(await page.getByLabel(/^Preserve ownership/).count()).toBe(0);
  await noSeriousViolations(page, "step 2");
  await page.getByRole("button", { name: "Next: tables" }).click();

  await page.getByRole("heading", { level: 2, name: "Step 3 of 4: Tables" }).waitFor();
  const orders = page.getByRole("checkbox", { name: /^orders \(120 rows/ });
  await orders.waitFor();
  expect(await page.getByRole("group", { name: "Schema shop" }).getByRole("checkbox").count()).toBe(3);
  await page.getByRole("button", { name: "Next: pre-flight" }).click();
  await page.getByText("Pick the tables (or schemas) to restore beside the live ones.").waitFor();
  await orders.check();
  await noSeriousViolations(page, "step 3");
  await page.getByRole("button", { name: "Next: pre-flight" }).click();

  await page.getByRole("heading", { level: 2, name: "Step 4 of 4: Pre-flight and start" }).waitFor();
  await page.getByRole("heading", { level: 3, name: `Pre-flight found problems on ${cluster().host}:${cluster().port}` }).waitFor();
  const finding = page.getByRole("listitem").filter({ hasText: "UserErrorDatabaseNameAlreadyInUse" });
  expect(await finding.count()).toBe(1);
  expect(await finding.textContent()).toMatch(/^Fatal UserErrorDatabaseNameAlreadyInUse \(intoSchema, .*archive.*What to do: /);
  expect(await page.getByRole("button", { name: "Start the restore" }).isDisabled()).toBe(true);
  await noSeriousViolations(page, "step 4 with a fatal finding");
  await page.getByRole("button", { name: "Back" }).click();
  await page.getByRole("button", { name: "Back" }).click();
  await page.getByRole("textbox", { name: "New schema" }).fill("recovered");
  await page.getByRole("button", { name: "Next: tables" }).click();
  // The table picked stays picked.
  expect(await orders.isChecked()).toBe(true);
  await page.getByRole("button", { name: "Next: pre-flight" }).click();
  await page.getByRole("heading", { level: 3, name: `Pre-flight passed on ${cluster().host}:${cluster().port}` }).waitFor();
  expect(await page.getByText("No findings: the restore would start restoring.").count()).toBe(1);
  const request = JSON.parse(await page.locator("details pre").textContent() ?? "{}") as { target: Record<string, unknown> };
  expect(request.target).toMatchObject({ type: "database", database: live, intoSchema: "recovered", include: { tables: ['"shop"."orders"'] }, overwrite: false, preserveOwnership: false });
  await noSeriousViolations(page, "step 4");

  await page.getByRole("button", { name: "Start the restore" }).click();
  const jobLink = page.getByRole("link", { name: "Open the job's page" });
  await jobLink.waitFor();
  expect(await jobLink.getAttribute("href")).toMatch(/^#\/jobs\/restore-/);
  await page.getByText("The restore succeeded.").waitFor({ timeout: 90_000 });
  expect(await page.getByRole("listitem").filter({ hasText: "shop.orders restored as recovered.orders" }).count()).toBe(1);
  await noSeriousViolations(page, "the followed job");
  await screenshot(page, screenshotFile);

  const tables = await withAdmin(live, async (c) => (await c.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'recovered' ORDER BY 1`)).rows.map((r) => r.table_name));
  expect(tables).toEqual(["orders"]);
  const [counted] = await withAdmin(live, async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM recovered.orders`)).rows);
  expect(counted).toEqual({ n: 120 });
  expect(problems).toEqual([]);
}, 180_000);

test("when the schema named is one PostgreSQL reserves, then the pre-flight shows the API's refusal with the field at fault, and nothing starts", async () => {
  const restoreJobs = async () => ((await callHost(host.origin, "GET", `/api/jobs?instanceName=${instanceName}&operation=Restore`)).json as { value: Job[] }).value.length;
  const before = await restoreJobs();
  const { page, problems } = await openConsole(browser(), host.origin, `#/instances/${instanceName}/restore?point=${point.id}`);
  await page.getByRole("heading", { level: 2, name: "Step 1 of 4: Recovery point" }).waitFor();
  // Preselected from ?point=.
  await page.getByText(`(${point.id})`).waitFor();
  await page.getByRole("button", { name: "Next: target" }).click();
  await intoSchemaTarget(page, "pg_recovered");
  await page.getByRole("button", { name: "Next: tables" }).click();
  await page.getByRole("checkbox", { name: /^customers \(7 rows/ }).check();
  await page.getByRole("button", { name: "Next: pre-flight" }).click();

  const refusal = page.getByRole("alert").filter({ hasText: "The pre-flight was refused" });
  await refusal.waitFor();
  expect(await refusal.getByText("InvalidRequest").count()).toBe(1);
  expect(await refusal.getByRole("listitem").filter({ hasText: "target.intoSchema: names a schema reserved by PostgreSQL" }).count()).toBe(1);
  expect(await page.getByRole("button", { name: "Start the restore" }).isDisabled()).toBe(true);
  await noSeriousViolations(page, "the refusal");
  expect(await restoreJobs()).toBe(before);
  // Chromium logs every refused request itself; that is the only thing logged (no script error, no CSP violation).
  expect(problems).toEqual(["Failed to load resource: the server responded with a status of 400 (Bad Request)"]);
}, 120_000);

test("when the files of a point are exported to a container of the vault's own account, then the job the wizard started fails and the page shows its code and what to do", async () => {
  const vaultBlobEndpoint = /BlobEndpoint=([^;]+)/.exec(inject("vaultConnectionString"))![1]!.replace(/\/$/, "");
  const { page, problems } = await openConsole(browser(), host.origin, `#/instances/${instanceName}/restore?point=${point.id}`);
  await page.getByText(`(${point.id})`).waitFor();
  await page.getByRole("button", { name: "Next: target" }).click();
  await page.getByLabel("Files in a blob container (the point's own files)").check();
  await page.getByRole("textbox", { name: "Container URL" }).fill(`${vaultBlobEndpoint}/wizard-exports`);
  await page.getByRole("textbox", { name: "Prefix" }).fill("ui/");
  await noSeriousViolations(page, "step 2 for files");
  await page.getByRole("button", { name: "Next: tables" }).click();
  await page.getByText("An export as files holds the whole point: there is nothing to pick.").waitFor();
  await page.getByRole("button", { name: "Next: pre-flight" }).click();

  // The API has no pre-flight for exports: none is offered, and Start is.
  await page.getByText("An export has no pre-flight: the job checks the container before it writes anything.").waitFor();
  expect(await page.getByRole("button", { name: "Run the pre-flight again" }).count()).toBe(0);
  await page.getByRole("button", { name: "Start the restore" }).click();
  const failure = page.getByRole("alert").filter({ hasText: "The restore failed" });
  await failure.waitFor({ timeout: 60_000 });
  expect(await failure.getByText("UserErrorContainerNotAccessible", { exact: true }).count()).toBe(1);
  expect(await failure.getByText(/^What to do: /).count()).toBe(1);
  expect(await page.getByRole("link", { name: "Open the job's page" }).getAttribute("href")).toMatch(/^#\/jobs\/restore-/);
  await noSeriousViolations(page, "the failed job");
  expect(problems).toEqual([]);
}, 120_000);

describe("roles", () => {
  let rolesHost: HostProcess;
  beforeAll(async () => {
    rolesHost = await startAppHost({ AUTH_MODE: "appServiceRoles" });
  });
  afterAll(() => rolesHost?.kill("SIGTERM"));

  test("when a Backup.Reader opens the wizard, then it says restoring needs Backup.Operator and offers no step; an Operator gets the first step", async () => {
    const reader = await openConsole(browser(), rolesHost.origin, `#/instances/${instanceName}/restore`, { roles: ["Backup.Reader"] });
    await reader.page.getByText("Restoring needs the Backup.Operator role.").waitFor();
    expect(await reader.page.getByRole("button", { name: /^Next|^Start/ }).count()).toBe(0);
    expect(reader.problems).toEqual([]);

    const operator = await openConsole(browser(), rolesHost.origin, `#/instances/${instanceName}/restore`, { roles: ["Backup.Operator"] });
    await operator.page.getByRole("heading", { level: 2, name: "Step 1 of 4: Recovery point" }).waitFor();
    expect(await operator.page.getByRole("button", { name: "Next: target" }).count()).toBe(1);
    expect(operator.problems).toEqual([]);
  });
});
