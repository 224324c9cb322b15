/**
 * A cancel's cleanup against a backup's recovery point row, with the catalog's requests forced into the order under
 * test: a proxy in front of the vault's table service fails the row's delete, or holds one request of one writer
 * while the other writes. The row is the truth: a point recorded complete is never removed; one still being
 * recorded is removed row first, then its data, so no row ever names data that is gone.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { dumpDatabaseActivity } from "../../activities/dumpDatabase";
import { recordRecoveryPointActivity, type RecordRecoveryPointInput } from "../../activities/recordRecoveryPoint";
import { isDumpSlotBusy } from "../../shared/backup/dumpSlots";
import { changeRecoveryPoint } from "../../shared/catalog/catalog";
import { getRecoveryPoint } from "../../shared/catalog/recoveryPointReads";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { DatabaseDatasource, RecoveryPoint } from "../../shared/domain";
import { cleanUpCancelledJob, type CancelPlan } from "../../shared/jobs/jobCleanup";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { committedBlobs, databaseSource, envSecret, protect } from "../support/backupFixture";
import { proxiedSharedCatalog, type TableRequest } from "../support/failingTableProxy";
import { invocation } from "../support/http";
import { blobExists, instanceName, instanceWithState, storedRecoveryPoint } from "../support/retentionFixture";
import { createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

const tables = proxiedSharedCatalog();

/** The point's own row, as the proxy sees a request for it. */
const rowOf = (rp: { instanceName: string; id: string }) => (request: TableRequest) =>
  request.path.endsWith(`recoveryPoints(PartitionKey='${rp.instanceName}',RowKey='${rp.id}')`);

async function backupJob(instance: string, recoveryPointId: string, jobId = uniqueName("recording-job")): Promise<string> {
  await updateJob(jobId, { operation: "Backup", trigger: "OnDemand", instanceName: instance, status: "InProgress", phase: "Recording", startTime: "2026-11-22T00:00:00Z", bytes: 0, recoveryPointId });
  return jobId;
}

const backupPlan = (rp: { instanceName: string; id: string }): CancelPlan => ({ kind: "backup", instanceName: rp.instanceName, recoveryPointId: rp.id });

/** A point its backup job is still recording (between the record step's two writes), with its data in the vault. */
async function pointBeingRecorded(prefix: string): Promise<{ rp: RecoveryPoint; jobId: string }> {
  const name = instanceName(prefix);
  await instanceWithState(name);
  const jobId = uniqueName("recording-job");
  const rp = await storedRecoveryPoint(name, new Date(), 0, 30, { recordingJob: jobId });
  await backupJob(name, rp.id, jobId);
  return { rp, jobId };
}

describe("a cancel while the point is being recorded", () => {
  test("when the row's delete fails, then the point's data is still there (the row goes first), and the next attempt removes the row, then the data", async () => {
    const { rp, jobId } = await pointBeingRecorded("cancel-rowfails");

    tables().failWritesOf = "recoveryPoints";
    try {
      await expect(cleanUpCancelledJob(jobId, backupPlan(rp), new Date())).rejects.toThrow(/Vault storage was unavailable/);
    } finally {
      tables().failWritesOf = undefined;
    }

    // No row naming data that is gone (retention would take it for the newest).
    expect(await getRecoveryPoint(rp.instanceName, rp.id)).toBeDefined();
    expect(await blobExists(rp.blobs[0]!)).toBe(true);

    expect(await cleanUpCancelledJob(jobId, backupPlan(rp), new Date())).toBe("cancelled");
    expect(await getRecoveryPoint(rp.instanceName, rp.id)).toBeUndefined();
    expect(await blobExists(rp.blobs[0]!)).toBe(false);
    expect((await getJob(jobId))?.status).toBe("Cancelled");
  });

  test("when the record step's second write lands between the cleanup's look at the row and its delete, then the point is kept and the job ends Succeeded", async () => {
    const { rp, jobId } = await pointBeingRecorded("cancel-recordfirst");
    await updateJob(jobId, { cancelRequested: true });

    // The step's second write: the same row without its `recording` mark.
    const recordStep = () => changeRecoveryPoint(rp.instanceName, rp.id, ({ recording: _recording, ...complete }) => complete);
    const recorded = tables().holdNext((request) => request.method === "DELETE" && rowOf(rp)(request), recordStep);
    expect(await cleanUpCancelledJob(jobId, backupPlan(rp), new Date("2026-11-22T01:00:00Z"))).toBe("finishedFirst");

    expect((await recorded)?.recording).toBeUndefined();
    const { recording: _recording, ...complete } = rp;
    expect(await getRecoveryPoint(rp.instanceName, rp.id)).toEqual(complete);
    expect(await blobExists(rp.blobs[0]!)).toBe(true);
    expect(await getJob(jobId)).toMatchObject({ status: "Succeeded", recoveryPointId: rp.id, bytes: rp.sizeBytes, endTime: "2026-11-22T01:00:00Z" });
  });
});

describe("the record step racing a cancel", () => {
  const database = uniqueName("recording");
  const role = uniqueName("recording_user");
  let datasource: DatabaseDatasource;
  beforeAll(async () => {
    await createDatabase(database);
    await seedRichDatabase(database);
    await createBackupRole(database, role, "pw-recording");
    datasource = databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-recording"));
  });

  /** A backup job whose dump is committed, about to record its point: the record step's input, and the point. */
  async function dumpedBackup(prefix: string) {
    const instance = await protect(instanceName(prefix), datasource);
    const point = { instanceName: instance.name, id: recoveryPointId(new Date(), "5a5b5c5d") };
    const jobId = await backupJob(instance.name, point.id);
    const dumped = await dumpDatabaseActivity({ jobId, instanceName: instance.name, recoveryPointId: point.id, datasource, secretVersion: "env", expectedBytes: 1 }, invocation("dumpDatabase"));
    if (!dumped.ok || isDumpSlotBusy(dumped.value)) throw new Error(`no dump: ${JSON.stringify(dumped)}`);
    const input: RecordRecoveryPointInput = {
      jobId,
      instanceName: instance.name,
      recoveryPointId: point.id,
      time: "2026-11-22T00:00:00Z",
      backup: { format: "pg_dump-custom", blobPath: dumped.value.blobPath, serverVersion: "15" },
    };
    return { point, jobId, input };
  }

  test("when the cleanup removes the row between the step's two writes, then the step fails as cancelled, and neither the row nor the dump remain", async () => {
    const { point, jobId, input } = await dumpedBackup("cancel-cleanupfirst");

    // The cancel lands after the step looked at the flag, while its second write is on its way.
    const cleanup = tables().holdNext(
      (request) => request.method === "PUT" && rowOf(point)(request),
      async () => {
        await updateJob(jobId, { cancelRequested: true });
        return cleanUpCancelledJob(jobId, backupPlan(point), new Date());
      },
    );

    await expect(recordRecoveryPointActivity(input)).rejects.toThrow(/was cancelled/);
    expect(await cleanup).toBe("cancelled");
    expect(await getRecoveryPoint(point.instanceName, point.id)).toBeUndefined();
    expect(await committedBlobs(point.instanceName)).toEqual([]);
    expect((await getJob(jobId))?.status).toBe("Cancelled");
  });

  test("when two copies of the record step run at once, then both answer the same point, recorded once and complete", async () => {
    const { point, input } = await dumpedBackup("record-twice");

    // The second copy starts while the first one's second write is held: it finds the first one's row.
    let second: Promise<unknown> | undefined;
    const held = tables().holdNext(
      (request) => request.method === "PUT" && rowOf(point)(request),
      async () => {
        second = recordRecoveryPointActivity(input);
        return second;
      },
    );
    const first = await recordRecoveryPointActivity(input);

    expect(await held).toEqual(first);
    expect(await second).toEqual(first);
    const stored = await getRecoveryPoint(point.instanceName, point.id);
    expect(stored).toMatchObject({ id: point.id, status: "Available", sizeBytes: first.sizeBytes });
    expect(stored?.recording).toBeUndefined();
  });
});
