/**
 * Issue 26, end to end in a running host: backups that never start show as `AtRisk`, then `Breached`, with one
 * event per transition and the daily reminder, on virtual time (the host process's clock: test/support/
 * virtualClock.cjs). Black box: the events are those the Event Grid topic stand-in accepted, the health that of
 * GET /api/backupInstances/{name}, so both hold whichever way the app publishes.
 * - A policy pointing at the far future (its schedule starts in 2099, one of the issue's silent failures): the
 *   scheduler ticks every second, starts nothing, and evaluates the health at each tick while the clock moves hours
 *   and days ahead. Ticks are counted from the host's "rpo health:" log lines, so that several evaluations ran
 *   between two assertions and "exactly one" means something.
 * - A stopped scheduler (`AzureWebJobs.scheduler.Disabled`, local-host/disabledFunctions.ts): only the nightly
 *   retention run evaluates. The host is restarted with its clock past the 01:30 UTC tick its timer status says is
 *   next, so the missed tick fires once at start (local-host/timers.ts), first 21 hours after the instance was
 *   created, then past its 25-hour RPO.
 *
 * Each scenario has a private Azurite: a host days ahead writes health rows, timer status and durable history
 * stamped days ahead, and would start the due backups of other files' instances in a shared vault. Azurite (3.37.0) takes requests
 * whose x-ms-date is days ahead: its shared-key authenticators put x-ms-date in the string to sign but never compare
 * it with their own clock (azurite dist/src/table/authentication/TableSharedKeyAuthenticator.js,
 * blob/authentication/BlobSharedKeyAuthenticator.js), unlike Azure Storage, which refuses a request more than
 * 15 minutes old (Learn, "Authorize with Shared Key"); this file passing with the host 51 hours ahead shows it. A SAS
 * the host made would be judged on Azurite's real clock, but nothing here uses one.
 */
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { startEventGridServer, type EventGridTestServer, type ReceivedCloudEvent } from "../support/eventGridServer";
import { callHost, repoRoot, startHostProcess, waitUntil, type HostProcess, type VirtualClockHost } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, dropDatabasesAndRoles, uniqueName } from "../support/testDatabase";

const hourMs = 3_600_000;
const database = uniqueName("rpo_virtual");
const role = uniqueName("rpo_virtual_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const name = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");
let topic: EventGridTestServer;

beforeAll(async () => {
  [topic] = await Promise.all([startEventGridServer(inject("tls")), createDatabase(database)]);
  await createBackupRole(database, role, "pw-rpo-virtual");
});
afterAll(async () => {
  await Promise.all([topic?.close(), dropDatabasesAndRoles([database], [role])]);
});

/** A host's settings on its own vault, publishing to the topic stand-in. */
function hostSettings(vault: AzuriteInstance, extra: Record<string, string>): Record<string, string> {
  const { host, port, binDir } = cluster();
  return {
    AzureWebJobsStorage: vault.connectionString,
    VaultStorage: vault.connectionString,
    PG_BIN_DIR: binDir,
    // The host trusts the stand-in's certificate through NODE_EXTRA_CA_CERTS, inherited from the test process.
    EVENT_GRID_TOPIC_ENDPOINT: topic.topicEndpoint,
    IDENTITY_ENDPOINT: topic.identityEndpoint,
    IDENTITY_HEADER: topic.identityHeader,
    [secretSetting]: `postgres://${role}:pw-rpo-virtual@${host}:${port}/x?sslmode=disable`,
    ...extra,
  };
}

/** A daily policy with `schedule` and an instance of it, through the API; returns the instance's creation time. */
async function protect(origin: string, names: { policyName: string; instanceName: string }, startsAt: string): Promise<number> {
  const policy = { datasourceType: "database", schedule: { repeatingIntervals: [`R/${startsAt}/P1D`], timeZone: "UTC" }, retention: { default: { duration: "P7D" } } };
  expect((await callHost(origin, "PUT", `/api/backupPolicies/${names.policyName}`, policy)).status).toBe(201);
  const datasource = { type: "database", host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` };
  const created = await callHost(origin, "PUT", `/api/backupInstances/${names.instanceName}`, { policyName: names.policyName, datasource });
  expect(created.status).toBe(201);
  // No point yet: the RPO (a day between slots plus an hour's grace) counts from the instance's creation.
  expect(created.json?.health).toMatchObject({ state: "Healthy", rpo: "PT25H", newestPoint: null });
  return Date.parse(String(created.json?.createdAt));
}

const eventsOf = (instanceName: string): ReceivedCloudEvent[] => topic.accepted.filter((event) => event.subject === `backupInstances/${instanceName}`);
const typesOf = (instanceName: string) => eventsOf(instanceName).map((event) => event.type);

async function healthState(host: HostProcess, instanceName: string): Promise<unknown> {
  const view = await callHost(host.origin, "GET", `/api/backupInstances/${instanceName}`);
  expect(view.status).toBe(200);
  return (view.json?.health as { state?: unknown } | null)?.state;
}

test("when a policy's slots never come, then each scheduler tick evaluates, and the instance goes AtRisk and Breached on the host's clock, with one event per transition and one reminder a day", async () => {
  const vault = await startAzurite();
  let host: VirtualClockHost | undefined;
  try {
    host = await startHostProcess(repoRoot, hostSettings(vault, { SCHEDULER_SCHEDULE: "* * * * * *" }), { virtualClock: true });
    const running = host;
    const instanceName = name("rpo-virtual");
    const started = await protect(running.origin, { policyName: name("rpo-virtual"), instanceName }, "2099-01-01T03:00:00Z");
    const ticks = () => running.output().split("rpo health:").length - 1;
    /** Until `count` more evaluations logged their end: the first may have begun before the clock moved, the rest did not. */
    const moreTicks = async (count: number) => {
      const from = ticks();
      await waitUntil(async () => (ticks() >= from + count ? true : undefined), 30_000, `${count} more scheduler ticks`);
    };
    /** The clock `hours` past the instance's creation, then two evaluations at least one of which began there. */
    const after = async (hours: number) => {
      await running.setClockOffset(started + hours * hourMs - Date.now());
      await moreTicks(2);
    };
    /** Once `types` arrived (publishing may follow the tick), several more ticks change nothing. */
    const eventsSettleAt = async (types: string[]) => {
      await waitUntil(async () => (eventsOf(instanceName).length >= types.length ? true : undefined), 30_000, `events ${types.join(", ")}`);
      await moreTicks(4);
      expect(typesOf(instanceName)).toEqual(types);
      return eventsOf(instanceName);
    };
    await moreTicks(3);
    expect(await healthState(running, instanceName)).toBe("Healthy");

    // 10 of 25 hours.
    await after(10);
    await moreTicks(3);
    expect(await healthState(running, instanceName)).toBe("Healthy");
    expect(eventsOf(instanceName)).toEqual([]);

    // 21 of 25 hours: past 80%.
    await after(21);
    expect(await healthState(running, instanceName)).toBe("AtRisk");
    const [atRisk] = await eventsSettleAt(["pgvault.rpo.atRisk"]);
    expect(atRisk!.data).toMatchObject({ instanceName, state: "AtRisk", rpo: "PT25H", newestPointTime: null });

    // 26 hours: breached, announced once however many ticks see it.
    await after(26);
    expect(await healthState(running, instanceName)).toBe("Breached");
    const breached = (await eventsSettleAt(["pgvault.rpo.atRisk", "pgvault.rpo.breached"]))[1]!;
    expect(breached.data).toMatchObject({ instanceName, state: "Breached", rpo: "PT25H" });
    const breachedAt = Date.parse(breached.time!);
    expect(breachedAt - started).toBeGreaterThanOrEqual(26 * hourMs);

    // Nearly a day later, still breached: no reminder yet.
    await after(26 + 23);
    await moreTicks(3);
    expect(await healthState(running, instanceName)).toBe("Breached");
    expect(typesOf(instanceName)).toEqual(["pgvault.rpo.atRisk", "pgvault.rpo.breached"]);

    // A day after the breach's event: the daily reminder, once, an event of its own.
    await after(51);
    expect(await healthState(running, instanceName)).toBe("Breached");
    const reminder = (await eventsSettleAt(["pgvault.rpo.atRisk", "pgvault.rpo.breached", "pgvault.rpo.breached"]))[2]!;
    expect(reminder.id).not.toBe(breached.id);
    expect(Date.parse(reminder.time!) - breachedAt).toBeGreaterThanOrEqual(24 * hourMs);

    // Every tick ran, none started a backup: the failure the health is there to show.
    expect(running.output()).not.toMatch(/scheduler: \d+ instances, [1-9]/);
    expect((await callHost(running.origin, "GET", `/api/jobs?instanceName=${instanceName}`)).json?.value).toEqual([]);
  } finally {
    await host?.kill("SIGTERM");
    await vault.stop();
  }
}, 120_000);

test("when the scheduler is disabled, then the nightly run alone finds the instance AtRisk, then Breached, with one event each", async () => {
  const vault = await startAzurite();
  // The health route too, in the form for Linux, whose environment variable names hold no periods.
  const settings = hostSettings(vault, { "AzureWebJobs.scheduler.Disabled": "true", AzureWebJobs_health_Disabled: "1", SCHEDULER_SCHEDULE: "* * * * * *" });
  const outputs: string[] = [];
  const instanceName = name("rpo-stopped");
  /** A host whose clock is at `virtualNow` when it starts; stopped after `work`. */
  const withHost = async (virtualNow: number, work: (host: HostProcess) => Promise<void>) => {
    const host = await startHostProcess(repoRoot, settings, { virtualClock: true, clockOffsetMs: virtualNow - Date.now() });
    try {
      await work(host);
    } finally {
      outputs.push(host.output());
      await host.kill("SIGTERM");
    }
  };
  /** The 01:30 UTC tick the retention timer's status (the host's schedule monitor) says comes next. */
  const nextNightlyTick = async () => {
    const timers = TableClient.fromConnectionString(vault.connectionString, "pgvaultTimers", { allowInsecureConnection: true });
    const row = await timers.getEntity<{ data: string }>("timer", "retentionTimer");
    return Date.parse((JSON.parse(row.data) as { next: string }).next);
  };
  const nightlyRuns = new Set<string>();
  /** Until `count` events of the instance arrived (they may be published after the run that made them ended). */
  const eventsArrived = (count: number) => waitUntil(async () => (eventsOf(instanceName).length >= count ? true : undefined), 30_000, `${count} events`);
  /** A new day's retention run, to its end. */
  const nightlyRunEnded = async (host: HostProcess) => {
    const job = await waitUntil(async () => {
      const jobs = (await callHost(host.origin, "GET", "/api/jobs?operation=Retention")).json?.value as { id: string; status: string }[] | undefined;
      return jobs?.find((found) => found.status === "Succeeded" && !nightlyRuns.has(found.id));
    }, 60_000, "a new nightly retention run succeeded");
    nightlyRuns.add(job.id);
    await waitUntil(async () => {
      const status = await callHost(host.origin, "GET", `/runtime/webhooks/durabletask/instances/${job.id}`);
      return status.json?.runtimeStatus === "Completed" ? true : undefined;
    }, 60_000, `orchestration ${job.id} completed`);
  };
  try {
    let created = 0;
    await withHost(Date.now(), async (host) => {
      expect((await callHost(host.origin, "GET", "/api/health")).status).toBe(404);
      created = await protect(host.origin, { policyName: name("rpo-stopped"), instanceName }, "2026-01-01T03:00:00Z");
    });
    // Missed while the host was down: 21 hours after the creation, or just past the nightly tick if that is later
    // (never 25 hours: the next 01:30 is less than a day after the creation).
    await withHost(Math.max(created + 21 * hourMs, (await nextNightlyTick()) + 60_000), async (host) => {
      await nightlyRunEnded(host);
      await eventsArrived(1);
      expect(typesOf(instanceName)).toEqual(["pgvault.rpo.atRisk"]);
      expect(await healthState(host, instanceName)).toBe("AtRisk");
    });
    await withHost(Math.max(created + 26 * hourMs, (await nextNightlyTick()) + 60_000), async (host) => {
      await nightlyRunEnded(host);
      await eventsArrived(2);
      expect(typesOf(instanceName)).toEqual(["pgvault.rpo.atRisk", "pgvault.rpo.breached"]);
      expect(await healthState(host, instanceName)).toBe("Breached");
    });
    // The scheduler never ran, in any of the three hosts; the local host said so.
    for (const output of outputs) {
      expect(output).toContain("Function 'scheduler' is disabled");
      expect(output).toContain("Function 'health' is disabled");
      expect(output).not.toContain("rpo health:");
    }
    expect(eventsOf(instanceName).find((event) => event.type === "pgvault.rpo.breached")?.data).toMatchObject({ instanceName, state: "Breached", rpo: "PT25H" });
  } finally {
    await vault.stop();
  }
}, 180_000);
