/**
 * The instance page (`#/instances/{name}`) in a real browser against the local host, with real PostgreSQL: an
 * instance with two real backups, one soft-deleted through the API; the page shows both on the calendar and in the
 * list, filters by day, reads a point's contents, and undeletes the deleted one (the API then says Available). A
 * Reader (App Service roles) sees the points but no action. axe-core finds nothing serious on the page.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Job, RecoveryPoint } from "../../shared/domain";
import { openConsole, seriousAccessibilityViolations, useChromium } from "../support/consoleBrowser";
import { callHost, configureHostedDatabase, repoRoot, startAppHost, waitUntil, type HostProcess } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

const screenshotFile = path.join(repoRoot, "docs", "console-instance.png");
const database = uniqueName("points");
const role = uniqueName("points_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const policyName = uniqueName("pointspol").replaceAll("_", "-");
const instanceName = uniqueName("pointsinst").replaceAll("_", "-");
const browser = useChromium();
let host: HostProcess;
let points: RecoveryPoint[];

const secrets = () => ({ [secretSetting]: `postgres://${role}:pw-points@${cluster().host}:${cluster().port}/x?sslmode=disable` });

async function backUp(origin: string): Promise<void> {
  const accepted = await callHost(origin, "POST", `/api/backupInstances/${instanceName}/backup`);
  const { jobId } = accepted.json as { jobId: string };
  const job = await waitUntil(async () => {
    const answer = (await callHost(origin, "GET", `/api/jobs/${jobId}`)).json as unknown as Job;
    return answer.status === "Succeeded" || answer.status === "Failed" ? answer : undefined;
  }, 120_000, "backup finished");
  expect(job.status).toBe("Succeeded");
}

const listPoints = async (origin: string) => ((await callHost(origin, "GET", `/api/backupInstances/${instanceName}/recoveryPoints`)).json as { value: RecoveryPoint[] }).value;

beforeAll(async () => {
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-points");
  host = await startAppHost(secrets());
  await configureHostedDatabase(host.origin, { policyName, instanceName }, { host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` });
  await backUp(host.origin);
  await backUp(host.origin);
  points = await listPoints(host.origin);
  expect(points).toHaveLength(2);
  const deleted = await callHost(host.origin, "DELETE", `/api/backupInstances/${instanceName}/recoveryPoints/${points[1]!.id}`);
  expect(deleted.status).toBe(204);
}, 300_000);
afterAll(() => host?.kill("SIGTERM"));

test("when an Admin opens the instance page, then the points are on the calendar and in the list, a day filters them, contents read, and a soft-deleted point is undeleted", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, "");
  // From the overview: the instance's name links to its page.
  await page.getByRole("link", { name: instanceName, exact: true }).click();
  await page.getByRole("heading", { level: 1, name: `Instance ${instanceName}` }).waitFor();
  expect(await page.title()).toBe(`Instance ${instanceName} · pgvault`);
  const list = page.getByRole("table", { name: "Recovery points, newest first" });
  await list.waitFor();
  expect(await list.getByRole("row").count()).toBe(3);
  const [newest, older] = points as [RecoveryPoint, RecoveryPoint];
  const olderRow = list.getByRole("row").filter({ hasText: older.id });
  expect(await olderRow.getByText("Soft-deleted").count()).toBe(1);
  expect(await list.getByRole("row").filter({ hasText: newest.id }).getByRole("link", { name: /^Restore recovery point/ }).getAttribute("href")).toBe(
    `#/instances/${instanceName}/restore?point=${newest.id}`,
  );

  // The calendar: today's button holds both points; the keyboard reaches it and picking it filters the list.
  const day = newest.time.slice(0, 10);
  const dayButton = page.getByRole("button", { name: /: 2 recovery points$/ });
  expect(await dayButton.getAttribute("aria-pressed")).toBe("false");
  await dayButton.focus();
  await page.keyboard.press("Enter");
  const filtered = page.getByRole("table", { name: `Recovery points of ${day}` });
  await filtered.waitFor();
  expect(await filtered.getByRole("row").count()).toBe(3);
  expect(await page.getByRole("button", { name: /: 2 recovery points$/ }).getAttribute("aria-pressed")).toBe("true");
  // Page Up: the month before, without points; Page Down: back, the keyboard still in the calendar.
  await page.keyboard.press("PageUp");
  expect(await page.getByRole("button", { name: /recovery points?$/ }).count()).toBe(0);
  await page.keyboard.press("PageDown");
  expect(await page.evaluate("document.activeElement.textContent")).toMatch(/: 2 recovery points$/);
  await page.getByRole("button", { name: "Show all points" }).click();
  await list.waitFor();

  // Contents on demand.
  await list.getByRole("button", { name: `Contents of recovery point ${newest.id}` }).click();
  const tables = page.getByRole("table", { name: `Tables of ${database}` });
  await tables.waitFor();
  expect(await tables.getByRole("rowheader", { name: "sales.orders" }).count()).toBe(1);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  if (process.env.UPDATE_SCREENSHOT === "1" || !existsSync(screenshotFile)) await page.screenshot({ path: screenshotFile, fullPage: true });

  // Undelete: the page says so, the row shows Available, and so does the API.
  await olderRow.getByRole("button", { name: /^Undelete recovery point/ }).click();
  await page.getByRole("status").filter({ hasText: `Recovery point ${older.id} is available again.` }).waitFor();
  await list.getByRole("row").filter({ hasText: older.id }).getByText("Available", { exact: true }).waitFor();
  expect((await listPoints(host.origin)).find((rp) => rp.id === older.id)?.status).toBe("Available");
  expect(await olderRow.getByRole("button", { name: /^Delete recovery point/ }).count()).toBe(1);
  expect(problems).toEqual([]);
});

test("when an Admin deletes a point, then the page asks first, and shows it soft-deleted; a page of an unknown instance shows the API's refusal", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, `#/instances/${instanceName}`);
  const list = page.getByRole("table", { name: "Recovery points, newest first" });
  await list.waitFor();
  const newest = points[0]!;
  const deleteButton = list.getByRole("button", { name: `Delete recovery point ${newest.id}` });
  page.once("dialog", (dialog) => void dialog.dismiss());
  await deleteButton.click();
  expect((await listPoints(host.origin)).find((rp) => rp.id === newest.id)?.status).toBe("Available");

  page.once("dialog", (dialog) => void dialog.accept());
  await deleteButton.click();
  await page.getByRole("status").filter({ hasText: `Recovery point ${newest.id} deleted` }).waitFor();
  await list.getByRole("row").filter({ hasText: newest.id }).getByText("Soft-deleted").waitFor();
  expect((await listPoints(host.origin)).find((rp) => rp.id === newest.id)?.status).toBe("SoftDeleted");
  expect(problems).toEqual([]);

  // (The browser logs the 404 itself as a console error, so problems are checked before.)
  await page.evaluate("location.hash = '#/instances/no-such-instance'");
  await page.getByRole("alert").filter({ hasText: "NotFound" }).waitFor();
});

describe("roles", () => {
  let rolesHost: HostProcess;
  beforeAll(async () => {
    rolesHost = await startAppHost({ AUTH_MODE: "appServiceRoles", ...secrets() });
  });
  afterAll(() => rolesHost?.kill("SIGTERM"));

  test("when a Reader opens the instance page, then the points and the calendar are shown with no action", async () => {
    const { page, problems } = await openConsole(browser(), rolesHost.origin, `#/instances/${instanceName}`, { roles: ["Backup.Reader"] });
    const list = page.getByRole("table", { name: "Recovery points, newest first" });
    await list.waitFor();
    expect(await list.getByRole("row").count()).toBe(3);
    expect(await page.getByRole("button", { name: /recovery points?$/ }).count()).toBe(1);
    for (const action of [/^Contents of/, /^Verify/, /^Delete/, /^Undelete/]) expect(await page.getByRole("button", { name: action }).count()).toBe(0);
    expect(await page.getByRole("link", { name: /^Restore/ }).count()).toBe(0);
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    expect(problems).toEqual([]);
  });
});
