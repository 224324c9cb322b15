/**
 * The fleet's RPO health (shared/rpo/healthStates.ts) against the real catalog in Azurite, on virtual time: an
 * instance whose backups stopped (no tick starts any; the evaluation alone runs at later instants) goes Healthy,
 * AtRisk, Breached with one event per transition and one a day while breached, whatever the number of
 * evaluations, even two at once; a new point makes it Healthy without an event; an instance whose protection is
 * stopped owes nothing. The instance view and the Backup Center say the same.
 *
 * The vault is the suite's, shared with other files: only this file's instances are looked at, and its instants
 * are years after the present, so that an evaluation of the present (the nightly run of another file) leaves its
 * rows alone (the rows of a later evaluation are not touched by an earlier one).
 */
import { InvocationContext } from "@azure/functions";
import { beforeAll, describe, expect, test } from "vitest";
import { listBackupInstances } from "../../functions/backupInstances";
import { evaluateHealthAfterTick } from "../../functions/scheduler";
import { backupCenterSummary } from "../../shared/backupCenter/summary";
import { getInstance, putInstance, putPolicy } from "../../shared/catalog/catalog";
import type { BackupInstance, BackupPolicy, RecoveryPoint } from "../../shared/domain";
import type { PgvaultEvent } from "../../shared/events/pgvaultEvents";
import { instanceView, type InstanceView } from "../../shared/instanceView";
import { reconcileVault } from "../../shared/retention/reconcile";
import { evaluateFleetHealth, readHealthRows } from "../../shared/rpo/healthStates";
import { storedRecoveryPoint } from "../support/retentionFixture";
import { uniqueName } from "../support/testDatabase";

const name = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");
const policyName = name("rpo-daily");
/** Daily at 02:00 UTC: the longest gap is 24 hours, the RPO 25 (the default grace of one hour); at risk after 20. */
const daily: BackupPolicy = {
  name: policyName,
  datasourceType: "database",
  schedule: { repeatingIntervals: ["R/2031-01-01T02:00:00Z/P1D"], timeZone: "UTC" },
  retention: { default: { duration: "P30D" }, rules: [] },
};

async function protectedInstance(prefix: string, createdAt: string, protectionState: BackupInstance["protectionState"] = "ProtectionConfigured"): Promise<BackupInstance> {
  const instance: BackupInstance = {
    name: name(prefix),
    policyName,
    datasource: { type: "database", host: "pg.example.com", port: 5432, database: "sales", secretRef: "env:UNUSED" },
    protectionState,
    createdAt,
  };
  await putInstance(instance);
  return instance;
}

/** A backup's point as the record step leaves it (its summary follows). */
const pointAt = (instanceName: string, time: string): Promise<RecoveryPoint> => storedRecoveryPoint(instanceName, new Date(time), 0, 36_500, { writeBlob: false });

/** Evaluates at `iso` and returns the events about `instanceName` (those the sink got, which are those returned). */
async function eventsAt(instanceName: string, iso: string): Promise<PgvaultEvent[]> {
  const sunk: PgvaultEvent[] = [];
  const result = await evaluateFleetHealth(new Date(iso), (events) => void sunk.push(...events));
  expect(sunk).toEqual(result.events);
  return result.events.filter((event) => event.data.instanceName === instanceName);
}

const rowOf = async (instanceName: string) => (await readHealthRows()).get(instanceName);

beforeAll(async () => {
  await putPolicy(daily);
});

describe("the RPO health of an instance whose backups stopped", () => {
  test("when time passes without a new point, then it goes Healthy, AtRisk, Breached with one event each, one more a day later, and none when nothing changed", async () => {
    const instance = await protectedInstance("rpo-stopped", "2031-03-01T00:00:00Z");
    const point = await pointAt(instance.name, "2031-03-01T02:00:00Z");
    const since = "2031-03-01T02:00:00.000Z";

    expect(await eventsAt(instance.name, "2031-03-01T03:00:00Z")).toEqual([]);
    expect(await rowOf(instance.name)).toBeUndefined();
    // 21 of 25 hours: over 80%.
    const atRisk = await eventsAt(instance.name, "2031-03-01T23:00:00Z");
    expect(atRisk).toEqual([
      {
        id: `${instance.name}/rpo/AtRisk/2031-03-02T03:00:00.000Z`,
        type: "pgvault.rpo.atRisk",
        subject: `backupInstances/${instance.name}`,
        time: "2031-03-01T23:00:00.000Z",
        data: expect.objectContaining({
          instanceName: instance.name,
          recoveryPointId: point.id,
          state: "AtRisk",
          rpo: "PT25H",
          newestPointTime: "2031-03-01T02:00:00Z",
          newestPointAgeSeconds: 21 * 3600,
          breachAt: "2031-03-02T03:00:00.000Z",
          message: expect.stringContaining(`'${instance.name}' is at risk`),
          recommendedAction: expect.stringContaining("scheduler"),
        }),
      },
    ]);
    expect(await eventsAt(instance.name, "2031-03-01T23:00:00Z")).toEqual([]);
    expect(await eventsAt(instance.name, "2031-03-02T02:00:00Z")).toEqual([]);

    const breached = await eventsAt(instance.name, "2031-03-02T04:00:00Z");
    expect(breached.map((event) => [event.type, event.id])).toEqual([["pgvault.rpo.breached", `${instance.name}/rpo/Breached/2031-03-02T03:00:00.000Z`]]);
    expect(breached[0]!.data).toMatchObject({ state: "Breached", newestPointAgeSeconds: 26 * 3600, message: expect.stringContaining("past its recovery-point objective (PT25H) since 2031-03-02T03:00:00.000Z") });
    expect(await rowOf(instance.name)).toMatchObject({ state: "Breached", since, breachAt: "2031-03-02T03:00:00.000Z", lastNotifiedAt: "2031-03-02T04:00:00.000Z" });
    expect(await eventsAt(instance.name, "2031-03-02T05:00:00Z")).toEqual([]);
    expect(await eventsAt(instance.name, "2031-03-03T03:59:00Z")).toEqual([]);

    // A day after the last event, still breached: the daily reminder, once.
    const reminder = await eventsAt(instance.name, "2031-03-03T04:00:00Z");
    expect(reminder.map((event) => [event.type, event.id])).toEqual([["pgvault.rpo.breached", `${instance.name}/rpo/Breached/2031-03-02T03:00:00.000Z/2031-03-03`]]);
    expect(await eventsAt(instance.name, "2031-03-03T05:00:00Z")).toEqual([]);

    // An evaluation of an earlier instant (the nightly run measures from its start) changes nothing.
    expect(await eventsAt(instance.name, "2031-03-01T23:00:00Z")).toEqual([]);
    expect(await rowOf(instance.name)).toMatchObject({ state: "Breached", lastNotifiedAt: "2031-03-03T04:00:00.000Z" });

    // The next backup: Healthy again, without an event, and no row.
    await pointAt(instance.name, "2031-03-03T06:00:00Z");
    expect(await eventsAt(instance.name, "2031-03-03T06:30:00Z")).toEqual([]);
    expect(await rowOf(instance.name)).toBeUndefined();
  }, 120_000);

  test("when two evaluations run at once, then the transition is made once, with one event", async () => {
    const instance = await protectedInstance("rpo-race", "2031-04-01T00:00:00Z");
    await pointAt(instance.name, "2031-04-01T02:00:00Z");
    const at = new Date("2031-04-02T04:00:00Z");
    const [a, b] = await Promise.all([evaluateFleetHealth(at), evaluateFleetHealth(at)]);
    const ours = [...a.events, ...b.events].filter((event) => event.data.instanceName === instance.name);
    expect(ours.map((event) => event.id)).toEqual([`${instance.name}/rpo/Breached/2031-04-02T03:00:00.000Z`]);
  }, 60_000);

  test("when an instance never had a point, then its RPO counts from its creation", async () => {
    const instance = await protectedInstance("rpo-none", "2031-05-01T00:00:00Z");
    expect(await eventsAt(instance.name, "2031-05-01T20:00:00Z")).toEqual([]);
    const breached = await eventsAt(instance.name, "2031-05-02T01:30:00Z");
    expect(breached.map((event) => event.id)).toEqual([`${instance.name}/rpo/Breached/2031-05-02T01:00:00.000Z`]);
    expect(breached[0]!.data).toMatchObject({ newestPointTime: null, newestPointAgeSeconds: null, message: expect.stringContaining("no Available recovery point since protection began") });
  }, 60_000);
});

describe("a policy whose RPO changes", () => {
  test("when a longer RPO makes a breached instance only at risk, then no event; breached again later, then one event with an id of its own", async () => {
    const own: BackupPolicy = { ...daily, name: name("rpo-own") };
    await putPolicy(own);
    const instance = { ...(await protectedInstance("rpo-policy", "2031-07-10T00:00:00Z")), policyName: own.name };
    await putInstance(instance);
    await pointAt(instance.name, "2031-07-10T02:00:00Z");
    const first = await eventsAt(instance.name, "2031-07-11T04:00:00Z");
    expect(first.map((event) => event.id)).toEqual([`${instance.name}/rpo/Breached/2031-07-11T03:00:00.000Z`]);

    // Two days: 40 of 48 hours is over 80%, a change for the better.
    await putPolicy({ ...own, rpo: "P2D" });
    expect(await eventsAt(instance.name, "2031-07-11T18:00:00Z")).toEqual([]);
    expect(await rowOf(instance.name)).toMatchObject({ state: "AtRisk", breachAt: "2031-07-12T02:00:00.000Z", lastNotifiedAt: "2031-07-11T04:00:00.000Z" });
    const second = await eventsAt(instance.name, "2031-07-12T02:30:00Z");
    expect(second.map((event) => [event.type, event.id])).toEqual([["pgvault.rpo.breached", `${instance.name}/rpo/Breached/2031-07-12T02:00:00.000Z`]]);
  }, 60_000);
});

describe("an instance whose protection is stopped", () => {
  test("when protection stops while breached, then its row goes and no event follows; stopped from the start, it never has one", async () => {
    const breachedThenStopped = await protectedInstance("rpo-stop", "2031-06-01T00:00:00Z");
    const stopped = await protectedInstance("rpo-off", "2031-06-01T00:00:00Z", "ProtectionStopped");
    await pointAt(breachedThenStopped.name, "2031-06-01T02:00:00Z");
    await pointAt(stopped.name, "2031-06-01T02:00:00Z");
    expect(await eventsAt(breachedThenStopped.name, "2031-06-03T00:00:00Z")).toHaveLength(1);
    expect(await eventsAt(stopped.name, "2031-06-03T00:00:00Z")).toEqual([]);

    await putInstance({ ...breachedThenStopped, protectionState: "ProtectionStopped" });
    for (const at of ["2031-06-03T01:00:00Z", "2031-06-05T00:00:00Z"]) {
      expect(await eventsAt(breachedThenStopped.name, at)).toEqual([]);
      expect(await eventsAt(stopped.name, at)).toEqual([]);
    }
    const rows = await readHealthRows();
    expect([rows.has(breachedThenStopped.name), rows.has(stopped.name)]).toEqual([false, false]);
    const now = new Date("2031-06-05T00:00:00Z");
    expect((await instanceView((await getInstance(stopped.name))!, now)).health).toBeNull();
    const page = await backupCenterSummary(now);
    expect(page.instances.find((row) => row.name === stopped.name)!.health).toBeNull();
  }, 60_000);
});

describe("the health as the API shows it", () => {
  test("when an instance is breached, then the instance view and the Backup Center say so, with its RPO and its newest point's age", async () => {
    const instance = await protectedInstance("rpo-shown", "2031-07-01T00:00:00Z");
    await pointAt(instance.name, "2031-07-01T02:00:00Z");
    const now = new Date("2031-07-02T04:00:00Z");
    const expected = {
      state: "Breached",
      rpo: "PT25H",
      newestPoint: { time: "2031-07-01T02:00:00Z", ageSeconds: 26 * 3600 },
      since: "2031-07-01T02:00:00.000Z",
      breachAt: "2031-07-02T03:00:00.000Z",
    };
    expect((await instanceView(instance, now)).health).toEqual(expected);
    expect((await instanceView(instance, new Date("2031-07-01T12:00:00Z"))).health).toMatchObject({ state: "Healthy" });
    // The list answers at the present, years before the point: Healthy, against the same RPO.
    const listed = (await listBackupInstances()).jsonBody as { value: InstanceView[] };
    expect(listed.value.find((view) => view.name === instance.name)?.health).toMatchObject({ state: "Healthy", rpo: "PT25H", since: expected.since });

    const page = await backupCenterSummary(now);
    expect(page.instances.find((row) => row.name === instance.name)!.health).toEqual(expected);
    const counted = page.instances.reduce((n, row) => (row.health?.state === "Breached" ? n + 1 : n), 0);
    expect(page.totals.health.Breached).toBe(counted);
    expect(page.totals.health.Breached).toBeGreaterThanOrEqual(1);
    expect(page.totals.health.Healthy + page.totals.health.AtRisk + page.totals.health.Breached).toBe(page.instances.filter((row) => row.health).length);
  }, 60_000);
});

describe("the nightly reconciliation", () => {
  test("when it runs, then it evaluates the health as well: a breached instance has its row after it, and the events went to the sink it was given", async () => {
    // Of the present (the run deletes day-old orphan dumps: a later instant would take other files' dumps in progress).
    const instance = await protectedInstance("rpo-nightly", new Date(Date.now() - 3 * 86_400_000).toISOString());
    const sunk: PgvaultEvent[] = [];
    const report = await reconcileVault({ now: new Date(), selfJobId: "none", cancelCleanupId: (id) => `cancel-${id}`, emitHealthEvents: (events) => void sunk.push(...events) });
    expect(report.health?.states.Breached).toBeGreaterThanOrEqual(1);
    expect(sunk).toHaveLength(report.health!.events);
    expect(await rowOf(instance.name)).toMatchObject({ state: "Breached" });
  }, 120_000);
});

describe("the evaluation after a scheduler tick", () => {
  const context = (lines: { level: string; text: string }[]) =>
    new InvocationContext({ functionName: "scheduler", invocationId: "tick-1", logHandler: (level, ...args) => lines.push({ level, text: String(args[0]) }) });

  test("when the evaluation fails (its events cannot be handed over), then the tick's function logs it and does not fail", async () => {
    const instance = await protectedInstance("rpo-tick", "2031-08-01T00:00:00Z");
    const lines: { level: string; text: string }[] = [];
    await expect(
      evaluateHealthAfterTick(new Date("2031-08-02T04:00:00Z"), context(lines), () => {
        throw new Error("the publisher is down");
      }),
    ).resolves.toBeUndefined();
    expect(lines).toEqual([{ level: "warning", text: "rpo health not evaluated (Error); the next tick tries again" }]);
    // The transition was recorded before its events were handed over: the next evaluation does not repeat it.
    expect(await rowOf(instance.name)).toMatchObject({ state: "Breached" });
  }, 60_000);

  test("when the evaluation succeeds, then one line counts the states and the events", async () => {
    const lines: { level: string; text: string }[] = [];
    await evaluateHealthAfterTick(new Date("2031-08-02T05:00:00Z"), context(lines), () => undefined);
    expect(lines).toEqual([{ level: "information", text: expect.stringMatching(/^rpo health: \d+ healthy, \d+ at risk, \d+ breached; \d+ events, \d+ rows written/) }]);
  }, 60_000);
});
