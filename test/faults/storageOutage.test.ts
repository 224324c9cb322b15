/**
 * The vault's storage stops while a dump is uploading its blocks (the Azurite process is stopped, as a storage
 * outage or a network cut looks from the app) and comes back on the same ports with the same data. Retries come in
 * two layers: the storage SDK retries each request itself (at once, after 4 s and after a further 12 s), so an
 * outage shorter than that is ridden out inside the dump, as here; a longer one fails the attempt with
 * SystemErrorStorageUnavailable and the orchestration retries the dump (10 s, doubling, 4 attempts), which
 * storageGiveUp.test.ts runs to the end. postgresRestart.test.ts and hostKilled.test.ts show a dump attempt redone
 * from the start. The vault is this file's own Azurite.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { jobRetry } from "../../orchestrators/jobSteps";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { storageFailure } from "../../shared/storageErrors";
import { asDumpPoint, envSecret } from "../support/backupFixture";
import {
  backupBlob,
  backupCutMidUpload,
  createLargeDatabase,
  downloadedDigest,
  startRestartableAzurite,
  type RestartableAzurite,
} from "../support/faultFixture";
import { decodeStoredDump } from "../support/storedDump";
import { cluster, uniqueName } from "../support/testDatabase";

const execFileAsync = promisify(execFile);

let vault: RestartableAzurite;
const database = uniqueName("outage");
const role = uniqueName("outage_user");
let secretRef: string;

beforeAll(async () => {
  vault = await startRestartableAzurite();
  // Before any app module reads its configuration: this file's vault is its own.
  process.env.VaultStorage = vault.connectionString;
  await createLargeDatabase(database, role, "pw-outage");
  secretRef = envSecret(`PGVAULT_SECRET_${role}`, role, "pw-outage");
});
afterAll(() => vault?.destroy());

test("when the vault's network fails, then it is SystemErrorStorageUnavailable and worth a retry", () => {
  for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]) {
    const error = storageFailure(Object.assign(new Error(`connect ${code} 127.0.0.1:10000`), { code }), "uploading a block");
    expect([code, error.code, error.transient]).toEqual([code, "SystemErrorStorageUnavailable", true]);
  }
  // Thrown, not returned as a user error, so the retry policy every vault step runs under applies.
  expect(jobRetry.maxNumberOfAttempts).toBeGreaterThan(1);
});

test("when the vault stops mid-upload for a moment, then the storage client's retries ride it out and the backup's SHA-256 is that of the stored bytes", async () => {
  const instanceName = uniqueName("blip").replaceAll("_", "-");
  const attemptsFailed: string[] = [];

  const cut = await backupCutMidUpload(vault, instanceName, { database, secretRef }, (failed) => void attemptsFailed.push(failed.error));
  let finished = false;
  void cut.running.then(() => (finished = true));
  await new Promise((resolve) => setTimeout(resolve, 500));
  // Back (Azurite starts in about a second) before the client's next retry of the blocks it could not stage, 4 s
  // after the first failure; the backup cannot have finished meanwhile.
  expect(finished).toBe(false);
  await vault.start();
  const run = await cut.running;

  expect(run.state.error).toBeUndefined();
  expect(attemptsFailed).toEqual([]);
  expect(await getJob(cut.jobId)).toMatchObject({ status: "Succeeded" });
  const rp = asDumpPoint((await listRecoveryPoints(instanceName))[0]);
  expect(rp.blobs).toEqual([`backups/${cut.blobName}`]);
  const blocks = await backupBlob(cut.blobName).getBlockList("all");
  expect(blocks.committedBlocks!.length).toBeGreaterThan(cut.stagedBeforeStop);
  expect(blocks.uncommittedBlocks).toEqual([]);
  // The point describes exactly the bytes stored.
  expect(await downloadedDigest(cut.blobName)).toEqual({ sha256: rp.sha256, sizeBytes: rp.sizeBytes });
  const file = path.join(tmpdir(), `${rp.id}.dump`);
  try {
    writeFileSync(file, decodeStoredDump(await backupBlob(cut.blobName).downloadToBuffer()));
    const { stdout } = await execFileAsync(path.join(cluster().binDir, "pg_restore"), ["--list", file]);
    expect(stdout).toMatch(/TABLE DATA public events/);
  } finally {
    rmSync(file, { force: true });
  }
});
