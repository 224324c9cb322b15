/**
 * Job events end to end: the backup, verify and cancel orchestrations replayed by durable-functions with the real
 * activities against real PostgreSQL and Azurite, publishing through the real EventGridPublisherClient to the Event
 * Grid topic stand-in. The setting is read once per process, so this whole file runs with a topic.
 */
import { describe, expect, test, vi } from "vitest";
import { publishSettledJobs } from "../../activities/reconcileVault";
import { deleteInstanceRecoveryPoint } from "../../functions/recoveryPoints";
import type { CancelJobInput } from "../../orchestrators/cancelJob";
import { runCancelJob } from "../support/cancelJobRun";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import { handled } from "../../shared/http";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import type { BackupInstance } from "../../shared/domain";
import { errorCatalog } from "../../shared/errors";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { useDurableClientStandIn } from "../support/durableClientStandIn";
import { eventPublishingRunner } from "../support/eventPublishingRuns";
import { useEventGridTopic, type EventGridTestServer, type ReceivedCloudEvent } from "../support/eventGridServer";
import { request } from "../support/http";
import { instanceName, instanceWithState, storedRecoveryPoint } from "../support/retentionFixture";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";
import { backUpOnce, damageArchive, runVerify } from "../support/verifyFixture";

let topic: EventGridTestServer;
useEventGridTopic((started) => (topic = started));
const durable = useDurableClientStandIn();
const publishStarted = eventPublishingRunner(durable);

/** A small database, its backup role (with CREATEDB, for drills) and the role's password. */
async function smallDatabase(namePrefix: string): Promise<{ database: string; role: string; password: string }> {
  // PostgreSQL names of the test: letters, digits and underscores.
  const prefix = namePrefix.replaceAll("-", "_");
  const database = uniqueName(prefix);
  const role = uniqueName(`${prefix}_user`);
  const password = `pw-${uniqueName("events")}`;
  await createDatabase(database);
  await withAdmin(database, (c) => c.query("CREATE TABLE notes (id int PRIMARY KEY, note text); INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g"));
  await createBackupRole(database, role, password);
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${role} CREATEDB`));
  return { database, role, password };
}

async function protectedInstance(prefix: string, notifications?: { jobSucceeded: boolean }): Promise<BackupInstance> {
  const { database, role, password } = await smallDatabase(prefix);
  return protect(instanceName(prefix), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, password)), notifications ? { notifications } : {});
}

const eventsOf = (jobId: string): ReceivedCloudEvent[] => topic.accepted.filter((event) => (event.data as { jobId?: string } | undefined)?.jobId === jobId);

describe("a job's end as an event", () => {
  test("when a backup fails for a wrong password, then pgvault.job.failed carries its code, message and recommended action, and no secret", async () => {
    const { database, role, password } = await smallDatabase("ev_fail");
    const wrongPassword = `wrong-${password}`;
    const secretRef = envSecret(`PGVAULT_SECRET_${role}_WRONG`, role, wrongPassword);
    const instance = await protect(instanceName("ev-fail"), databaseSource(database, secretRef));

    const run = await runBackup(instance);

    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorDBUserAuthFailed" } });
    expect(eventsOf(run.jobId)).toEqual([
      {
        specversion: "1.0",
        id: `${run.jobId}/failed`,
        source: "/pgvault",
        type: "pgvault.job.failed",
        subject: `backupInstances/${instance.name}`,
        time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/),
        datacontenttype: "application/json",
        data: {
          instanceName: instance.name,
          jobId: run.jobId,
          operation: "Backup",
          errorCode: "UserErrorDBUserAuthFailed",
          message: job!.error!.message,
          recommendedAction: errorCatalog.UserErrorDBUserAuthFailed.recommendedAction,
        },
      },
    ]);
    // Neither password nor the connection string holding it went over the wire.
    const wire = topic.acceptedBodies.join("\n");
    for (const secret of [wrongPassword, password, process.env[secretRef.slice("env:".length)]!]) expect(wire).not.toContain(secret);
  });

  test("when a backup succeeds and its policy does not opt in, then no pgvault.job.succeeded goes out (Azurite's refusal of immutability does)", async () => {
    const instance = await protectedInstance("ev-quiet");

    const run = await runBackup(instance);

    expect(run.state.error).toBeUndefined();
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    expect(eventsOf(run.jobId).map((event) => [event.type, event.id])).toEqual([["pgvault.immutability.notApplied", `${run.jobId}/immutabilityNotApplied`]]);
    expect(eventsOf(run.jobId)[0]!.data).toMatchObject({ instanceName: instance.name, recoveryPointId: rp.id, reason: "notSupported" });
  });

  test("when a backup succeeds and its policy opts in, then pgvault.job.succeeded names the recovery point", async () => {
    const instance = await protectedInstance("ev-loud", { jobSucceeded: true });

    const run = await runBackup(instance);

    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    const succeeded = eventsOf(run.jobId).filter((event) => event.type === "pgvault.job.succeeded");
    expect(succeeded).toEqual([
      expect.objectContaining({
        id: `${run.jobId}/succeeded`,
        subject: `backupInstances/${instance.name}`,
        data: { instanceName: instance.name, jobId: run.jobId, operation: "Backup", recoveryPointId: rp.id, message: `Backup of '${instance.name}' succeeded (recovery point ${rp.id}).` },
      }),
    ]);
  });

  test("when the topic fails every publish, then the backup still succeeds with its point, and the log says the events were not published", async () => {
    const instance = await protectedInstance("ev-down", { jobSucceeded: true });
    const publishFailureText = `Publishing 1 event(s) to the Event Grid topic ${new URL(topic.topicEndpoint).host} failed (HTTP 503 ServiceUnavailable).`;
    // Every attempt of every publish: four tries each (the client's retries) for five attempts (the orchestrator's).
    topic.failNext(1000, 503, 0);
    // The replay driver's orchestration context writes its log to the console.
    const consoleLines = [vi.spyOn(console, "warn"), vi.spyOn(console, "log")];

    const run = await runBackup(instance).finally(() => topic.stopFailing());
    const warnings = consoleLines.flatMap((spy) => spy.mock.calls.map((call) => call.map(String).join(" "))).filter((line) => line.includes("events not published"));
    for (const spy of consoleLines) spy.mockRestore();

    expect(run.state.error).toBeUndefined();
    expect(run.state.output).toEqual({ recoveryPointId: expect.any(String), sizeBytes: expect.any(Number) });
    expect(await getJob(run.jobId)).toMatchObject({ status: "Succeeded", phase: "Done" });
    expect(eventsOf(run.jobId)).toEqual([]);
    const publishes = run.attempts.filter((a) => a.name === "publishEvents");
    // Two publishes (immutability, job end), five attempts each, every one failed.
    expect(publishes).toHaveLength(10);
    expect(publishes.every((a) => a.error?.includes("HTTP 503"))).toBe(true);
    // Once each, not again on replay; the event ids and the failure, nothing more.
    expect(warnings).toEqual([
      `events not published (${run.jobId}/immutabilityNotApplied): SystemErrorUnexpected: ${publishFailureText}`,
      `events not published (${run.jobId}/succeeded): SystemErrorUnexpected: ${publishFailureText}`,
    ]);
  });

  test("when a restore drill finds the point damaged, then both pgvault.drill.failed and pgvault.job.failed go out", async () => {
    const { database, role, password } = await smallDatabase("ev_drill");
    const { instance, rp } = await backUpOnce(database, envSecret(`PGVAULT_SECRET_${role}`, role, password));
    const tampered = await damageArchive(rp);

    const run = await runVerify(instance, tampered);

    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorRecoveryPointCorrupted" } });
    expect(eventsOf(run.jobId).map((event) => event.type)).toEqual(["pgvault.drill.failed", "pgvault.job.failed"]);
    for (const event of eventsOf(run.jobId)) {
      expect(event.data).toMatchObject({ instanceName: instance.name, recoveryPointId: rp.id, operation: "Verify", errorCode: "UserErrorRecoveryPointCorrupted", message: job!.error!.message });
    }
  });
});

describe("other events", () => {
  test("when a cancelled backup's cleanup ends, then pgvault.job.cancelled goes out once", async () => {
    const name = instanceName("ev-cancel");
    const jobId = `backup-${name}-cancelled`;
    await updateJob(jobId, { operation: "Backup", trigger: "OnDemand", instanceName: name, status: "InProgress", phase: "Uploading", startTime: "2026-11-22T00:00:00Z", bytes: 0 });
    const input: CancelJobInput = { jobId, instanceName: name, operation: "Backup", plan: { kind: "backup", instanceName: name } };

    const run = await runCancelJob(input);

    expect(run.state.output).toBe("cancelled");
    expect(eventsOf(jobId)).toEqual([
      expect.objectContaining({
        id: `${jobId}/cancelled`,
        type: "pgvault.job.cancelled",
        subject: `backupInstances/${name}`,
        data: { instanceName: name, jobId, operation: "Backup", message: `Backup of '${name}' was cancelled on request; its partial data was removed.` },
      }),
    ]);
  });

  test("when the reconciliation has failed jobs whose orchestrations are gone, then each is published as pgvault.job.failed with the error it was given", async () => {
    const name = instanceName("ev-stuck");
    const stuck = `backup-${name}-stuck`;
    const finished = `backup-${name}-finished`;
    const error = { code: "SystemErrorUnexpected", message: "The job's orchestration does not exist (it never started, or was purged): it ended without finishing the job.", recommendedAction: "Retry the operation." } as const;
    const start = { operation: "Backup", trigger: "Scheduled", instanceName: name, phase: "Uploading", startTime: "2026-11-22T00:00:00Z", bytes: 0 } as const;
    await updateJob(stuck, { ...start, status: "Failed", endTime: "2026-11-23T01:30:00Z", error });
    await updateJob(finished, { ...start, status: "Succeeded", phase: "Done", endTime: "2026-11-22T00:10:00Z" });
    const lines: string[] = [];
    const log = { info: (line: string) => lines.push(line), warn: (line: string) => lines.push(line), error: (line: string) => lines.push(line) };

    await publishSettledJobs([stuck, finished], durable().client("reconcileVault").client, log);
    await publishStarted();

    expect(topic.accepted.filter((event) => [`${stuck}/failed`, `${finished}/failed`].includes(event.id))).toEqual([
      expect.objectContaining({
        type: "pgvault.job.failed",
        subject: `backupInstances/${name}`,
        time: "2026-11-23T01:30:00.000Z",
        data: { instanceName: name, jobId: stuck, operation: "Backup", errorCode: error.code, message: error.message, recommendedAction: error.recommendedAction },
      }),
    ]);
    expect(lines).toEqual([]);
  });

  test("when a person deletes a recovery point, then pgvault.recoveryPoint.deleted says until when it can be undeleted; deleting it again says nothing more", async () => {
    const instance = await instanceWithState(instanceName("ev-delete"));
    const rp = await storedRecoveryPoint(instance.name, new Date(), 1, 30);
    const params = { name: instance.name, rpId: rp.id };
    const deletePoint = () => {
      const { client, context } = durable().client("deleteRecoveryPoint");
      return handled(deleteInstanceRecoveryPoint)(request("DELETE", `backupInstances/${instance.name}/recoveryPoints/${rp.id}`, { params }), client, context);
    };

    expect((await deletePoint()).status).toBe(204);
    expect((await deletePoint()).status).toBe(204);
    expect(await publishStarted()).toHaveLength(1);

    const deleted = topic.accepted.filter((event) => event.id === `${instance.name}/${rp.id}/deleted`);
    expect(deleted).toEqual([
      expect.objectContaining({
        type: "pgvault.recoveryPoint.deleted",
        subject: `backupInstances/${instance.name}`,
        data: expect.objectContaining({
          instanceName: instance.name,
          recoveryPointId: rp.id,
          purgeAfter: expect.stringMatching(/Z$/),
          recommendedAction: expect.stringContaining(`/recoveryPoints/${rp.id}/undelete`),
        }),
      }),
    ]);
  });

  test("when the topic is down as a person deletes a recovery point, then the point is deleted all the same and the publishing orchestration says the event was lost", async () => {
    const instance = await instanceWithState(instanceName("ev-delete-down"));
    const rp = await storedRecoveryPoint(instance.name, new Date(), 1, 30);
    const { client, context } = durable().client("deleteRecoveryPoint");
    topic.failNext(1000, 503, 0);

    const answer = await handled(deleteInstanceRecoveryPoint)(
      request("DELETE", `backupInstances/${instance.name}/recoveryPoints/${rp.id}`, { params: { name: instance.name, rpId: rp.id } }),
      client,
      context,
    );
    // The replay driver's orchestration context writes its log to the console.
    const consoleLines = [vi.spyOn(console, "warn"), vi.spyOn(console, "log")];
    const [run] = await publishStarted().finally(() => topic.stopFailing());
    const orchestrationLog = consoleLines.flatMap((spy) => spy.mock.calls.map((call) => call.map(String).join(" "))).join("\n");
    consoleLines.forEach((spy) => spy.mockRestore());

    expect(answer.status).toBe(204);
    expect((await getRecoveryPoint(instance.name, rp.id))?.status).toBe("SoftDeleted");
    expect(run!.attempts.filter((attempt) => attempt.name === "publishEvents")).toHaveLength(5);
    expect(run!.state.error).toBeUndefined();
    expect(orchestrationLog).toMatch(new RegExp(`events not published \\(${instance.name}/${rp.id}/deleted\\): SystemErrorUnexpected: .*HTTP 503`));
    expect(topic.accepted.filter((event) => event.id === `${instance.name}/${rp.id}/deleted`)).toEqual([]);
  });
  test("when the durable client cannot start the publishing orchestration, then the point is deleted all the same and the log names the lost event", async () => {
    const instance = await instanceWithState(instanceName("ev-delete-nostart"));
    const rp = await storedRecoveryPoint(instance.name, new Date(), 1, 30);
    const logs: string[] = [];
    const { client, context } = durable().client("deleteRecoveryPoint", logs);
    vi.spyOn(client, "startNew").mockRejectedValueOnce(new Error("connect ECONNREFUSED http://127.0.0.1:7071/runtime/webhooks/durabletask?code=s3cr3t"));

    const answer = await handled(deleteInstanceRecoveryPoint)(
      request("DELETE", `backupInstances/${instance.name}/recoveryPoints/${rp.id}`, { params: { name: instance.name, rpId: rp.id } }),
      client,
      context,
    );

    expect(answer.status).toBe(204);
    expect((await getRecoveryPoint(instance.name, rp.id))?.status).toBe("SoftDeleted");
    expect(logs.join("\n")).toContain(`recovery point ${instance.name}/${rp.id} deleted; 1 events not published, their orchestration could not be started (Error): ${instance.name}/${rp.id}/deleted`);
    expect(logs.join("\n")).not.toContain("s3cr3t");
  });
});
