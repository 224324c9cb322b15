/**
 * The heart of a database backup: `pg_dump --format=custom` without its own compression, compressed by pgvault
 * (zstd by default), framed in checked segments (encrypted instead when the policy says so) and streamed into a
 * block blob of the vault, committed only when pg_dump exited cleanly and every block is staged. A
 * repeated call for the same recovery point finds the committed blob and returns it instead of dumping again
 * (activity retries are at-least-once). While pg_dump runs, its own snapshot is counted (objects, rows per table)
 * into the point's contents record, written before the dump is committed (shared/contents/contentsRecord.ts).
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import { contentsBlobName, contentsRecord, writeContentsRecord } from "../contents/contentsRecord";
import { totalRows } from "../contents/databaseContents";
import { startCompressor } from "../compression/compressionStreams";
import type { Compression } from "../compression/compressionSettings";
import { backupContainer, compressionAlgorithms, type CompressionAlgorithm, type RecoveryPointContents, type RecoveryPointEncryption } from "../domain";
import { createDataKey, type PinnedKey } from "../encryption/dataKeys";
import { defaultSegmentSize, encryptionFormat, encryptionFormatVersion, sealSegments } from "../encryption/segmentFormat";
import { PgVaultError } from "../errors";
import type { ConnectionParams } from "../postgres/connection";
import { toolVersion } from "../postgres/pgTools";
import { dumpFileName } from "../recoveryPointId";
import { statusOf, storageFailure } from "../storageErrors";
import { getBackupContainer } from "../vaultClients";
import { throwIfCancelled, undoIfCancelled } from "../jobCancellation";
import { stageStream, type StagedStream } from "./blockUpload";
import { startPgDump } from "./pgDumpProcess";
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
}

export interface StoredDump {
  /** Container-qualified path, as recovery points list it. */
  blobPath: string;
  sizeBytes: number;
  sha256: string;
  toolVersion: string;
  /** Absent only for a dump committed before pgvault compressed (found again by a retried activity). */
  compression?: CompressionAlgorithm;
  encryption?: RecoveryPointEncryption;
  /** The contents record; absent when the server could not export a snapshot (see snapshotCounter.ts). */
  contents?: RecoveryPointContents;
  /** What this call counted into the record (absent when it found the dump already committed). */
  counted?: { tables: number; rows: number };
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

/**
 * Blob metadata of an encrypted dump: the same facts the recovery point records, so the vault's blobs alone (with
 * the key) are enough to decrypt, and a retried activity that finds its committed blob can report them.
 */
function encryptionMetadata(encryption: RecoveryPointEncryption): Record<string, string> {
  return {
    encryption: `${encryption.format}/${encryption.formatVersion}`,
    segmentsize: String(encryption.segmentSize),
    keyref: encryption.keyRef,
    keyversion: encryption.keyVersion,
    wrapalgorithm: encryption.algorithm,
    wrappedkey: encryption.wrappedKey,
  };
}

function encryptionFromMetadata(metadata: Record<string, string>): RecoveryPointEncryption | undefined {
  if (metadata.encryption !== `${encryptionFormat}/${encryptionFormatVersion}`) return undefined;
  const { segmentsize, keyref, keyversion, wrapalgorithm, wrappedkey } = metadata;
  if (!segmentsize || !keyref || !keyversion || !wrappedkey || (wrapalgorithm !== "RSA-OAEP-256" && wrapalgorithm !== "A256KW")) return undefined;
  return {
    format: encryptionFormat,
    formatVersion: encryptionFormatVersion,
    segmentSize: Number(segmentsize),
    keyRef: keyref,
    keyVersion: keyversion,
    algorithm: wrapalgorithm,
    wrappedKey: wrappedkey,
  };
}

async function alreadyCommitted(blob: BlockBlobClient, contentsBlobPath: string): Promise<Omit<StoredDump, "blobPath"> | undefined> {
  try {
    const props = await blob.getProperties();
    const sha256 = props.metadata?.sha256;
    if (!sha256) return undefined;
    const encryption = encryptionFromMetadata(props.metadata ?? {});
    const compression = compressionAlgorithms.find((algorithm) => algorithm === props.metadata?.compression);
    // The contents record was written before the commit; the dump's metadata holds its hash.
    const contentsSha256 = props.metadata?.contentssha256;
    const contents = contentsSha256 && { blobPath: contentsBlobPath, sha256: contentsSha256 };
    return {
      sizeBytes: props.contentLength ?? 0,
      sha256,
      toolVersion: props.metadata?.tool ?? "",
      ...(compression ? { compression } : {}),
      ...(encryption ? { encryption } : {}),
      ...(contents ? { contents } : {}),
    };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw storageFailure(err, `reading ${blob.name}`);
  }
}

/**
 * The dump committed at `blobPath` for a recovery point, as its commit described it (the same facts `dumpToVault`
 * returned); undefined while none is committed. How the record step learns what to record: orchestrations pass
 * the path, not the facts.
 */
export async function readCommittedDump(instanceName: string, recoveryPointId: string, blobPath: string): Promise<StoredDump | undefined> {
  const folder = `${backupContainer}/${instanceName}/${recoveryPointId}/`;
  if (!blobPath.startsWith(folder) || blobPath.slice(folder.length).includes("/")) {
    throw new PgVaultError("SystemErrorUnexpected", `${blobPath} is not a dump of recovery point ${instanceName}/${recoveryPointId}.`);
  }
  const blob = getBackupContainer().getBlockBlobClient(blobPath.slice(backupContainer.length + 1));
  const committed = await alreadyCommitted(blob, `${backupContainer}/${contentsBlobName(instanceName, recoveryPointId)}`);
  return committed && { blobPath, ...committed };
}

export async function dumpToVault(params: ConnectionParams, target: DumpTarget): Promise<StoredDump> {
  await ensureContainer();
  const blobName = `${target.instanceName}/${target.recoveryPointId}/${dumpFileName(params.database)}`;
  const blobPath = `${backupContainer}/${blobName}`;
  const blob = getBackupContainer().getBlockBlobClient(blobName);
  const contentsBlob = getBackupContainer().getBlockBlobClient(contentsBlobName(target.instanceName, target.recoveryPointId));
  const existing = await alreadyCommitted(blob, `${backupContainer}/${contentsBlob.name}`);
  if (existing) return { blobPath, ...existing };

  const tool = await toolVersion("pg_dump");
  // Wrapped (and checked to unwrap) before pg_dump starts: a key problem fails the job with nothing dumped.
  const sealing = target.encryption && (await createDataKey(target.encryption.key));
  try {
    const segmentSize = (target.encryption ? target.encryption.segmentSize : target.segmentSize) ?? defaultSegmentSize;
    const encryption: RecoveryPointEncryption | undefined = sealing && {
      format: encryptionFormat,
      formatVersion: encryptionFormatVersion,
      segmentSize,
      ...sealing.wrapped,
    };
    // The snapshot pg_dump dumps, counted while it dumps (absent when the server cannot export one).
    const snapshot = await openSnapshot(params);
    // pg_dump's own compression is single-threaded gzip, slower than reading the database: pgvault compresses instead.
    const compressor = startCompressor(target.compression);
    const dump = startPgDump(params, ["--compress=0", ...(snapshot ? [`--snapshot=${snapshot.snapshotId}`] : [])], compressor.input);
    compressor.releaseInput();
    const archive = compressor.outputOf(dump.stdout);
    const abort = new AbortController();
    const stopCounting = new AbortController();
    const cancelled = target.cancellation?.signal;
    const onCancel = () => {
      dump.kill();
      compressor.stop();
      abort.abort();
      stopCounting.abort();
    };
    cancelled?.addEventListener("abort", onCancel, { once: true });
    // Whichever side fails first is the cause; the others' errors are only the consequence of stopping them.
    let firstFailure: "dump" | "storage" | "count" | undefined;
    const [staged, exited, counted] = await Promise.allSettled([
      stageStream(sealSegments(archive, sealing?.dataKey, segmentSize), blob, {
        expectedBytes: target.expectedBytes,
        onProgress: target.onProgress,
        abortSignal: abort.signal,
      }).catch((err: unknown) => {
        firstFailure ??= "storage";
        dump.kill();
        compressor.stop();
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
        abort.abort();
        throw err;
      }),
    ]);
    // Only now: pg_dump needed the exporting transaction open until it had imported the snapshot.
    await snapshot?.close();
    cancelled?.removeEventListener("abort", onCancel);
    if (cancelled?.aborted) throw cancelled.reason;
    if (staged.status === "rejected" && firstFailure === "storage") throw storageFailure(staged.reason, `uploading ${blobPath}`);
    if (counted.status === "rejected" && firstFailure === "count") throw counted.reason;
    if (exited.status === "rejected") throw exited.reason;
    if (staged.status === "rejected") throw storageFailure(staged.reason, `uploading ${blobPath}`);
    if (counted.status === "rejected") throw counted.reason;
    const cancellation = target.cancellation;
    if (cancellation) await throwIfCancelled(cancellation.jobId);
    // Another attempt of this activity (retries are at-least-once) committed meanwhile: its dump and record stand.
    const committedMeanwhile = await alreadyCommitted(blob, `${backupContainer}/${contentsBlob.name}`);
    if (committedMeanwhile) return { blobPath, ...committedMeanwhile };
    const record = counted.value && contentsRecord(target.recoveryPointId, params.database, counted.value, new Date());
    const contents =
      record &&
      (await writeContentsRecord(contentsBlob, record, sealing && encryption && { dataKey: sealing.dataKey, encryption, metadata: encryptionMetadata(encryption) }));
    const stored = await commit(blob, blobPath, staged.value, { tool: tool.text, compression: target.compression.algorithm, encryption, contents }).catch(async (err: unknown) => {
      // No dump, no point: the record would only be left behind; unless another attempt's dump was committed with it.
      const committed = await alreadyCommitted(blob, "").catch(() => undefined);
      if (contents && !committed) await contentsBlob.deleteIfExists().catch(() => undefined);
      throw err;
    });
    // A cancel that arrived while committing: the cleanup may already have looked, so this step removes its blobs.
    if (cancellation) await undoIfCancelled(cancellation.jobId, () => Promise.all([blob.deleteIfExists(), contentsBlob.deleteIfExists()]));
    return { ...stored, ...(record ? { counted: { tables: record.tables.length, rows: totalRows(record.tables) } } : {}) };
  } finally {
    sealing?.dataKey.fill(0);
  }
}

interface DumpFacts {
  tool: string;
  compression: CompressionAlgorithm;
  encryption?: RecoveryPointEncryption;
  contents?: RecoveryPointContents;
}

async function commit(blob: BlockBlobClient, blobPath: string, staged: StagedStream, { tool, compression, encryption, contents }: DumpFacts): Promise<StoredDump> {
  try {
    await blob.commitBlockList(staged.blockIds, {
      blobHTTPHeaders: { blobContentType: "application/octet-stream" },
      metadata: {
        sha256: staged.sha256,
        format: "pg_dump-custom",
        tool,
        // Also tells a restore the file is in checked segments (shared/encryption/segmentFormat.ts).
        compression,
        ...(encryption ? encryptionMetadata(encryption) : {}),
        // Binds the dump to the record counted with it, and tells a retried activity where the record is.
        ...(contents ? { contentssha256: contents.sha256 } : {}),
      },
      // Never replace a committed dump: a recovery point's bytes are written once.
      conditions: { ifNoneMatch: "*" },
    });
  } catch (err) {
    throw storageFailure(err, `committing ${blobPath}`);
  }
  return {
    blobPath,
    sizeBytes: staged.sizeBytes,
    sha256: staged.sha256,
    toolVersion: tool,
    compression,
    ...(encryption ? { encryption } : {}),
    ...(contents ? { contents } : {}),
  };
}
