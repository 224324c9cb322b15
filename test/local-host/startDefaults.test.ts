/**
 * `npm start`'s embedded defaults, run as a process the way a newcomer runs it: with no storage and no database
 * configured it starts Azurite and the demo, the first backup job succeeds within a minute, and Ctrl-C (SIGINT)
 * stops everything it started. Also: a timer tick missed while the host was down fires once, past due.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, inject, test } from "vitest";
import type { Job } from "../../shared/domain";
import { repoRoot, startHostProcess, waitUntil } from "../support/localHost";

const dataDir = mkdtempSync(path.join(tmpdir(), "pgvault-local-data-"));
// Reachable by the postgres OS user, so the demo cluster stays inside it (and goes with it).
chmodSync(dataDir, 0o755);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

test("when nothing is configured, then npm start's host runs Azurite and the demo, backs up within a minute, and SIGINT stops it all", async () => {
  const host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: "",
    VaultStorage: "",
    PGVAULT_DEMO: "on",
    PGVAULT_LOCAL_DATA: dataDir,
  });
  const demoLine = await waitUntil(async () => /demo: PostgreSQL on 127\.0\.0\.1:(\d+)/.exec(host.output()) ?? undefined, 60_000, "demo started").catch((err: unknown) => {
    throw new Error(`${String(err)}\n${host.output()}`);
  });
  const azuriteLine = /Azurite \(embedded\): blob (\d+), queue (\d+), table (\d+)/.exec(host.output());
  expect(azuriteLine).not.toBeNull();
  // Printed just after the demo line, possibly in a later chunk of output.
  await waitUntil(async () => (host.output().includes(`curl ${host.origin}/api/jobs`) ? true : undefined), 10_000, "the curl hints");

  const job = await waitUntil(async () => {
    const answer = (await (await fetch(`${host.origin}/api/jobs`)).json()) as { value: Job[] };
    return answer.value.find((j) => j.instanceName === "demo-sales" && j.status === "Succeeded");
  }, 60_000, "the demo's first backup");
  const rps = (await (await fetch(`${host.origin}/api/backupInstances/demo-sales/recoveryPoints`)).json()) as { value: { id: string }[] };
  expect(rps.value.map((rp) => rp.id)).toContain(job.recoveryPointId);
  // Configured without host and port: the instance holds the server its PGVAULT_SECRET_ setting names.
  const instance = (await (await fetch(`${host.origin}/api/backupInstances/demo-sales`)).json()) as { datasource: unknown };
  expect(instance.datasource).toMatchObject({ host: "127.0.0.1", port: Number(demoLine[1]), secretRef: "env:PGVAULT_SECRET_DEMO_PG" });

  await host.kill("SIGINT");
  const ports = [Number(demoLine[1]), ...azuriteLine!.slice(1).map(Number), Number(new URL(host.origin).port)];
  for (const port of ports) expect(await listening(port)).toBe(false);
}, 180_000);

test("when a timer tick is missed while the host is down, then it fires once at the next start with isPastDue", async () => {
  const fixture = path.join(__dirname, "fixture-app");
  const env = { AzureWebJobsStorage: inject("vaultConnectionString"), FIXTURE_SCHEDULE: "0 0 * * * *", FIXTURE_HUB: "fixturePastDue" };
  const first = await startHostProcess(fixture, env);
  await first.kill("SIGTERM");
  // Pretend the hourly tick passed while the host was down: move the stored next occurrence into the past.
  const { TableClient } = await import("@azure/data-tables");
  const timers = TableClient.fromConnectionString(env.AzureWebJobsStorage, "fixturePastDueTimers", { allowInsecureConnection: true });
  const missed = new Date(Date.now() - 60 * 60_000).toISOString();
  await timers.upsertEntity({ partitionKey: "timer", rowKey: "everyTwoSeconds", data: JSON.stringify({ last: "", next: missed }) }, "Replace");

  const second = await startHostProcess(fixture, env);
  try {
    const ticked = await waitUntil(async () => {
      const all = (await (await fetch(`${second.origin}/runtime/webhooks/durabletask/instances/?runtimeStatus=Completed`)).json()) as { instanceId: string; output: unknown }[];
      return all.find((s) => s.instanceId.startsWith("tick-") && (s.output as { echoed?: { isPastDue?: boolean } }).echoed?.isPastDue === true);
    }, 20_000, "a past-due tick");
    expect(ticked.output).toEqual({ echoed: { isPastDue: true } });
  } finally {
    await second.kill("SIGTERM");
  }
});
