import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { backupOrchestrationName, backupOrchestrator } from "../../orchestrators/backup";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { asDumpPoint, committedBlobs, databaseSource, envSecret, protect, runBackup, vaultContainer } from "../support/backupFixture";
import { replayFinished } from "../support/replayDriver";
import { decodeStoredDump } from "../support/storedDump";
import {
  contentFingerprint,
  createBackupRole,
  createDatabase,
  pgRestoreFile,
  schemaDump,
  seedRichDatabase,
  uniqueName,
  withAdmin,
} from "../support/testDatabase";

const scratch = mkdtempSync(path.join(tmpdir(), "pgvault-backup-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("backup orchestration, replayed by durable-functions with the real activities", () => {
  test("when a database with schemas, odd identifiers, bytea, large objects and an extension is backed up, then its recovery point restores identical", async () => {
    const database = uniqueName("rich");
    const role = uniqueName("backup_user");
    const password = `pw-${uniqueName("secret")}`;
    await createDatabase(database);
    await seedRichDatabase(database);
    await createBackupRole(database, role, password);
    const instance = await protect(uniqueName("rich").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, password)));

    const run = await runBackup(instance);

    expect(run.state.error).toBeUndefined();
    expect(run.state.isDone).toBe(true);
    const rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);
    expect(rp).toMatchObject({ instanceName: instance.name, status: "Available", tag: "Weekly", format: "pg_dump-custom" });
    expect(rp!.id).toMatch(/^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    expect(rp!.serverVersion).toMatch(/^15\./);
    expect(rp!.toolVersion).toMatch(/^pg_dump \d+\.\d+/);
    expect(rp!.blobs).toEqual([`backups/${instance.name}/${rp!.id}/${database}.dump`]);
    expect(run.state.output).toEqual({ recoveryPointId: rp!.id, sizeBytes: rp!.sizeBytes });
    const job = await getJob(run.jobId);
    expect(job).toMatchObject({ status: "Succeeded", phase: "Done", operation: "Backup", recoveryPointId: rp!.id, bytes: rp!.sizeBytes });
    expect(run.customStatuses.at(-1)).toEqual({ phase: "Done" });

    // The stored bytes are exactly what the recovery point says.
    const file = path.join(scratch, `${database}.dump`);
    await vaultContainer().getBlobClient(`${instance.name}/${rp!.id}/${database}.dump`).downloadToFile(file);
    const { createHash } = await import("node:crypto");
    const { readFileSync } = await import("node:fs");
    const bytes = readFileSync(file);
    expect(bytes.length).toBe(rp!.sizeBytes);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(rp!.sha256);
    // zstd (the default) inside checked segments, as documented; pg_dump's archive once decoded.
    expect(rp!.compression).toBe("zstd");
    writeFileSync(file, decodeStoredDump(bytes));

    const restored = `${database}_restored`;
    await pgRestoreFile(file, restored);
    expect(await schemaDump(restored)).toBe(await schemaDump(database));
    expect(await contentFingerprint(restored)).toEqual(await contentFingerprint(database));

    // A replay of the whole history, as after a host restart, reaches the same end without re-running anything.
    const replayed = await replayFinished(backupOrchestrator, {
      name: backupOrchestrationName,
      instanceId: run.jobId,
      input: JSON.parse(run.history[1]!.Input as string),
      history: run.history,
    });
    expect(replayed.isDone).toBe(true);
    expect(replayed.output).toEqual(run.state.output);
    expect(replayed.actions.flat()).toEqual(run.state.actions.flat());
  });

  test("when the user lacks SELECT on one table, then the job fails at once with UserErrorMissingDBPermissions naming it", async () => {
    const database = uniqueName("noselect");
    const role = uniqueName("backup_user");
    await createDatabase(database);
    await seedRichDatabase(database);
    await createBackupRole(database, role, "pw-noselect");
    await withAdmin(database, (c) => c.query(`REVOKE SELECT ON sales.orders FROM ${role}`));
    const instance = await protect(uniqueName("noselect").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-noselect")));

    const run = await runBackup(instance);

    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Failed");
    expect(job?.error?.code).toBe("UserErrorMissingDBPermissions");
    expect(job?.error?.message).toContain("SELECT on table sales.orders");
    expect(job?.error?.recommendedAction).toMatch(/GRANT|Grant/);
    expect(run.state.error).toContain("UserErrorMissingDBPermissions");
    // User errors are not retried.
    expect(run.attempts.filter((a) => a.name === "checkBackupAccess")).toHaveLength(1);
    expect(run.attempts.some((a) => a.name === "dumpDatabase")).toBe(false);
    expect(await listRecoveryPoints(instance.name)).toEqual([]);
    expect(await committedBlobs(instance.name)).toEqual([]);
  });

  test("when the dump's connection is terminated mid-way, then the dump is retried and the backup succeeds", async () => {
    const database = uniqueName("transient");
    const role = uniqueName("backup_user");
    await createDatabase(database);
    await seedRichDatabase(database);
    await createBackupRole(database, role, "pw-transient");
    const instance = await protect(uniqueName("transient").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-transient")));

    // Hold a lock so the first pg_dump waits on it; then terminate that pg_dump's session, like a failover would.
    const blocker = withAdmin(database, async (c) => {
      await c.query("BEGIN");
      await c.query("LOCK TABLE sales.orders IN ACCESS EXCLUSIVE MODE");
      for (;;) {
        // Inside a transaction pg_stat_activity is a snapshot; refresh it on every look.
        await c.query("SELECT pg_stat_clear_snapshot()");
        const { rows } = await c.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgvault' AND wait_event_type = 'Lock'`,
          [database],
        );
        if (rows[0]) {
          await c.query("SELECT pg_terminate_backend($1)", [rows[0].pid]);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await c.query("ROLLBACK");
    });

    const run = await runBackup(instance);
    await blocker;

    expect(run.state.error).toBeUndefined();
    const dumps = run.attempts.filter((a) => a.name === "dumpDatabase");
    expect(dumps).toHaveLength(2);
    expect(dumps[0]!.error).toContain("UserErrorServerUnreachable");
    expect(dumps[1]!.error).toBeUndefined();
    expect((await getJob(run.jobId))?.status).toBe("Succeeded");
    const rps = await listRecoveryPoints(instance.name);
    expect(rps).toHaveLength(1);
    // The dump and its contents record; nothing of the failed attempt.
    const rp = asDumpPoint(rps[0]);
    expect((await committedBlobs(instance.name)).sort()).toEqual([rp.blobs[0]!, rp.contents!.blobPath].map((path) => path.replace(/^backups\//, "")).sort());
  });
});
