/**
 * Runs the restore drill (verify orchestration) through the replay driver with the real activities, and reads and
 * rewrites what a drill checks (the contents record, the stored dump's SHA-256).
 */
import { createHash } from "node:crypto";
import { expect } from "vitest";
import { acquireInstanceLockActivity } from "../../activities/acquireInstanceLock";
import { checkScratchDatabaseActivity } from "../../activities/checkScratchDatabase";
import { checkVerifyAccessActivity } from "../../activities/checkVerifyAccess";
import { dropScratchDatabaseActivity } from "../../activities/dropScratchDatabase";
import { listPointDatabasesActivity } from "../../activities/listPointDatabases";
import { recordVerificationActivity } from "../../activities/recordVerification";
import { releaseInstanceLockActivity } from "../../activities/releaseInstanceLock";
import { resolveSecretActivity } from "../../activities/resolveSecret";
import { restoreScratchDatabaseActivity } from "../../activities/restoreScratchDatabase";
import { publishEventsActivity } from "../../activities/publishEvents";
import { updateJobActivity } from "../../activities/updateJob";
import { verifyOrchestrationName, verifyOrchestrator, type VerifyInput } from "../../orchestrators/verify";
import { changeRecoveryPoint, putPolicy } from "../../shared/catalog/catalog";
import { getRecoveryPoint, listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import type { ContentsRecord } from "../../shared/contents/contentsRecord";
import type { BackupInstance, DumpRecoveryPoint, JobTrigger, RecoveryPoint } from "../../shared/domain";
import { unwrapDataKey } from "../../shared/encryption/dataKeys";
import { openSegments, sealSegments } from "../../shared/encryption/segmentFormat";
import { drillSubjectOf } from "../../shared/verify/drillServer";
import { scratchDatabaseName } from "../../shared/verify/restoreDrill";
import { runOrchestration, type ActivityFunction, type OrchestrationRun } from "./replayDriver";
import { asDumpPoint, dailyPolicy, databaseSource, protect, runBackup, vaultContainer } from "./backupFixture";
import { decodeStoredDump, encodeStoredDump } from "./storedDump";
import { databasesUnder, uniqueName } from "./testDatabase";

export const verifyActivities: Record<string, ActivityFunction> = {
  updateJob: updateJobActivity,
  // How the job ended, and anything else worth an event (a no-op without EVENT_GRID_TOPIC_ENDPOINT).
  publishEvents: publishEventsActivity,
  acquireInstanceLock: acquireInstanceLockActivity,
  releaseInstanceLock: releaseInstanceLockActivity,
  resolveSecret: resolveSecretActivity,
  checkVerifyAccess: checkVerifyAccessActivity,
  listPointDatabases: listPointDatabasesActivity,
  restoreScratchDatabase: restoreScratchDatabaseActivity,
  checkScratchDatabase: checkScratchDatabaseActivity,
  dropScratchDatabase: dropScratchDatabaseActivity,
  recordVerification: recordVerificationActivity,
};

let counter = 0;

/**
 * Verifies the point as the catalog holds it: the orchestration carries its id, and its steps read the row. A
 * Flexible Server instance must name its drill server (`verification`).
 */
export async function runVerify(
  instance: BackupInstance,
  recoveryPoint: RecoveryPoint,
  options: { trigger?: JobTrigger; jobId?: string } = {},
): Promise<OrchestrationRun & { jobId: string }> {
  const jobId = options.jobId ?? `verify-${instance.name}-${Date.now()}-${counter++}`;
  const subject = drillSubjectOf(instance);
  if (!subject) throw new Error(`instance ${instance.name} names no drill server`);
  const input: VerifyInput = { instanceName: instance.name, recoveryPointId: recoveryPoint.id, trigger: options.trigger ?? "OnDemand", ...subject };
  const run = await runOrchestration(verifyOrchestrator, { name: verifyOrchestrationName, instanceId: jobId, input, activities: verifyActivities });
  return { ...run, jobId };
}

/**
 * Whether a scratch database of the drill (any attempt's: each restores into one of its own under the job's stem)
 * exists on the test cluster (other test files run drills at the same time).
 */
export async function scratchExists(jobId: string): Promise<boolean> {
  return (await databasesUnder(scratchDatabaseName(jobId))).length > 0;
}

export const blobOf = (blobPath: string) => vaultContainer().getBlockBlobClient(blobPath.replace(/^backups\//, ""));
export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/**
 * Cuts the point's archive in the middle of its table data and stores it as pgvault stores it, the catalog's
 * SHA-256 made to match: every segment checks and it decompresses, so only pg_restore can find it wrong.
 */
export async function damageArchive(rp: DumpRecoveryPoint): Promise<DumpRecoveryPoint> {
  const blob = blobOf(rp.blobs[0]!);
  const archive = decodeStoredDump(await blob.downloadToBuffer());
  const bytes = await encodeStoredDump(archive.subarray(0, Math.floor(archive.length * 0.6)));
  await blob.uploadData(bytes);
  return asDumpPoint(await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => ({ ...stored, sha256: sha256(bytes) })));
}

/** A new instance of `database` (backed up as `secretRef` says) with one backup; its (only) recovery point. */
export async function backUpOnce(database: string, secretRef: string, encryptWith?: string): Promise<{ instance: BackupInstance; rp: DumpRecoveryPoint }> {
  const name = uniqueName("drill").replaceAll("_", "-");
  const instance = await protect(name, databaseSource(database, secretRef));
  if (encryptWith) await putPolicy({ ...dailyPolicy(instance.policyName), encryption: { keyRef: encryptWith } });
  const run = await runBackup(instance);
  expect(run.state.error).toBeUndefined();
  return { instance, rp: asDumpPoint((await listRecoveryPoints(name))[0]) };
}

async function collect(parts: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const part of parts) chunks.push(part);
  return Buffer.concat(chunks);
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/** The plaintext of a point's contents record (decrypted with its data key when the point is encrypted). */
export async function recordOf(rp: DumpRecoveryPoint): Promise<ContentsRecord> {
  const stored = await blobOf(rp.contents!.blobPath).downloadToBuffer();
  if (!rp.encryption) return JSON.parse(stored.toString("utf8")) as ContentsRecord;
  const key = await unwrapDataKey(rp.encryption);
  return JSON.parse((await collect(openSegments(once(stored), key, "test"))).toString("utf8")) as ContentsRecord;
}

/** `plain` sealed with the point's data key as pgvault seals its blobs. */
export async function sealedForPoint(rp: DumpRecoveryPoint & { encryption: NonNullable<DumpRecoveryPoint["encryption"]> }, plain: Buffer): Promise<Buffer> {
  return collect(sealSegments(once(plain), await unwrapDataKey(rp.encryption), rp.encryption.segmentSize));
}

/** Rewrites a point's contents record (sealed again with its data key when encrypted) and the SHA-256 the catalog holds for it. */
export async function replaceRecord(rp: DumpRecoveryPoint, record: ContentsRecord): Promise<void> {
  const plain = Buffer.from(JSON.stringify(record));
  const bytes = rp.encryption ? await sealedForPoint({ ...rp, encryption: rp.encryption }, plain) : plain;
  await blobOf(rp.contents!.blobPath).uploadData(bytes);
  await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => ({ ...stored, contents: { blobPath: rp.contents!.blobPath, sha256: sha256(bytes) } }) as DumpRecoveryPoint);
}

/** Replaces a point's stored dump with `bytes` and "fixes" the SHA-256 the catalog holds for it to match. */
export async function replaceStoredDump(rp: DumpRecoveryPoint, bytes: Buffer): Promise<DumpRecoveryPoint> {
  await blobOf(rp.blobs[0]!).uploadData(bytes);
  return asDumpPoint(await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => ({ ...stored, sha256: sha256(bytes) })));
}

export async function storedPoint(rp: DumpRecoveryPoint): Promise<DumpRecoveryPoint> {
  return asDumpPoint(await getRecoveryPoint(rp.instanceName, rp.id));
}
