/**
 * The job pages in a real browser against the local host, with real PostgreSQL: a backup is followed on
 * `#/jobs/{id}` while its upload is held block by block at a gated proxy in front of the vault's blob service
 * (test/support/gatedBlobProxy.ts), so the progress bar moves when the test lets a block through; then it is
 * cancelled from the page and ends Cancelled. The list `#/jobs` filters by instance and status. axe-core finds
 * nothing serious on either page.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, inject, onTestFinished, test } from "vitest";
import type { Job } from "../../shared/domain";
import { openConsole, seriousAccessibilityViolations, useChromium } from "../support/consoleBrowser";
import { createLargeDatabase } from "../support/faultFixture";
import { isPutBlock, startGatedBlobProxy, type GatedBlobProxy } from "../support/gatedBlobProxy";
import { callHost, configureHostedDatabase, repoRoot, startHostProcess, waitUntil, type HostProcess } from "../support/localHost";
import { blobEndpointOf, withBlobEndpoint } from "../support/recordingBlobProxy";
import { cluster, uniqueName } from "../support/testDatabase";

const jobScreenshot = path.join(repoRoot, "docs", "console-job.png");
const jobsScreenshot = path.join(repoRoot, "docs", "console-jobs.png");
const database = uniqueName("jobs");
const role = uniqueName("jobs_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const policyName = uniqueName("jobspol").replaceAll("_", "-");
const instanceName = uniqueName("jobsinst").replaceAll("_", "-");
const browser = useChromium();
let proxy: GatedBlobProxy;
let host: HostProcess;
let firstJob: string;

const jobOf = async (jobId: string) => (await callHost(host.origin, "GET", `/api/jobs/${jobId}`)).json as unknown as Job;

async function startBackup(): Promise<string> {
  const accepted = await callHost(host.origin, "POST", `/api/backupInstances/${instanceName}/backup`);
  expect(accepted.status).toBe(202);
  return (accepted.json as { jobId: string }).jobId;
}

beforeAll(async () => {
  // About 11 MB once dumped: two 8 MiB blocks.
  await createLargeDatabase(database, role, "pw-jobs", cluster(), 200_000);
  const storage = inject("vaultConnectionString");
  proxy = await startGatedBlobProxy(blobEndpointOf(storage), ["host"]);
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: storage,
    VaultStorage: withBlobEndpoint(storage, proxy.endpoint("host")),
    PG_BIN_DIR: cluster().binDir,
    [secretSetting]: `postgres://${role}:pw-jobs@${cluster().host}:${cluster().port}/x?sslmode=disable`,
  });
  await configureHostedDatabase(host.origin, { policyName, instanceName }, { host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` });
  // A first backup, unhindered: the next one's total is estimated from its size.
  firstJob = await startBackup();
  const done = await waitUntil(async () => {
    const job = await jobOf(firstJob);
    return job.status === "Succeeded" || job.status === "Failed" ? job : undefined;
  }, 120_000, "first backup");
  expect(done.status).toBe("Succeeded");
}, 300_000);
afterAll(async () => {
  host?.kill("SIGTERM");
  await proxy?.close();
});

test("when a backup is followed on its page, then the progress bar moves as blocks reach the vault, and Cancel ends it Cancelled", async () => {
  const gate = proxy.hold((call) => isPutBlock(call) && call.path.startsWith(`backups/${instanceName}/`));
  onTestFinished(() => gate.open());
  const jobId = await startBackup();
  const { page, problems } = await openConsole(browser(), host.origin, `#/jobs/${jobId}`);
  await page.getByRole("heading", { level: 1, name: `Job ${jobId}` }).waitFor();
  const phases = page.getByRole("list", { name: "Phases" });
  await phases.getByRole("listitem").filter({ hasText: "Uploading: in progress" }).waitFor({ timeout: 60_000 });
  expect(await phases.getByRole("listitem").filter({ hasText: "Checking access: done" }).count()).toBe(1);
  // The job row carries the database's size from Uploading on (the bound a first backup's progress uses).
  expect((await jobOf(jobId)).expectedBytes).toBeGreaterThan(8 * 1024 ** 2);
  const bar = page.getByRole("progressbar", { name: "Progress" });
  expect(await bar.getAttribute("value")).toBe("0");

  // The first block waits at the proxy; progress is written at most every 5 s, so it is let through after that.
  const first = await gate.next();
  await new Promise((resolve) => setTimeout(resolve, 5_500));
  await first.release();
  // The first block's 8 MiB of about 9.9: the bar reaches 50-99% (a report written while the block was still
  // arriving may show less first, on a busy machine), and stays below 100 while the rest waits at the proxy.
  const shown = await waitUntil(async () => {
    const value = Number(await bar.getAttribute("value"));
    return value >= 50 ? value : undefined;
  }, 20_000, "progress of the first block shown");
  expect(shown).toBeLessThan(100);
  expect(await page.getByText(new RegExp(`^${shown}% \\(8\\.0 MiB of about .* MiB\\), about .* left$`)).count()).toBe(1);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  if (process.env.UPDATE_SCREENSHOT === "1" || !existsSync(jobScreenshot)) await page.screenshot({ path: jobScreenshot, fullPage: true });

  page.once("dialog", (dialog) => void dialog.accept());
  await page.getByRole("button", { name: "Cancel job" }).click();
  await page.getByRole("status").filter({ hasText: "Cancel requested: the job stops" }).waitFor();
  await gate.open();
  await page.getByRole("definition").filter({ hasText: "Cancelled" }).waitFor({ timeout: 60_000 });
  expect(await phases.getByRole("listitem").filter({ hasText: "Uploading: cancelled here" }).count()).toBe(1);
  expect(await page.getByRole("button", { name: "Cancel job" }).count()).toBe(0);
  expect((await jobOf(jobId)).status).toBe("Cancelled");
  expect(problems).toEqual([]);
}, 180_000);

test("when the job list is filtered by instance and status, then only those jobs are listed, each linking to its page", async () => {
  const { page, problems } = await openConsole(browser(), host.origin, "");
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Jobs" }).click();
  await page.getByRole("heading", { level: 1, name: "Jobs" }).waitFor();
  await page.getByLabel("Instance").fill(instanceName);
  await page.getByRole("button", { name: "Apply filters" }).click();
  const table = page.getByRole("table", { name: "Jobs, newest first" });
  await table.getByRole("link", { name: firstJob }).waitFor();
  expect(await table.getByRole("row").count()).toBe(3);
  expect(await page.getByLabel("Instance").inputValue()).toBe(instanceName);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  if (process.env.UPDATE_SCREENSHOT === "1" || !existsSync(jobsScreenshot)) await page.screenshot({ path: jobsScreenshot, fullPage: true });

  await page.getByLabel("Status").selectOption("Succeeded");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await waitUntil(async () => ((await table.getByRole("row").count()) === 2 ? true : undefined), 10_000, "one job listed");
  await table.getByRole("link", { name: firstJob }).click();
  await page.getByRole("heading", { level: 1, name: `Job ${firstJob}` }).waitFor();
  expect(await page.getByRole("progressbar", { name: "Progress" }).getAttribute("value")).toBe("100");
  expect(problems).toEqual([]);
});
