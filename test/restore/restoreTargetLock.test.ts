/**
 * Restores into the same database on the same server are serialized across instances (the restore target lock,
 * shared/jobs/operationLock.ts): two instances restoring over one target with overwrite. The first is held at its
 * restore step (its activity waits at a gate) while the second is asked for through the real route, and run as a
 * request that raced past the route's look would be. Real PostgreSQL, Azurite and pg_restore, the orchestration
 * replayed by durable-functions.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import type { InvocationContext } from "@azure/functions";
import { restoreDatabaseActivity, type RestoreDatabaseInput } from "../../activities/restoreDatabase";
import { startRestore } from "../../functions/restore";
import { restoreOrchestrationName, restoreOrchestrator, type RestoreInput } from "../../orchestrators/restore";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import type { DatabaseRestoreTarget, RecoveryPoint } from "../../shared/domain";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, request } from "../support/http";
import { runOrchestration } from "../support/replayDriver";
import { restoreActivities, restoringRole, runRestore } from "../support/restoreFixture";
import { stepGate } from "../support/stepGate";
import { cluster, contentFingerprint, createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

let durable: DurableClientStandIn;
/** Orchestrations this test is running, as the durable client reports them (the route asks whether a lock's holder runs). */
const running = new Set<string>();
let restorer: { role: string; secretRef: string };

/** A protected database with a table of its own (so two restores are told apart), and its one recovery point. */
async function backedUp(prefix: string, rows: number): Promise<{ database: string; rp: RecoveryPoint }> {
  const database = uniqueName(prefix);
  await createDatabase(database);
  await withAdmin(database, (c) => c.query(`CREATE TABLE ${prefix} (id int PRIMARY KEY); INSERT INTO ${prefix} SELECT generate_series(1, ${rows})`));
  const role = uniqueName(`${prefix}_user`);
  await createBackupRole(database, role, "pw-lock");
  const instance = await protect(uniqueName(prefix).replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-lock")));
  await runBackup(instance);
  return { database, rp: (await listRecoveryPoints(instance.name))[0]! };
}

let first: { database: string; rp: RecoveryPoint };
let second: { database: string; rp: RecoveryPoint };

beforeAll(async () => {
  durable = await startDurableClientStandIn({ runtimeStatusOf: async (instanceId) => (running.has(instanceId) ? "Running" : undefined) });
  [first, second] = await Promise.all([backedUp("lock_first", 10), backedUp("lock_second", 20)]);
  restorer = await restoringRole("lock_restorer");
});
afterAll(() => durable?.close());

function post(rp: RecoveryPoint, target: DatabaseRestoreTarget) {
  const { client, context } = durable.client("startRestore");
  const name = rp.instanceName;
  return startRestore(request("POST", `backupInstances/${name}/restore`, { body: { recoveryPointId: rp.id, target }, params: { name } }), client, context);
}

test("when two instances restore over the same target with overwrite, then one runs and the other is refused (409) or fails naming it, and the target is the first one's restore", async () => {
  const database = uniqueName("lock_target");
  await withAdmin("postgres", (c) => c.query(`CREATE DATABASE ${database} OWNER ${restorer.role}`));
  const target: DatabaseRestoreTarget = { type: "database", host: cluster().host, port: cluster().port, database, secretRef: restorer.secretRef, overwrite: true, preserveOwnership: false };

  const accepted = await post(first.rp, target);
  expect(accepted.status).toBe(202);
  const { jobId } = bodyOf<{ jobId: string }>(accepted);
  const started = durable.started.find((s) => s.instanceId === jobId)!;
  // The first restore waits at its restore step until the second one has been asked for.
  const gate = stepGate();
  const held = async (input: RestoreDatabaseInput, context: InvocationContext) => {
    await gate.pass();
    return restoreDatabaseActivity(input, context);
  };
  running.add(jobId);
  const firstRun = runOrchestration(restoreOrchestrator, { name: restoreOrchestrationName, instanceId: jobId, input: started.input as RestoreInput, activities: { ...restoreActivities, restoreDatabase: held } });
  await gate.reached;

  // Another instance over the same database: the route refuses it...
  const refused = await post(second.rp, target);
  expect(refused.status).toBe(409);
  expect(bodyOf<{ error: { code: string; message: string } }>(refused).error).toMatchObject({ code: "UserErrorOperationInProgress", message: expect.stringContaining(jobId) });
  // ...and one that raced past the route's look fails naming the first, before restoring anything; so does one that
  // leaves the server to its secret (the lock is keyed by the server the sign-in is bound to).
  const { host: _host, port: _port, ...serverFromSecret } = target;
  for (const racing of [target, serverFromSecret]) {
    const raced = await runRestore(second.rp, racing);
    expect(await getJob(raced.jobId)).toMatchObject({ status: "Failed", error: { code: "UserErrorOperationInProgress", message: expect.stringContaining(jobId) } });
    expect(raced.attempts.some((a) => a.name === "restoreDatabase")).toBe(false);
  }

  gate.open();
  const run = await firstRun;
  running.delete(jobId);
  expect(run.state.error).toBeUndefined();
  expect(await getJob(jobId)).toMatchObject({ status: "Succeeded" });
  expect(await contentFingerprint(database)).toEqual(await contentFingerprint(first.database));

  // Once the first has ended, the target takes the next restore.
  const next = await runRestore(second.rp, target);
  expect(next.state.error).toBeUndefined();
  expect(await contentFingerprint(database)).toEqual(await contentFingerprint(second.database));
});
