/**
 * Recovery points as retention finds them: a row in the catalog and its dump blob in the vault, for a protected
 * (or stopped) instance, on a clock the test chooses.
 *
 * Storage is the app's own vault client (whatever `VaultStorage` names), so a test file may use a private Azurite.
 * On the shared one, a retention sweep on the real clock may run alongside (a local-host test's daily timer):
 * tests that pass `now` to retention themselves use `farFuture()`, so such a sweep finds nothing of theirs expired.
 */
import type { BackupInstance, RecoveryPoint, RecoveryPointStatus } from "../../shared/domain";
import { getRecoveryPoint } from "../../shared/catalog/recoveryPointReads";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { getBackupContainer } from "../../shared/catalog/vaultClients";
import { dailyPolicy } from "./backupFixture";
import { uniqueName } from "./testDatabase";

export const dayMs = 86_400_000;

/** A clock ten years ahead, for tests that pass `now` to retention themselves. */
export function farFuture(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000 + 3653 * dayMs);
}
const iso = (time: Date) => time.toISOString().replace(/\.\d{3}Z$/, "Z");

export function instanceName(prefix: string): string {
  return uniqueName(prefix).replaceAll("_", "-");
}

/** An instance row (its datasource is never contacted by retention). */
export async function instanceWithState(name: string, protectionState: BackupInstance["protectionState"] = "ProtectionConfigured"): Promise<BackupInstance> {
  await putPolicy(dailyPolicy(`${name}-policy`));
  const instance: BackupInstance = {
    name,
    policyName: `${name}-policy`,
    datasource: { type: "database", host: "127.0.0.1", port: 1, database: "sales", secretRef: "env:UNUSED" },
    protectionState,
    createdAt: iso(new Date(Date.now() - 400 * dayMs)),
  };
  await putInstance(instance);
  return instance;
}

/**
 * A recovery point taken `ageDays` before `now` that expires `expiresInDays` after it (negative: expired).
 * `recordingJob`: the row as a backup's record step leaves it between its two writes (still being recorded by that job).
 */
export async function storedRecoveryPoint(
  instance: string,
  now: Date,
  ageDays: number,
  expiresInDays: number,
  options: { status?: RecoveryPointStatus; blobs?: string[]; writeBlob?: boolean; recordingJob?: string } = {},
): Promise<RecoveryPoint> {
  const time = new Date(Math.floor((now.getTime() - ageDays * dayMs) / 1000) * 1000);
  const id = recoveryPointId(time, Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, "0"));
  const rp: RecoveryPoint = {
    id,
    instanceName: instance,
    time: iso(time),
    tag: "Default",
    expiresAt: iso(new Date(now.getTime() + expiresInDays * dayMs)),
    status: options.status ?? "Available",
    sizeBytes: 4,
    sha256: "00",
    format: "pg_dump-custom",
    serverVersion: "15.18",
    toolVersion: "pg_dump 15.18",
    blobs: options.blobs ?? [`backups/${instance}/${id}/sales.dump`],
    ...(options.recordingJob ? { recording: { jobId: options.recordingJob } } : {}),
  };
  if (options.writeBlob !== false) {
    await getBackupContainer().createIfNotExists();
    for (const path of rp.blobs) await vaultBlob(path).getBlockBlobClient().upload("dump", 4);
  }
  await putRecoveryPoint(rp);
  return rp;
}

/** The vault blob a recovery point names (`backups/...`). */
export function vaultBlob(path: string) {
  return getBackupContainer().getBlobClient(path.replace(/^backups\//, ""));
}

export async function blobExists(path: string): Promise<boolean> {
  return vaultBlob(path).exists();
}

export async function rowStatus(rp: RecoveryPoint): Promise<RecoveryPointStatus | undefined> {
  return (await getRecoveryPoint(rp.instanceName, rp.id))?.status;
}
