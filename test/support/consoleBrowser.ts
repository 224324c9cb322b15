/**
 * The console in a real browser: Debian's chromium (CHROMIUM_PATH overrides /usr/bin/chromium) driven by
 * playwright-core, one browser per test file; pages collect console errors and CSP violations so a test can
 * require none; and axe-core's accessibility pass, run inside the page (evaluated through the DevTools protocol,
 * which the page's CSP does not govern, so the CSP under test stays the page's own).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { principalHeader } from "./principal";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
}

/** A browser for the whole test file. */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());
  return () => {
    if (!browser) throw new Error("chromium is not started yet");
    return browser;
  };
}

export interface ConsolePage {
  page: Page;
  /** Console errors, uncaught exceptions and CSP violations seen so far. */
  problems: string[];
}

/**
 * A new page on the Backup Center (`/api/backup-center?code=<key>` plus `hash`), laptop-sized. With `roles`, every
 * request carries an App Service principal holding them (a host in `appServiceRoles` mode trusts that header).
 */
export async function openConsole(browser: Browser, origin: string, hash = "", options: { functionKey?: string; roles?: readonly string[] } = {}): Promise<ConsolePage> {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 900 },
    ...(options.roles ? { extraHTTPHeaders: { "x-ms-client-principal": principalHeader(options.roles) } } : {}),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  const query = options.functionKey ? `?code=${encodeURIComponent(options.functionKey)}` : "";
  const response = await page.goto(`${origin}/api/backup-center${query}${hash}`);
  if (response?.status() !== 200) throw new Error(`the Backup Center answered ${response?.status()}`);
  return { page, problems };
}

const axeSource = readFileSync(createRequire(__filename).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core's violations of WCAG 2.x A/AA rules on the page as it is now, `serious` and `critical` ones. */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // In the page: the test's compiler knows no DOM, so the page's globals are reached through globalThis.
    const page = globalThis as unknown as { document: unknown; axe: { run(context: unknown, options: object): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } };
    const result = await page.axe.run(page.document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
  return violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
}
