/**
 * Flexible Server long-term-retention backups end to end: the backup orchestration through durable-functions'
 * replay with the real activities, the real ARM client and DefaultAzureCredential against the ARM stand-in,
 * which writes the backup through the SAS URLs it is given into real Azurite containers.
 */
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { backupOrchestrationName, backupOrchestrator } from "../../orchestrators/backup";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import { getJob } from "../../shared/catalog/jobRows";
import { ltrContainerNames } from "../../shared/flexServer/ltrContainers";
import { deleteRecoveryPoints } from "../../shared/retention/cleanup";
import { asLtrPoint, protectFlexServer, runFlexBackup } from "../support/flexFixture";
import { useArmStandIn, type ArmTestServer } from "../support/armServer";
import { largestPayload } from "../support/durablePayloads";
import { EventType } from "../support/durableTesting";
import { replayFinished, type OrchestrationRun } from "../support/replayDriver";
import { runRestore } from "../support/restoreFixture";
import { uniqueName } from "../support/testDatabase";

const subscriptionId = "3f2b8c1e-7d4a-4e5b-9c6f-0a1b2c3d4e5f";
const vault = () => BlobServiceClient.fromConnectionString(inject("vaultConnectionString"));

let arm: ArmTestServer;
beforeAll(async () => {
  ({ arm } = await useArmStandIn(inject("tls")));
});
afterAll(() => arm.close());

function newServer(setup: Partial<Parameters<ArmTestServer["addServer"]>[0]> = {}): string {
  return arm.addServer({ subscriptionId, resourceGroup: "rg-data", name: uniqueName("pg").replaceAll("_", "-"), ...setup });
}

const instanceName = () => uniqueName("flex").replaceAll("_", "-");

async function containerExists(name: string): Promise<boolean> {
  return vault().getContainerClient(name).exists();
}

/** The stand-in wrote a partial file into the first container before failing; cleanup must have removed both. */
async function expectContainersGone(recoveryPointId: string): Promise<void> {
  const names = ltrContainerNames(recoveryPointId, 2);
  for (const name of names) expect(await containerExists(name), name).toBe(false);
}

/** Everything a run leaves behind that is stored or shown: history, statuses, logs and the job row. */
async function storedTexts(run: OrchestrationRun & { jobId: string }): Promise<string> {
  return JSON.stringify([run.history, run.customStatuses, run.logs, run.state, await getJob(run.jobId)]);
}

const timersOf = (run: OrchestrationRun) => run.history.filter((e) => e.EventType === EventType.TimerCreated).map((e) => (e as { FireAt?: string }).FireAt ?? "");

describe("a Flexible Server backup", () => {
  test("when the server's backup succeeds, then the recovery point records the operation and the containers hold its files", async () => {
    const resourceId = newServer({ numberOfContainers: 2 });
    const instance = await protectFlexServer(instanceName(), resourceId);

    const run = await runFlexBackup(instance);

    expect(run.state.error).toBeUndefined();
    const rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
    expect(rp).toMatchObject({ instanceName: instance.name, status: "Available", serverResourceId: resourceId, serverVersion: "16" });
    expect(rp.containers).toHaveLength(2);
    expect(rp.ltr.backupName).toBe(`pgvault-${rp.id.toLowerCase()}`);
    expect(rp.ltr.dataTransferredInBytes).toBeGreaterThan(0);
    expect(rp.ltr.datasourceSizeInBytes).toBeGreaterThan(0);
    expect(Date.parse(rp.ltr.endTime)).toBeGreaterThanOrEqual(Date.parse(rp.ltr.startTime));
    // Every file the server wrote, in both containers, is listed with the point, and the sizes add up.
    let stored = 0;
    const found: string[] = [];
    for (const container of rp.containers) {
      for await (const blob of vault().getContainerClient(container).listBlobsFlat()) {
        found.push(`${container}/${blob.name}`);
        stored += blob.properties.contentLength ?? 0;
      }
    }
    expect(found.sort()).toEqual([...rp.blobs].sort());
    expect(found.length).toBeGreaterThanOrEqual(4);
    expect(rp.sizeBytes).toBe(stored);
    expect(arm.operations(resourceId)).toEqual([expect.objectContaining({ backupName: rp.ltr.backupName, status: "Succeeded", sasUriCount: 2, startRequests: 1 })]);

    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Succeeded", phase: "Done", recoveryPointId: rp.id, bytes: rp.sizeBytes });
    expect(run.state.output).toEqual({ recoveryPointId: rp.id, sizeBytes: rp.sizeBytes });
    // The orchestration waited on durable timers, 30 s first; it never slept inside an activity.
    const timers = timersOf(run);
    expect(timers.length).toBeGreaterThanOrEqual(1);
    // A replay of the finished history from scratch reaches the same end, as after a host restart.
    const replayed = await replayFinished(backupOrchestrator, { name: backupOrchestrationName, instanceId: run.jobId, input: run.input, history: run.history });
    expect(replayed.output).toEqual(run.state.output);
    // No SAS URL (nor any signature) is in the history, the statuses, the logs or the job row.
    const texts = await storedTexts(run);
    expect(texts).not.toMatch(/sig=|[?&]sv=|se=\d{4}/);
    expect(texts).toContain(rp.containers[0]!);
  });

  test("when the server is throttled (429 with Retry-After) and ARM answers 503, then the backup still succeeds", async () => {
    const resourceId = newServer();
    const instance = await protectFlexServer(instanceName(), resourceId);
    arm.throttleNext(2, 1);
    const run = await runFlexBackup(instance);
    expect(run.state.error).toBeUndefined();
    expect(arm.requests.filter((r) => r.status === 429)).toHaveLength(2);
    asLtrPoint((await listRecoveryPoints(instance.name))[0]);

    // More failures than the SDK retries: the activity fails as transient and the orchestration retries it.
    const second = await protectFlexServer(instanceName(), newServer());
    arm.failNext(5, 503);
    const retried = await runFlexBackup(second);
    expect(retried.state.error).toBeUndefined();
    expect(retried.attempts.filter((a) => a.error !== undefined).map((a) => a.name)).toEqual(["checkFlexServerAccess"]);
    expect(retried.attempts.find((a) => a.error)?.error).toContain("did not answer");
  }, 90_000);

  test("when the server's backup fails, then the job fails with the server's reason, and no recovery point or container is left", async () => {
    const resourceId = newServer({ backup: { outcome: "Failed", errorCode: "LtrBackupFailed", errorMessage: "The server ran out of temporary space." } });
    const instance = await protectFlexServer(instanceName(), resourceId);

    const run = await runFlexBackup(instance);

    expect(run.state.error).toBeDefined();
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("SystemErrorUnexpected");
    expect(job?.error?.message).toContain("ended Failed: LtrBackupFailed: The server ran out of temporary space.");
    expect(await listRecoveryPoints(instance.name)).toEqual([]);
    expect(arm.operations(resourceId)).toEqual([expect.objectContaining({ status: "Failed" })]);
    await expectContainersGone(job!.recoveryPointId!);
    expect(await storedTexts(run)).not.toMatch(/sig=/);
  });

  test("when the server's operation ends Cancelled, then the job fails saying so, and no recovery point or container is left", async () => {
    const resourceId = newServer({ backup: { outcome: "Cancelled" } });
    const instance = await protectFlexServer(instanceName(), resourceId);

    const run = await runFlexBackup(instance);

    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("SystemErrorUnexpected");
    expect(job?.error?.message).toContain("ended Cancelled");
    expect(job?.error?.recommendedAction).toContain("cancelled on Azure's side");
    expect(await listRecoveryPoints(instance.name)).toEqual([]);
    await expectContainersGone(job!.recoveryPointId!);
  });

  test("when the start answers 200 with the finished operation, then the backup is recorded as for an asynchronous start", async () => {
    const resourceId = newServer({ startAnswer: "sync" });
    const instance = await protectFlexServer(instanceName(), resourceId);
    const mark = arm.requests.length;

    const run = await runFlexBackup(instance);

    expect(run.state.error).toBeUndefined();
    expect(arm.requests.slice(mark).map((r) => `${r.operation} ${r.status}`)).toContain("startLtrBackup 200");
    expect(asLtrPoint((await listRecoveryPoints(instance.name))[0]).blobs.length).toBe(8);
  });

  test("when the operation resource answers 404 for a while after the start, then polling goes on and the backup succeeds", async () => {
    const resourceId = newServer({ operationHiddenForReads: 3 });
    const instance = await protectFlexServer(instanceName(), resourceId);
    const mark = arm.requests.length;

    const run = await runFlexBackup(instance);

    expect(run.state.error).toBeUndefined();
    const after = arm.requests.slice(mark);
    const started = after.findIndex((r) => r.operation === "startLtrBackup");
    expect(after.slice(started).some((r) => r.operation === "getLtrOperation" && r.status === 404)).toBe(true);
    expect(await listRecoveryPoints(instance.name)).toHaveLength(1);
  });

  test("when another LTR backup of the server is running, then Azure's UserErrorMaxConcurrentOperationLimitReached ends the job in UserErrorOperationInProgress", async () => {
    const resourceId = newServer({ backup: { outcome: "Running" } });
    await runFlexBackup(await protectFlexServer(instanceName(), resourceId));
    const instance = await protectFlexServer(instanceName(), resourceId);

    const run = await runFlexBackup(instance);

    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorOperationInProgress");
    expect(job?.error?.message).toContain("UserErrorMaxConcurrentOperationLimitReached");
    expect(job?.error?.recommendedAction).toContain("once a week");
    await expectContainersGone(job!.recoveryPointId!);
  });

  test("when the server was backed up this week, then the next backup fails with UserErrorOperationInProgress and leaves nothing; a week later one succeeds", async () => {
    const resourceId = newServer();
    const instance = await protectFlexServer(instanceName(), resourceId);
    expect((await runFlexBackup(instance)).state.error).toBeUndefined();

    const again = await runFlexBackup(instance);

    const job = await getJob(again.jobId);
    expect(job?.error?.code).toBe("UserErrorOperationInProgress");
    expect(job?.error?.message).toMatch(/UserErrorMaxConcurrentOperationLimitReached.*per week/);
    await expectContainersGone(job!.recoveryPointId!);
    expect(await listRecoveryPoints(instance.name)).toHaveLength(1);
    // The stand-in's clock, not the orchestration's: Azure counts the week.
    arm.advanceClock(7 * 24 * 3600_000);
    try {
      expect((await runFlexBackup(instance)).state.error).toBeUndefined();
    } finally {
      arm.advanceClock(-7 * 24 * 3600_000);
    }
    expect(await listRecoveryPoints(instance.name)).toHaveLength(2);
  });

  test("when the server is not Ready, then the job fails with UserErrorFlexServerNotReady before anything is created", async () => {
    const resourceId = newServer({ state: "Stopped" });
    const instance = await protectFlexServer(instanceName(), resourceId);
    const run = await runFlexBackup(instance);
    const job = await getJob(run.jobId);
    expect(job?.error?.code).toBe("UserErrorFlexServerNotReady");
    expect(job?.error?.message).toContain("Stopped");
    expect(arm.operations(resourceId)).toEqual([]);
    expect(run.attempts.map((a) => a.name)).not.toContain("createLtrContainers");
  });

  test("when the backup runs past the deadline, then polling backs off on durable timers, the job fails, and the containers are deleted", async () => {
    const resourceId = newServer({ backup: { outcome: "Running" } });
    const instance = await protectFlexServer(instanceName(), resourceId);

    const run = await runFlexBackup(instance);

    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("SystemErrorUnexpected");
    expect(job?.error?.message).toMatch(/did not finish by .*FLEX_BACKUP_TIMEOUT/);
    // Intervals 30 s, 1, 2, 4 min, then every 5 min until the default six hours are up: about 75 polls, not 720.
    const fireTimes = timersOf(run).map((t) => Date.parse(t));
    const gaps = fireTimes.slice(1).map((t, i) => Math.round((t - fireTimes[i]!) / 1000));
    expect(gaps.slice(0, 4)).toEqual([60, 120, 240, 300].map((s) => expect.closeTo(s, -1)));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(301);
    expect(fireTimes.at(-1)! - fireTimes[0]!).toBeGreaterThan(5.9 * 3600_000);
    expect(fireTimes.length).toBeLessThan(90);
    expect(await listRecoveryPoints(instance.name)).toEqual([]);
    expect(arm.operations(resourceId)).toEqual([expect.objectContaining({ status: "Running" })]);
    await expectContainersGone(job!.recoveryPointId!);
  });
});

describe("a Flexible Server recovery point", () => {
  test("when it is restored as files, then every file arrives under the prefix with manifest.json naming each file's kind", async () => {
    const instance = await protectFlexServer(instanceName(), newServer({ numberOfContainers: 2 }));
    await runFlexBackup(instance);
    const rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
    const target = BlobServiceClient.fromConnectionString(inject("exportConnectionString")).getContainerClient(uniqueName("flexexport").replaceAll("_", "-"));
    await target.create();

    const run = await runRestore(rp, { type: "blob", containerUrl: target.url, prefix: "flex/2026" });

    expect(run.state.error).toBeUndefined();
    const exported = new Map<string, number>();
    for await (const blob of target.listBlobsFlat()) exported.set(blob.name, blob.properties.contentLength ?? 0);
    expect([...exported.keys()].sort()).toEqual([...rp.blobs.map((b) => `flex/2026/${b}`), "flex/2026/manifest.json"].sort());
    for (const blob of rp.blobs) {
      const [container, ...name] = blob.split("/");
      const original = await vault().getContainerClient(container!).getBlobClient(name.join("/")).downloadToBuffer();
      const copy = await target.getBlobClient(`flex/2026/${blob}`).downloadToBuffer();
      expect(copy.equals(original)).toBe(true);
    }
    const manifest = JSON.parse((await target.getBlobClient("flex/2026/manifest.json").downloadToBuffer()).toString()) as {
      recoveryPoint: unknown;
      files: { name: string; sizeBytes: number; kind: string; database?: string }[];
      restoreCommand: string;
    };
    expect(manifest.recoveryPoint).toEqual(rp);
    expect(manifest.files.map((f) => f.name).sort()).toEqual(rp.blobs.map((b) => `flex/2026/${b}`).sort());
    expect(manifest.files.every((f) => f.sizeBytes === exported.get(f.name))).toBe(true);
    // The stand-in's placeholder layout (one database archive and the instance's three files, in each container).
    const expected: Record<string, { kind: string; database?: string }> = {
      "appdb_database.sql": { kind: "database", database: "appdb" },
      "roles.sql": { kind: "roles" },
      "schema.sql": { kind: "schema" },
      "tablespace.sql": { kind: "tablespace" },
    };
    for (const { name, kind, database } of manifest.files) {
      expect({ kind, database }, name).toEqual({ database: undefined, ...expected[name.slice(name.lastIndexOf("/") + 1)] });
    }
    expect(new Set(manifest.files.map((f) => f.kind))).toEqual(new Set(["database", "roles", "schema", "tablespace"]));
    expect(manifest.restoreCommand).toContain("pg_restore --no-owner");
  });

  test("when the server writes a thousand files, then the point and its export list every one, and no history event grows with them", async () => {
    // A server of 600 databases, one file each, in each of two containers: their list alone is some 100 KB, past what
    // one history event holds on the local host.
    const filesPerContainer = Array.from({ length: 600 }, (_, i) => ({ name: `tenant_${String(i).padStart(4, "0")}_database.sql`, bytes: 16 }));
    const instance = await protectFlexServer(instanceName(), newServer({ numberOfContainers: 2, backup: { outcome: "Succeeded", filesPerContainer } }));

    const backup = await runFlexBackup(instance);

    expect(backup.state.error).toBeUndefined();
    const rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
    expect(rp.blobs).toHaveLength(1_200);
    expect(rp.sizeBytes).toBe(1_200 * 16);
    expect(backup.state.output).toEqual({ recoveryPointId: rp.id, sizeBytes: rp.sizeBytes });
    const target = BlobServiceClient.fromConnectionString(inject("exportConnectionString")).getContainerClient(uniqueName("flexmany").replaceAll("_", "-"));
    await target.create();
    const restore = await runRestore(rp, { type: "blob", containerUrl: target.url, prefix: "many/" });
    expect(restore.state.error).toBeUndefined();
    expect(restore.state.output).toMatchObject({ fileCount: 1_200, manifest: "many/manifest.json", bytes: rp.sizeBytes });
    const manifest = JSON.parse((await target.getBlobClient("many/manifest.json").downloadToBuffer()).toString()) as { files: unknown[] };
    expect(manifest.files).toHaveLength(1_200);
    for (const run of [backup, restore]) {
      const largest = largestPayload(run);
      expect(largest.bytes, largest.what).toBeLessThan(16 * 1024);
    }
  }, 180_000);

  test("when retention deletes it, then its containers go and the row is marked Deleted", async () => {
    const instance = await protectFlexServer(instanceName(), newServer());
    await runFlexBackup(instance);
    const rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
    expect(await containerExists(rp.containers[0]!)).toBe(true);

    const report = await deleteRecoveryPoints([rp], new Date(rp.expiresAt));

    expect(report).toEqual({ deleted: [rp.id], kept: [], failed: [] });
    for (const container of rp.containers) expect(await containerExists(container)).toBe(false);
    expect((await getRecoveryPoint(instance.name, rp.id))?.status).toBe("Deleted");
  });

  test("when a point whose files were made immutable is deleted after its immutability ended, then its containers are emptied file by file, then deleted", async () => {
    const instance = await protectFlexServer(instanceName(), newServer());
    await runFlexBackup(instance);
    const listed = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
    const rp = { ...listed, immutableUntil: listed.expiresAt, immutabilityMode: "Unlocked" as const };
    await putRecoveryPoint(rp);

    const report = await deleteRecoveryPoints([rp], new Date(rp.expiresAt));

    expect(report).toEqual({ deleted: [rp.id], kept: [], failed: [] });
    for (const container of rp.containers) expect(await containerExists(container)).toBe(false);
    expect((await getRecoveryPoint(instance.name, rp.id))?.status).toBe("Deleted");
  });

  test("when a damaged row names a container that is not its own, then nothing is deleted", async () => {
    const instance = await protectFlexServer(instanceName(), newServer());
    await runFlexBackup(instance);
    const rp = asLtrPoint((await listRecoveryPoints(instance.name))[0]);
    await vault().getContainerClient("backups").createIfNotExists();
    await putRecoveryPoint({ ...rp, containers: ["backups"] });
    const report = await deleteRecoveryPoints([{ ...rp, containers: ["backups"] }], new Date(rp.expiresAt));
    expect(report.deleted).toEqual([]);
    expect(report.failed[0]?.error.message).toContain("not one of its own");
    expect(await containerExists("backups")).toBe(true);
  });
});
