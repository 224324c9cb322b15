/**
 * The console's shell around every view: the bundle runs under the page's CSP (no violation, no error), the
 * header links to the overview, an unknown route says so in the page, and going back shows the server-rendered
 * overview again; the page passes axe-core's WCAG A/AA rules with no serious violation.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { openConsole, seriousAccessibilityViolations, useChromium } from "../support/consoleBrowser";
import { startAppHost, type HostProcess } from "../support/localHost";

const browser = useChromium();
let host: HostProcess;

beforeAll(async () => {
  host = await startAppHost({});
});
afterAll(() => host?.kill("SIGTERM"));

test("when a console route does not exist, then the page says so, and going back shows the overview again, with no script or CSP error", async () => {
  const { page, problems } = await openConsole(browser(), host.origin);
  const overviewHeading = page.getByRole("heading", { level: 1, name: "Backup Center" });
  await overviewHeading.waitFor();
  expect(await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Overview" }).count()).toBe(1);

  await page.evaluate("location.hash = '#/no-such-page'");
  await page.getByRole("alert").filter({ hasText: "There is no page at #/no-such-page." }).waitFor();
  expect(await page.title()).toBe("Not found · pgvault");
  expect(await overviewHeading.count()).toBe(0);

  await page.goBack();
  await overviewHeading.waitFor();
  expect(await page.title()).toBe("Backup Center · pgvault");
  expect(problems).toEqual([]);
});

test("when the overview is checked by axe-core, then it has no serious or critical WCAG A/AA violation", async () => {
  const { page } = await openConsole(browser(), host.origin);
  await page.getByRole("heading", { level: 1, name: "Backup Center" }).waitFor();
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
});
