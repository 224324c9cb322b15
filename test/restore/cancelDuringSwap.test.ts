/**
 * POST /jobs/{id}/cancel (functions/jobs.ts) against a restore at its swap, the restore's point of no return: the
 * real cancel handler (with the durable client stand-in), the real `swapDatabase` and the real cleanup. The
 * interleavings are forced at the steps: the cancel is held where it asks the durable client whether its cleanup
 * already runs (after it read the job, before it flags it), and the swap is held at its rename by a session that
 * locks the restored database. Either the cancel is refused and the swap completes, or the cancel wins and the
 * target is untouched; the job never says Cancelled over a replaced target.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { restoreDatabaseActivity } from "../../activities/restoreDatabase";
import { swapDatabaseActivity } from "../../activities/swapDatabase";
import { cancelJobHandler } from "../../functions/jobs";
import { cancelJobInstanceId } from "../../shared/jobs/jobId";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint } from "../../shared/domain";
import { isoSeconds } from "../../shared/time/isoTime";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { temporaryDatabaseName } from "../../shared/restore/databaseRestore";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, invocation, request } from "../support/http";
import { waitUntil } from "../support/localHost";
import { backedUpRichDatabase, existingTarget, restoringRole } from "../support/restoreFixture";
import { stepGate, type StepGate } from "../support/stepGate";
import { cluster, contentFingerprint, databasesUnder, uniqueName, withAdmin } from "../support/testDatabase";

let durable: DurableClientStandIn;
/** The cancel whose status call waits at a gate, if any. */
let heldCancel: { jobId: string; gate: StepGate } | undefined;
let source: string;
let rp: RecoveryPoint;
let restorer: { role: string; secretRef: string };

beforeAll(async () => {
  durable = await startDurableClientStandIn({
    // No orchestration is known (404); a held cancel waits where it asks about its cleanup's.
    runtimeStatusOf: async (instanceId) => {
      if (heldCancel && instanceId === cancelJobInstanceId(heldCancel.jobId)) await heldCancel.gate.pass();
      return undefined;
    },
  });
  ({ database: source, rp } = await backedUpRichDatabase("swapcancel_src"));
  restorer = await restoringRole("swapcancel_restorer");
});
afterAll(() => durable?.close());

/** A restore job with its database restored (the real step), about to be swapped over an existing target. */
async function restoredJob(): Promise<{ jobId: string; target: DatabaseRestoreTarget; restored: string; before: Record<string, string> }> {
  const target = await existingTarget("swapcancel_target", restorer);
  const jobId = uniqueName("restore-swapcancel");
  await updateJob(jobId, { operation: "Restore", trigger: "OnDemand", instanceName: rp.instanceName, status: "InProgress", phase: "Restoring", startTime: isoSeconds(new Date()), bytes: 0, recoveryPointId: rp.id });
  const outcome = await restoreDatabaseActivity({ jobId, instanceName: rp.instanceName, recoveryPointId: rp.id, target }, invocation("restoreDatabase"));
  if (!outcome.ok) throw new Error(`the restore failed: ${JSON.stringify(outcome)}`);
  return { jobId, target, restored: outcome.value.temporaryDatabase, before: await contentFingerprint(target.database) };
}

function cancel(jobId: string) {
  const { client, context } = durable.client("requestJobCancel");
  return cancelJobHandler(request("POST", `jobs/${jobId}/cancel`, { params: { id: jobId } }), client, context);
}

const swap = (jobId: string, target: DatabaseRestoreTarget, temporaryDatabase: string) =>
  swapDatabaseActivity({ jobId, target, temporaryDatabase }).catch((err: unknown) => ({ ok: false as const, thrown: err }));

/**
 * What the cancel's cleanup orchestration does. The handler builds its plan from the terminated orchestration's
 * input, which the stand-in does not know: the plan is the one a restore to `target` gets.
 */
async function runCleanup(jobId: string, target: DatabaseRestoreTarget): Promise<string> {
  expect(durable.started.some((s) => s.instanceId === cancelJobInstanceId(jobId))).toBe(true);
  return cleanUpCancelledJob(jobId, { kind: "restore", instanceName: rp.instanceName, recoveryPointId: rp.id, target }, new Date());
}

const jobDatabases = (jobId: string) => databasesUnder(temporaryDatabaseName(jobId));

describe("a cancel and a swap", () => {
  test("when the cancel has read the job (still Restoring) and the swap starts before the cancel flags it, then the cancel is refused (409) and the swap completes", async () => {
    const { jobId, target, restored } = await restoredJob();
    heldCancel = { jobId, gate: stepGate() };
    const cancelling = cancel(jobId);
    await heldCancel.gate.reached;

    // Meanwhile the orchestration enters Swapping and the swap runs.
    await updateJob(jobId, { phase: "Swapping" });
    const swapped = await swap(jobId, target, restored);
    heldCancel.gate.open();
    const answer = await cancelling;
    heldCancel = undefined;

    expect(swapped).toEqual({ ok: true, value: null });
    expect(answer.status).toBe(409);
    expect(bodyOf<{ error: { code: string; message: string } }>(answer).error.message).toContain("swap");
    expect(await contentFingerprint(target.database)).toEqual(await contentFingerprint(source));
    expect((await getJob(jobId))?.cancelRequested).toBeUndefined();
  });

  test("when the cancel lands before the swap starts, then the swap refuses, the target is untouched, and the cleanup leaves the job Cancelled with no temporary database", async () => {
    const { jobId, target, restored, before } = await restoredJob();
    const answer = await cancel(jobId);
    expect(answer.status).toBe(202);

    // The orchestration's termination does not stop a swap already scheduled.
    const swapped = await swap(jobId, target, restored);

    expect(swapped.ok).toBe(false);
    expect(await contentFingerprint(target.database)).toEqual(before);
    expect(await runCleanup(jobId, target)).toBe("cancelled");
    expect(await getJob(jobId)).toMatchObject({ status: "Cancelled" });
    expect(await jobDatabases(jobId)).toEqual([]);
    expect(await contentFingerprint(target.database)).toEqual(before);
  });

  test("when the cancel arrives while the swap waits at its rename, then it is refused (409) and the swap completes once it can", async () => {
    const { jobId, target, restored } = await restoredJob();
    await updateJob(jobId, { phase: "Swapping" });
    // The rename needs the restored database's lock; this session holds a lock that conflicts with it.
    const holder = new pg.Client({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password, database: "postgres" });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(restored)} IS 'held by the test'`);
    try {
      const swapping = swap(jobId, target, restored);
      await waitUntil(
        () => withAdmin("postgres", async (c) => ((await c.query(`SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock' AND query ILIKE 'ALTER DATABASE%'`, [restorer.role])).rows.length ? true : undefined)),
        30_000,
        "the swap waiting at its rename",
      );

      const answer = await cancel(jobId);
      await holder.query("ROLLBACK");

      expect(answer.status).toBe(409);
      expect(await swapping).toEqual({ ok: true, value: null });
      expect(await contentFingerprint(target.database)).toEqual(await contentFingerprint(source));
    } finally {
      await holder.end();
    }
  });
});
