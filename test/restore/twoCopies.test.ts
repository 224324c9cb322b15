/**
 * Two copies of `restoreDatabase` at once, as Durable Functions allows (activities are at-least-once, and a worker
 * that lost its lease keeps running while another starts the same step), with the real `swapDatabase` in between.
 * The interleavings are forced, not timed: this process reaches the vault's blobs through a proxy that holds a
 * copy's dump download at a gate (test/support/gatedBlobProxy.ts), so that copy has created its database and waits
 * before its pg_restore reads a byte. Whatever the order, the target ends as one complete restore of the point, or
 * the step fails and the old target is as it was. Real PostgreSQL, Azurite and pg_restore.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { restoreDatabaseActivity, type RestoreDatabaseInput } from "../../activities/restoreDatabase";
import { swapDatabaseActivity } from "../../activities/swapDatabase";
import { updateJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, JobPhase, RecoveryPoint } from "../../shared/domain";
import { isoSeconds } from "../../shared/time/isoTime";
import { temporaryDatabaseName } from "../../shared/restore/databaseRestore";
import { isDumpDownload, startGatedBlobProxy, type GatedBlobProxy } from "../support/gatedBlobProxy";
import { invocation } from "../support/http";
import { blobEndpointOf, withBlobEndpoint } from "../support/recordingBlobProxy";
import { backedUpRichDatabase, existingTarget, restoringRole } from "../support/restoreFixture";
import { contentFingerprint, databasesUnder, uniqueName, withAdmin } from "../support/testDatabase";

let proxy: GatedBlobProxy;
let source: string;
let rp: RecoveryPoint;
/** A restoring user with CREATEDB that owns the targets it replaces, as a restore with overwrite needs. */
let restorer: { role: string; secretRef: string };

beforeAll(async () => {
  proxy = await startGatedBlobProxy(blobEndpointOf(inject("vaultConnectionString")), ["app"]);
  // Before any app module reads its configuration: this process's vault blob endpoint is the proxy.
  process.env.VaultStorage = withBlobEndpoint(inject("vaultConnectionString"), proxy.endpoint("app"));
  ({ database: source, rp } = await backedUpRichDatabase("copies_src"));
  restorer = await restoringRole("copies_restorer");
});
afterAll(() => proxy?.close());

/** The job row as the restore orchestration leaves it when it calls the step in `phase`. */
async function restoringJob(phase: JobPhase = "Restoring"): Promise<string> {
  const jobId = uniqueName("restore-copies");
  await updateJob(jobId, { operation: "Restore", trigger: "OnDemand", instanceName: rp.instanceName, status: "InProgress", phase, startTime: isoSeconds(new Date()), bytes: 0, recoveryPointId: rp.id });
  return jobId;
}

const restoreInput = (jobId: string, target: DatabaseRestoreTarget): RestoreDatabaseInput => ({ jobId, instanceName: rp.instanceName, recoveryPointId: rp.id, target });

/** One copy of the step, as the orchestration would get it: its outcome, or what it threw (then retried, or dropped as a duplicate). */
async function copyOf(jobId: string, target: DatabaseRestoreTarget) {
  return restoreDatabaseActivity(restoreInput(jobId, target), invocation("restoreDatabase")).catch((err: unknown) => ({ ok: false as const, thrown: err }));
}

/** Every database of the job's restore attempts still on the server (temporary ones and retired targets). */
const jobDatabases = (jobId: string) => databasesUnder(temporaryDatabaseName(jobId));

const swap = (jobId: string, target: DatabaseRestoreTarget, temporaryDatabase: string) => swapDatabaseActivity({ jobId, target, temporaryDatabase });

describe("two copies of restoreDatabase", () => {
  test("when a second copy starts after the first finished and is held before its pg_restore reads a byte, then the swap puts the first copy's complete restore in place and the held copy leaves nothing", async () => {
    const target = await existingTarget("copies_target", restorer);
    const jobId = await restoringJob();
    const first = await copyOf(jobId, target);
    if (!first.ok) throw new Error(`the first copy failed: ${JSON.stringify(first)}`);

    // The second copy creates its database, then waits for its dump at the gate.
    const gate = proxy.hold(isDumpDownload, 1);
    const second = copyOf(jobId, target);
    await gate.next();
    // Meanwhile the orchestration, which got the first copy's result, swaps that in.
    await updateJob(jobId, { phase: "Swapping" });
    const swapped = await swap(jobId, target, first.value.temporaryDatabase);
    void gate.open();
    const late = await second;

    expect(swapped).toEqual({ ok: true, value: null });
    expect(await contentFingerprint(target.database)).toEqual(await contentFingerprint(source));
    expect(late.ok).toBe(false);
    expect(await jobDatabases(jobId)).toEqual([]);
  });

  test("when the first copy is held at its dump while a second one completes, and the first then runs on before the swap, then the completed restore is swapped in and the other leaves nothing", async () => {
    const target = await existingTarget("copies_target", restorer);
    const jobId = await restoringJob();
    const gate = proxy.hold(isDumpDownload, 1);
    const held = copyOf(jobId, target);
    await gate.next();
    const second = await copyOf(jobId, target);
    if (!second.ok) throw new Error(`the second copy failed: ${JSON.stringify(second)}`);
    // The held copy goes on to its end before the orchestration, which got the second copy's result, swaps.
    void gate.open();
    await held;

    await updateJob(jobId, { phase: "Swapping" });
    expect(await swap(jobId, target, second.value.temporaryDatabase)).toEqual({ ok: true, value: null });
    expect(await contentFingerprint(target.database)).toEqual(await contentFingerprint(source));
    expect(await jobDatabases(jobId)).toEqual([]);
  });

  test("when a copy starts only after the swap, then it leaves no database behind and the restored target stays", async () => {
    const target = await existingTarget("copies_target", restorer);
    const jobId = await restoringJob();
    const first = await copyOf(jobId, target);
    if (!first.ok) throw new Error(`the first copy failed: ${JSON.stringify(first)}`);
    await updateJob(jobId, { phase: "Swapping" });
    expect(await swap(jobId, target, first.value.temporaryDatabase)).toEqual({ ok: true, value: null });
    await updateJob(jobId, { status: "Succeeded", phase: "Done", endTime: isoSeconds(new Date()) });

    const late = await copyOf(jobId, target);

    expect(late.ok).toBe(false);
    expect(await jobDatabases(jobId)).toEqual([]);
    expect(await contentFingerprint(target.database)).toEqual(await contentFingerprint(source));
  });
});

describe("the swap", () => {
  test("when it is handed a database that no attempt marked complete (an empty one), then it fails and the old target stays as it was", async () => {
    const target = await existingTarget("copies_target", restorer);
    const jobId = await restoringJob("Swapping");
    const impostor = `${temporaryDatabaseName(jobId)}_0badc0de`;
    await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(impostor)} OWNER ${restorer.role}`));
    const before = await contentFingerprint(target.database);

    const swapped = await swap(jobId, target, impostor).catch((err: unknown) => ({ ok: false as const, thrown: err }));

    expect(swapped.ok).toBe(false);
    expect(await contentFingerprint(target.database)).toEqual(before);
  });

  test("when the restored database is gone before the swap, then the swap fails instead of reporting the old target as restored", async () => {
    const target = await existingTarget("copies_target", restorer);
    const jobId = await restoringJob();
    const first = await copyOf(jobId, target);
    if (!first.ok) throw new Error(`the first copy failed: ${JSON.stringify(first)}`);
    await withAdmin("postgres", (c) => c.query(`DROP DATABASE ${pg.escapeIdentifier(first.value.temporaryDatabase)}`));
    await updateJob(jobId, { phase: "Swapping" });
    const before = await contentFingerprint(target.database);

    const swapped = await swap(jobId, target, first.value.temporaryDatabase).catch((err: unknown) => ({ ok: false as const, thrown: err }));

    expect(swapped.ok).toBe(false);
    expect(await contentFingerprint(target.database)).toEqual(before);
  });
});
