/**
 * The heart of a database backup: `pg_dump --format=custom` without its own compression, compressed by pgvault
 * (zstd by default), framed in checked segments (encrypted instead when the policy says so) and streamed into a
 * block blob of the vault, committed only when pg_dump exited cleanly and every block is staged. A
 * repeated call for the same recovery point finds the committed blob and returns it instead of dumping again
 * (activity retries are at-least-once). While pg_dump runs, its own snapshot is counted (objects, rows per table)
 * into the point's contents record, written before the dump is committed (shared/contents/contentsRecord.ts), and
 * every table's data is digested from the archive on its way through the app (shared/contents/tableDigests.ts).
 *
 * Two copies of the activity may also run at once (a worker that lost its queue lease keeps running while another
 * starts the same activity). Each attempt stages blocks under ids of its own and writes its record under a name of
 * its own, and commits with `If-None-Match: *`: exactly one attempt's commit lands, and its metadata, set by that
 * same request, names its record and its data key (committedDump.ts). An attempt whose commit request fails reads
 * what is committed before it decides anything: its own dump (the answer was lost), another attempt's (reported as
 * the result, its own record removed), or none (the error stands and nothing is removed: the commit may still land).
 */
import { contentsBlobName, contentsRecord, isOtherAttemptsRecord, writeContentsRecord } from "../contents/contentsRecord";
import type { DatabaseContents } from "../contents/databaseContents";
import { totalRows } from "../contents/databaseContents";
import { compressedArchive, startCompressor, type Compressor } from "../compression/compressionStreams";
import { digestArchive, type TableDigests } from "../contents/tableDigests";
import type { Compression } from "../compression/compressionSettings";
import { backupContainer, type RecoveryPointEncryption } from "../domain";
import { createDataKey, type PinnedKey } from "../encryption/dataKeys";
import { defaultSegmentSize, encryptionFormat, encryptionFormatVersion, sealSegments } from "../encryption/segmentFormat";
import type { ConnectionParams } from "../postgres/connection";
import { toolVersion } from "../postgres/pgTools";
import { storageFailure } from "../storageErrors";
import { getBackupContainer } from "../catalog/vaultClients";
import { throwIfCancelled, undoIfCancelled } from "../jobs/jobCancellation";
import { removeUnlessRecorded } from "./pointRecording";
import { newAttemptId, stageStream, type StagedStream } from "./blockUpload";
import { dumpLocation, dumpMetadata, encryptionMetadata, readCommitted, storedDump, type DumpFacts, type DumpLocation, type StoredDump } from "./committedDump";
import { DumpEndedEarly, fanOutArchive } from "./archiveFanOut";
import { startPgDump, type DumpProcess } from "./pgDumpProcess";
import { openSnapshot } from "./snapshotCounter";

export interface DumpTarget {
  instanceName: string;
  recoveryPointId: string;
  /** Database size, to size blocks so the dump fits Azure's 50,000-block limit. */
  expectedBytes: number;
  /** How pg_dump's archive is compressed on its way (the policy's, or zstd's default). */
  compression: Compression;
  /** Stored bytes so far (compressed, and encrypted or framed). */
  onProgress?: (bytes: number) => void;
  /** The job's cancellation: stops pg_dump when it fires, and no dump stays committed once the job is cancelled. */
  cancellation?: { jobId: string; signal: AbortSignal };
  /**
   * Store the dump encrypted under a fresh data key wrapped by this key. `segmentSize` (plaintext bytes per
   * segment, default 4 MiB) is an argument so tests can have many segments from a small database.
   */
  encryption?: { key: PinnedKey; segmentSize?: number };
  /** Bytes per checked segment of an unencrypted dump (default 4 MiB); tests pass small ones. */
  segmentSize?: number;
  /**
   * Whether the archive passes through the app to digest every table's data (default true). Only the backup
   * benchmark turns it off, to measure what the digests cost: pg_dump then writes straight into zstd, and the
   * contents record has no digests.
   */
  tableDigests?: boolean;
}

let containerReady: Promise<unknown> | undefined;

async function ensureContainer(): Promise<void> {
  containerReady ??= getBackupContainer()
    .createIfNotExists()
    .catch((err: unknown) => {
      containerReady = undefined;
      throw storageFailure(err, `creating container '${backupContainer}'`);
    });
  await containerReady;
}

export async function dumpToVault(params: ConnectionParams, target: DumpTarget): Promise<StoredDump> {
  await ensureContainer();
  const location = dumpLocation(target.instanceName, target.recoveryPointId, params.database);
  const existing = await readCommitted(location);
  if (existing) return existing;

  const tool = await toolVersion("pg_dump");
  const segmentSize = (target.encryption ? target.encryption.segmentSize : target.segmentSize) ?? defaultSegmentSize;
  // Wrapped (and checked to unwrap) before pg_dump starts: a key problem fails the job with nothing dumped.
  const sealing = target.encryption && (await createDataKey(target.encryption.key));
  try {
    const encryption: RecoveryPointEncryption | undefined = sealing && {
      format: encryptionFormat,
      formatVersion: encryptionFormatVersion,
      segmentSize,
      ...sealing.wrapped,
    };
    const attempt = newAttemptId();
    const { staged, counted, digested } = await dumpAndStage(params, target, location, { attempt, dataKey: sealing?.dataKey, segmentSize });
    const cancellation = target.cancellation;
    if (cancellation) await throwIfCancelled(cancellation.jobId);
    // Another attempt of this activity committed meanwhile: its dump and record stand.
    const committedMeanwhile = await readCommitted(location);
    if (committedMeanwhile) return committedMeanwhile;
    const recordBlob = getBackupContainer().getBlockBlobClient(contentsBlobName(target.instanceName, target.recoveryPointId, attempt));
    const record = counted && contentsRecord(target.recoveryPointId, params.database, { ...counted, ...digested }, new Date());
    const contents =
      record &&
      (await writeContentsRecord(recordBlob, record, sealing && encryption && { dataKey: sealing.dataKey, encryption, metadata: encryptionMetadata(encryption) }));
    const facts: DumpFacts = { attempt, sha256: staged.sha256, tool: tool.text, compression: target.compression.algorithm, encryption, contents };
    const stored = await commitOrFindCommitted(location, staged, facts, () => recordBlob.deleteIfExists());
    if (stored.attempt !== attempt) return stored;
    // A cancel that arrived while committing: the cleanup may already have looked, so this step removes its blobs,
    // as the cleanup would: only while the point is not recorded complete (another copy's answer may have been
    // recorded from this very dump before the cancel came).
    if (cancellation) {
      const removeDump = () => Promise.all([location.blob.deleteIfExists(), recordBlob.deleteIfExists()]);
      await undoIfCancelled(cancellation.jobId, () => removeUnlessRecorded(target.instanceName, target.recoveryPointId, removeDump));
    }
    await removeOtherAttemptsRecords(location, attempt);
    return { ...stored, ...(record ? { counted: { tables: record.tables.length, rows: totalRows(record.tables) } } : {}) };
  } finally {
    sealing?.dataKey.fill(0);
  }
}

interface Staging {
  attempt: string;
  /** The point's data key; absent: checked segments, unencrypted. */
  dataKey?: Buffer;
  segmentSize: number;
}

/** The archive on its way to storage, and how to stop the way (pg_dump aside). */
interface ArchivePath {
  compressed: AsyncIterable<Buffer>;
  stop(): void;
  /** The table digests, taken from the same bytes (absent when not digesting). */
  digests?: Promise<TableDigests>;
}

/**
 * pg_dump's archive compressed on its way: through the app, which digests every table's data from the same
 * bytes, or (digests off, or no contents record to put them in) straight from pg_dump into zstd.
 */
function archivePath(dump: DumpProcess, compressor: Compressor | undefined, target: DumpTarget, digestOf?: (archive: AsyncIterable<Buffer>) => Promise<TableDigests>): ArchivePath {
  if (compressor) return { compressed: compressor.outputOf(dump.stdout), stop: () => compressor.stop() };
  const fanOut = fanOutArchive(dump.stdout!, dump.exited);
  return { compressed: compressedArchive(target.compression, fanOut.toStore), stop: () => fanOut.stop(), digests: digestOf?.(fanOut.toDigest) };
}

/**
 * Runs pg_dump in the counted snapshot and stages its compressed, sealed output as this attempt's blocks, digesting
 * every table's data on the way. Resolves once pg_dump exited cleanly, every block is staged and the counting and
 * digesting finished; otherwise rejects with the failure that came first (the others are only the consequence of
 * stopping the rest), or the job's cancellation.
 */
async function dumpAndStage(
  params: ConnectionParams,
  target: DumpTarget,
  location: DumpLocation,
  { attempt, dataKey, segmentSize }: Staging,
): Promise<{ staged: StagedStream; counted: DatabaseContents | undefined; digested: TableDigests | undefined }> {
  // The snapshot pg_dump dumps, counted while it dumps (absent when the server cannot export one).
  const snapshot = await openSnapshot(params);
  // Digests go into the contents record, with the settings read in the snapshot's session: no record, no digests.
  const digesting = snapshot !== undefined && target.tableDigests !== false;
  const dumpArgs = ["--compress=0", ...(snapshot ? [`--snapshot=${snapshot.snapshotId}`] : [])];
  // pg_dump's own compression is single-threaded gzip, slower than reading the database: pgvault compresses instead.
  // Without digests, zstd is started first and pg_dump writes into it: the archive then never passes through Node.
  const compressor = digesting ? undefined : startCompressor(target.compression);
  const dump = startPgDump(params, dumpArgs, compressor?.input);
  compressor?.releaseInput();
  const path = archivePath(dump, compressor, target, snapshot && ((archive) => digestArchive(archive, params.database, snapshot.outputSettings)));
  const abort = new AbortController();
  const stopCounting = new AbortController();
  const cancelled = target.cancellation?.signal;
  const onCancel = () => {
    dump.kill();
    path.stop();
    abort.abort();
    stopCounting.abort();
  };
  cancelled?.addEventListener("abort", onCancel, { once: true });
  let firstFailure: "dump" | "storage" | "count" | "digest" | undefined;
  const [staged, exited, counted, digested] = await Promise.allSettled([
    stageStream(sealSegments(path.compressed, dataKey, segmentSize), location.blob, {
      attempt,
      expectedBytes: target.expectedBytes,
      onProgress: target.onProgress,
      abortSignal: abort.signal,
    }).catch((err: unknown) => {
      firstFailure ??= "storage";
      dump.kill();
      path.stop();
      stopCounting.abort();
      throw err;
    }),
    dump.exited.catch((err: unknown) => {
      firstFailure ??= "dump";
      abort.abort();
      stopCounting.abort();
      throw err;
    }),
    snapshot?.count(stopCounting.signal).catch((err: unknown) => {
      firstFailure ??= "count";
      dump.kill();
      path.stop();
      abort.abort();
      throw err;
    }),
    path.digests?.catch((err: unknown) => {
      // The digests reading a cut archive is the consequence of pg_dump failing or being stopped, not a failure.
      if (!(err instanceof DumpEndedEarly)) {
        firstFailure ??= "digest";
        dump.kill();
        path.stop();
        abort.abort();
        stopCounting.abort();
      }
      throw err;
    }),
  ]);
  // Only now: pg_dump needed the exporting transaction open until it had imported the snapshot.
  await snapshot?.close();
  cancelled?.removeEventListener("abort", onCancel);
  if (cancelled?.aborted) throw cancelled.reason;
  if (staged.status === "rejected" && firstFailure === "storage") throw storageFailure(staged.reason, `uploading ${location.blobPath}`);
  if (counted.status === "rejected" && firstFailure === "count") throw counted.reason;
  if (digested.status === "rejected" && firstFailure === "digest") throw digested.reason;
  if (exited.status === "rejected") throw exited.reason;
  if (staged.status === "rejected") throw storageFailure(staged.reason, `uploading ${location.blobPath}`);
  if (counted.status === "rejected") throw counted.reason;
  if (digested.status === "rejected") throw digested.reason;
  return { staged: staged.value, counted: counted.value, digested: digesting ? digested.value : undefined };
}

/**
 * Commits the attempt's blocks with its facts as the blob's metadata, unless a dump is committed already. When the
 * request fails, what is committed decides, not the error: the commit may have landed with its answer lost (the
 * storage client's retry then refused by If-None-Match), or another copy's commit may have landed first.
 */
async function commitOrFindCommitted(location: DumpLocation, staged: StagedStream, facts: DumpFacts, removeRecord: () => Promise<unknown>): Promise<StoredDump> {
  try {
    await location.blob.commitBlockList(staged.blockIds, {
      blobHTTPHeaders: { blobContentType: "application/octet-stream" },
      metadata: dumpMetadata(facts),
      // Never replace a committed dump: a recovery point's bytes are written once, by one attempt.
      conditions: { ifNoneMatch: "*" },
    });
    return storedDump(location, staged.sizeBytes, facts);
  } catch (err) {
    // A read that fails throws (transient while storage is down) with nothing removed: our commit may have landed.
    const committed = await readCommitted(location);
    // Nothing committed: the error stands, and so does our record, since the commit may still land.
    if (!committed) throw storageFailure(err, `committing ${location.blobPath}`);
    // Another attempt's dump: ours can never be committed now, so our record is garbage (left behind if this fails).
    if (committed.attempt !== facts.attempt) await removeRecord().catch(() => undefined);
    return committed;
  }
}

/**
 * Once this attempt's dump is committed, no other attempt's record in the folder can ever be the point's: those of
 * copies that lost the race or failed before committing. Best effort: one left behind is garbage, not damage.
 */
async function removeOtherAttemptsRecords(location: DumpLocation, attempt: string): Promise<void> {
  const container = getBackupContainer();
  const folder = `${location.instanceName}/${location.recoveryPointId}/`;
  try {
    for await (const blob of container.listBlobsFlat({ prefix: folder })) {
      if (isOtherAttemptsRecord(blob.name.slice(folder.length), attempt)) await container.deleteBlob(blob.name).catch(() => undefined);
    }
  } catch {
    // Listing failed: the records stay, as garbage; the dump is committed and the activity succeeds.
  }
}
