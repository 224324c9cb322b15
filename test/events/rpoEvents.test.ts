/**
 * The RPO health's events leave through Event Grid: the scheduler's evaluation (functions/scheduler.ts) starts the
 * eventPublishing orchestration with them (through the durable client stand-in), which the replay driver runs with
 * the real publishEvents activity, sending with the real EventGridPublisherClient to the topic stand-in: once per
 * transition, through the orchestration's retries when the topic answers 503 for a while; a topic that answers 503
 * on every try loses the events but not the tick, not the orchestration, and not the state. The
 * setting is read once per process, so this whole file runs with a topic (and imports the scheduler's function,
 * which reads the settings as it registers its timer, only once the topic is set). Instants years ahead, as in
 * test/rpo/healthStates.test.ts, and only this file's instance is looked at in the shared vault.
 */
import { expect, test, vi } from "vitest";
import { putInstance, putPolicy } from "../../shared/catalog/catalog";
import type { BackupPolicy } from "../../shared/domain";
import { readHealthRows } from "../../shared/rpo/healthStates";
import { useDurableClientStandIn } from "../support/durableClientStandIn";
import { eventPublishingRunner } from "../support/eventPublishingRuns";
import { useEventGridTopic, type EventGridTestServer } from "../support/eventGridServer";
import { storedRecoveryPoint } from "../support/retentionFixture";
import { uniqueName } from "../support/testDatabase";

let topic: EventGridTestServer;
const name = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");
useEventGridTopic((started) => (topic = started));
// Every job's orchestration is running, as far as the reconciliation asks: it settles none of the suite's jobs.
const durable = useDurableClientStandIn({ runtimeStatusOf: async () => "Running" });
let ourSubject = "";
const publishStarted = eventPublishingRunner(durable, () => ourSubject);

/** A daily policy starting at `firstSlot` and an instance of it created at `createdAt`; the instance's name. */
async function dailyInstance(prefix: string, firstSlot: string, createdAt: string): Promise<string> {
  const policy: BackupPolicy = {
    name: name(prefix),
    datasourceType: "database",
    schedule: { repeatingIntervals: [`R/${firstSlot}/P1D`], timeZone: "UTC" },
    retention: { default: { duration: "P30D" }, rules: [] },
  };
  await putPolicy(policy);
  const instanceName = name(prefix);
  await putInstance({
    name: instanceName,
    policyName: policy.name,
    datasource: { type: "database", host: "pg.example.com", port: 5432, database: "sales", secretRef: "env:UNUSED" },
    protectionState: "ProtectionConfigured",
    createdAt,
  });
  return instanceName;
}

test("when an instance's backups stop, then the scheduler's evaluations publish atRisk and breached once each; with the topic down, the tick goes on and the state is kept", async () => {
  const instanceName = await dailyInstance("rpo-events", "2032-01-01T02:00:00Z", "2032-03-01T00:00:00Z");
  await storedRecoveryPoint(instanceName, new Date("2032-03-01T02:00:00Z"), 0, 36_500, { writeBlob: false });
  ourSubject = `backupInstances/${instanceName}`;
  const { evaluateHealthAfterTick, healthEventPublisher } = await import("../../functions/scheduler");
  const { client, context } = durable().client("scheduler");
  const tick = async (iso: string) => {
    await evaluateHealthAfterTick(new Date(iso), context, healthEventPublisher(client, context));
    return publishStarted();
  };
  const ours = () => topic.accepted.filter((event) => event.subject === `backupInstances/${instanceName}`).map((event) => event.type);

  expect(await tick("2032-03-01T12:00:00Z")).toEqual([]); // Healthy: nothing to publish, no orchestration
  // 21 of 25 hours. Event Grid answers 503 five times: the client's own 4 tries fail the activity's first attempt,
  // the orchestration retries it, and the event goes through once. (Retry-After 0: the client's retries at once.)
  topic.failNext(5, 503, 0);
  const [atRisk, ...more] = await tick("2032-03-01T23:00:00Z");
  topic.stopFailing();
  expect(more).toEqual([]);
  expect(atRisk!.attempts.filter((attempt) => attempt.name === "publishEvents")).toHaveLength(2);
  expect(await tick("2032-03-01T23:30:00Z")).toEqual([]);
  expect(ours()).toEqual(["pgvault.rpo.atRisk"]);

  // Every publish attempt refused: the breach is recorded, its event lost after the retries (a warning), and
  // neither the tick nor the publishing orchestration fails.
  topic.failNext(1000, 503, 0);
  // The replay driver's orchestration context writes its log to the console.
  const consoleLines = [vi.spyOn(console, "warn"), vi.spyOn(console, "log")];
  const [breached] = await tick("2032-03-02T04:00:00Z");
  topic.stopFailing();
  const orchestrationLog = consoleLines.flatMap((spy) => spy.mock.calls.map((call) => call.map(String).join(" "))).join("\n");
  consoleLines.forEach((spy) => spy.mockRestore());
  expect(ours()).toEqual(["pgvault.rpo.atRisk"]);
  expect((await readHealthRows()).get(instanceName)?.state).toBe("Breached");
  expect(breached!.state.isDone).toBe(true);
  expect(breached!.state.error).toBeUndefined();
  expect(breached!.attempts.filter((attempt) => attempt.name === "publishEvents")).toHaveLength(5);
  expect(orchestrationLog).toContain(`events not published (${instanceName}/rpo/Breached/`);

  // Still breached a day later: the daily reminder goes out.
  await tick("2032-03-02T05:00:00Z");
  await tick("2032-03-03T04:30:00Z");
  expect(ours()).toEqual(["pgvault.rpo.atRisk", "pgvault.rpo.breached"]);
}, 120_000);

test("when the nightly reconciliation finds an instance breached, then its activity starts the publishing orchestration and the event reaches the topic", async () => {
  // Created three days ago with no point: breached now. Of the present, as the run deletes day-old orphan dumps (a
  // later instant would take other files' dumps in progress); the stand-in says every job's orchestration is running.
  const instanceName = await dailyInstance("rpo-nightly-events", "2026-01-01T02:00:00Z", new Date(Date.now() - 3 * 86_400_000).toISOString());
  ourSubject = `backupInstances/${instanceName}`;
  const { reconcileVaultActivity } = await import("../../activities/reconcileVault");
  const { context } = durable().client("reconcileVault");

  const outcome = await reconcileVaultActivity({ jobId: name("retention-events"), now: new Date().toISOString() }, context);
  const runs = await publishStarted();

  expect(outcome).toMatchObject({ ok: true });
  expect(runs).toHaveLength(1);
  expect(topic.accepted.filter((event) => event.subject === `backupInstances/${instanceName}`).map((event) => event.type)).toEqual(["pgvault.rpo.breached"]);
}, 120_000);
