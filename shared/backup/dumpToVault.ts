/**
 * The heart of a database backup: `pg_dump --format=custom` streamed into a block blob of the vault (encrypted on
 * the way when the policy says so), committed only when pg_dump exited cleanly and every block is staged. A
 * repeated call for the same recovery point finds the committed blob and returns it instead of dumping again
 * (activity retries are at-least-once).
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import { backupContainer, type RecoveryPointEncryption } from "../domain";
import { createDataKey, type PinnedKey } from "../encryption/dataKeys";
import { defaultSegmentSize, encryptionFormat, encryptionFormatVersion, sealSegments } from "../encryption/segmentFormat";
import type { ConnectionParams } from "../postgres/connection";
import { toolVersion } from "../postgres/pgTools";
import { dumpFileName } from "../recoveryPointId";
import { statusOf, storageFailure } from "../storageErrors";
import { getBackupContainer } from "../vaultClients";
import { throwIfCancelled, undoIfCancelled } from "../jobCancellation";
import { stageStream, type StagedStream } from "./blockUpload";
import { startPgDump } from "./pgDumpProcess";

export interface DumpTarget {
  instanceName: string;
  recoveryPointId: string;
  /** Database size, to size blocks so the dump fits Azure's 50,000-block limit. */
  expectedBytes: number;
  onProgress?: (bytes: number) => void;
  /** The job's cancellation: stops pg_dump when it fires, and no dump stays committed once the job is cancelled. */
  cancellation?: { jobId: string; signal: AbortSignal };
  /**
   * Store the dump encrypted under a fresh data key wrapped by this key. `segmentSize` (plaintext bytes per
   * segment, default 4 MiB) is an argument so tests can have many segments from a small database.
   */
  encryption?: { key: PinnedKey; segmentSize?: number };
}

export interface StoredDump {
  /** Container-qualified path, as recovery points list it. */
  blobPath: string;
  sizeBytes: number;
  sha256: string;
  toolVersion: string;
  encryption?: RecoveryPointEncryption;
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

async function alreadyCommitted(blob: BlockBlobClient): Promise<Omit<StoredDump, "blobPath"> | undefined> {
  try {
    const props = await blob.getProperties();
    const sha256 = props.metadata?.sha256;
    if (!sha256) return undefined;
    const encryption = encryptionFromMetadata(props.metadata ?? {});
    return { sizeBytes: props.contentLength ?? 0, sha256, toolVersion: props.metadata?.tool ?? "", ...(encryption ? { encryption } : {}) };
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw storageFailure(err, `reading ${blob.name}`);
  }
}

export async function dumpToVault(params: ConnectionParams, target: DumpTarget): Promise<StoredDump> {
  await ensureContainer();
  const blobName = `${target.instanceName}/${target.recoveryPointId}/${dumpFileName(params.database)}`;
  const blobPath = `${backupContainer}/${blobName}`;
  const blob = getBackupContainer().getBlockBlobClient(blobName);
  const existing = await alreadyCommitted(blob);
  if (existing) return { blobPath, ...existing };

  const tool = await toolVersion("pg_dump");
  // Wrapped (and checked to unwrap) before pg_dump starts: a key problem fails the job with nothing dumped.
  const sealing = target.encryption && (await createDataKey(target.encryption.key));
  const segmentSize = target.encryption?.segmentSize ?? defaultSegmentSize;
  const encryption: RecoveryPointEncryption | undefined = sealing && {
    format: encryptionFormat,
    formatVersion: encryptionFormatVersion,
    segmentSize,
    ...sealing.wrapped,
  };
  const dump = startPgDump(params);
  const abort = new AbortController();
  const cancelled = target.cancellation?.signal;
  const onCancel = () => {
    dump.kill();
    abort.abort();
  };
  cancelled?.addEventListener("abort", onCancel, { once: true });
  // Whichever side fails first is the cause; the other side's error is only the consequence of stopping it.
  let firstFailure: "dump" | "storage" | undefined;
  const [staged, exited] = await Promise.allSettled([
    stageStream(sealing ? sealSegments(dump.stdout, sealing.dataKey, segmentSize) : dump.stdout, blob, {
      expectedBytes: target.expectedBytes,
      onProgress: target.onProgress,
      abortSignal: abort.signal,
    }).catch((err: unknown) => {
      firstFailure ??= "storage";
      dump.kill();
      throw err;
    }),
    dump.exited.catch((err: unknown) => {
      firstFailure ??= "dump";
      abort.abort();
      throw err;
    }),
  ]);
  cancelled?.removeEventListener("abort", onCancel);
  sealing?.dataKey.fill(0);
  if (cancelled?.aborted) throw cancelled.reason;
  if (staged.status === "rejected" && firstFailure === "storage") throw storageFailure(staged.reason, `uploading ${blobPath}`);
  if (exited.status === "rejected") throw exited.reason;
  if (staged.status === "rejected") throw storageFailure(staged.reason, `uploading ${blobPath}`);
  const cancellation = target.cancellation;
  if (cancellation) await throwIfCancelled(cancellation.jobId);
  const stored = await commit(blob, blobPath, staged.value, tool.text, encryption);
  // A cancel that arrived while committing: the cleanup may already have looked, so this step removes its blob.
  if (cancellation) await undoIfCancelled(cancellation.jobId, () => blob.deleteIfExists());
  return stored;
}

async function commit(blob: BlockBlobClient, blobPath: string, staged: StagedStream, tool: string, encryption?: RecoveryPointEncryption): Promise<StoredDump> {
  try {
    await blob.commitBlockList(staged.blockIds, {
      blobHTTPHeaders: { blobContentType: "application/octet-stream" },
      metadata: { sha256: staged.sha256, format: "pg_dump-custom", tool, ...(encryption ? encryptionMetadata(encryption) : {}) },
      // Never replace a committed dump: a recovery point's bytes are written once.
      conditions: { ifNoneMatch: "*" },
    });
  } catch (err) {
    throw storageFailure(err, `committing ${blobPath}`);
  }
  return { blobPath, sizeBytes: staged.sizeBytes, sha256: staged.sha256, toolVersion: tool, ...(encryption ? { encryption } : {}) };
}
