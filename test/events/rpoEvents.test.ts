/**
 * The RPO health's events leave through Event Grid: the scheduler's evaluation (functions/scheduler.ts) hands them
 * to the publishing sink, which sends them with the real EventGridPublisherClient to the topic stand-in, once per
 * transition; a topic that answers 503 on every try loses the events but not the tick, and not the state. The
 * setting is read once per process, so this whole file runs with a topic (and imports the scheduler's function,
 * which reads the settings as it registers its timer, only once the topic is set). Instants years ahead, as in
 * test/rpo/healthStates.test.ts, and only this file's instance is looked at in the shared vault.
 */
import { InvocationContext } from "@azure/functions";
import { expect, test } from "vitest";
import { putInstance, putPolicy } from "../../shared/catalog/catalog";
import type { BackupPolicy } from "../../shared/domain";
import { publishingSink, readHealthRows } from "../../shared/rpo/healthStates";
import { useEventGridTopic, type EventGridTestServer } from "../support/eventGridServer";
import { storedRecoveryPoint } from "../support/retentionFixture";
import { uniqueName } from "../support/testDatabase";

let topic: EventGridTestServer;
const name = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");
useEventGridTopic((started) => (topic = started));

test("when an instance's backups stop, then the scheduler's evaluations publish atRisk and breached once each; with the topic down, the tick goes on and the state is kept", async () => {
  const policy: BackupPolicy = {
    name: name("rpo-events"),
    datasourceType: "database",
    schedule: { repeatingIntervals: ["R/2032-01-01T02:00:00Z/P1D"], timeZone: "UTC" },
    retention: { default: { duration: "P30D" }, rules: [] },
  };
  await putPolicy(policy);
  const instanceName = name("rpo-events");
  await putInstance({
    name: instanceName,
    policyName: policy.name,
    datasource: { type: "database", host: "pg.example.com", port: 5432, database: "sales", secretRef: "env:UNUSED" },
    protectionState: "ProtectionConfigured",
    createdAt: "2032-03-01T00:00:00Z",
  });
  await storedRecoveryPoint(instanceName, new Date("2032-03-01T02:00:00Z"), 0, 36_500, { writeBlob: false });
  const { evaluateHealthAfterTick } = await import("../../functions/scheduler");
  const warnings: string[] = [];
  const context = new InvocationContext({ functionName: "scheduler", invocationId: "rpo-events", logHandler: (level, ...args) => void (level === "warning" && warnings.push(args.join(" "))) });
  const tick = (iso: string) => evaluateHealthAfterTick(new Date(iso), context, publishingSink((line) => context.warn(`rpo: ${line}`)));
  const ours = () => topic.accepted.filter((event) => event.subject === `backupInstances/${instanceName}`).map((event) => event.type);

  await tick("2032-03-01T12:00:00Z"); // Healthy
  await tick("2032-03-01T23:00:00Z"); // 21 of 25 hours
  await tick("2032-03-01T23:30:00Z");
  expect(ours()).toEqual(["pgvault.rpo.atRisk"]);

  // Every publish attempt refused: the breach is recorded, its event lost, the tick's function does not fail.
  topic.failNext(1000);
  await tick("2032-03-02T04:00:00Z");
  topic.stopFailing();
  expect(ours()).toEqual(["pgvault.rpo.atRisk"]);
  expect((await readHealthRows()).get(instanceName)?.state).toBe("Breached");
  expect(warnings.some((line) => line.includes("RPO events not published"))).toBe(true);

  // Still breached a day later: the daily reminder goes out.
  await tick("2032-03-02T05:00:00Z");
  await tick("2032-03-03T04:30:00Z");
  expect(ours()).toEqual(["pgvault.rpo.atRisk", "pgvault.rpo.breached"]);
}, 120_000);
