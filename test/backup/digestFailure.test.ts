/**
 * An archive the table digests cannot read fails the backup: pg_dump wrote something pgvault cannot check, so it
 * is not stored. A pg_dump that cuts its archive short and still exits 0 stands in for such a pg_dump (PG_BIN_DIR
 * names a directory whose `pg_dump` runs the real one through `head -c` for one database); without the digests
 * the cut archive would be committed as a recovery point.
 */
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { getConfig } from "../../shared/config";
import { committedBlobs, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

const binDir = mkdtempSync(path.join(tmpdir(), "pgvault-cut-pg-dump-"));
const cutDatabase = uniqueName("cut_src");
// Read lazily by the app: set before anything in this file asks for the config.
process.env.PG_BIN_DIR = binDir;

beforeAll(() => {
  const real = cluster().binDir;
  writeFileSync(
    path.join(binDir, "pg_dump"),
    `#!/bin/sh\nif [ "$PGDATABASE" = "${cutDatabase}" ]; then\n  "${real}/pg_dump" "$@" | head -c 6000\n  exit 0\nfi\nexec "${real}/pg_dump" "$@"\n`,
  );
  chmodSync(path.join(binDir, "pg_dump"), 0o755);
  symlinkSync(path.join(real, "pg_restore"), path.join(binDir, "pg_restore"));
});

afterAll(() => rmSync(binDir, { recursive: true, force: true }));

async function protectedDatabase(database: string) {
  await createDatabase(database);
  await seedRichDatabase(database);
  const role = uniqueName("cut_user");
  await createBackupRole(database, role, "pw-cut");
  return protect(uniqueName("cut").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-cut")));
}

test("when pg_dump writes an archive the digests cannot read (cut short, exit code 0), then the backup fails and nothing is committed", async () => {
  expect(getConfig().pgBinDir).toBe(binDir);
  const instance = await protectedDatabase(cutDatabase);
  const run = await runBackup(instance);
  const job = await getJob(run.jobId);
  expect(job?.status).toBe("Failed");
  expect(job?.error?.code).toBe("SystemErrorUnexpected");
  expect(job?.error?.message).toContain("The table digests could not be taken");
  expect(job?.error?.message).toContain(`pg_dump's archive of database '${cutDatabase}'`);
  expect(await listRecoveryPoints(instance.name)).toEqual([]);
  expect(await committedBlobs(instance.name)).toEqual([]);
});

test("when the same pg_dump writes a whole archive, then the backup succeeds (the stand-in itself is sound)", async () => {
  const instance = await protectedDatabase(uniqueName("whole_src"));
  const run = await runBackup(instance);
  expect(run.state.error).toBeUndefined();
  expect(await listRecoveryPoints(instance.name)).toHaveLength(1);
});
