/**
 * The heart of a database backup: `pg_dump --format=custom` streamed into a block blob of the vault, committed
 * only when pg_dump exited cleanly and every block is staged. A repeated call for the same recovery point finds
 * the committed blob and returns it instead of dumping again (activity retries are at-least-once).
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import { backupContainer } from "../domain";
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
}

export interface StoredDump {
  /** Container-qualified path, as recovery points list it. */
  blobPath: string;
  sizeBytes: number;
  sha256: string;
  toolVersion: string;
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

async function alreadyCommitted(blob: BlockBlobClient): Promise<{ sizeBytes: number; sha256: string; tool: string } | undefined> {
  try {
    const props = await blob.getProperties();
    const sha256 = props.metadata?.sha256;
    if (!sha256) return undefined;
    return { sizeBytes: props.contentLength ?? 0, sha256, tool: props.metadata?.tool ?? "" };
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
  if (existing) return { blobPath, sizeBytes: existing.sizeBytes, sha256: existing.sha256, toolVersion: existing.tool };

  const tool = await toolVersion("pg_dump");
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
    stageStream(dump.stdout, blob, {
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
  if (cancelled?.aborted) throw cancelled.reason;
  if (staged.status === "rejected" && firstFailure === "storage") throw storageFailure(staged.reason, `uploading ${blobPath}`);
  if (exited.status === "rejected") throw exited.reason;
  if (staged.status === "rejected") throw storageFailure(staged.reason, `uploading ${blobPath}`);
  const cancellation = target.cancellation;
  if (cancellation) await throwIfCancelled(cancellation.jobId);
  const stored = await commit(blob, blobPath, staged.value, tool.text);
  // A cancel that arrived while committing: the cleanup may already have looked, so this step removes its blob.
  if (cancellation) await undoIfCancelled(cancellation.jobId, () => blob.deleteIfExists());
  return stored;
}

async function commit(blob: BlockBlobClient, blobPath: string, staged: StagedStream, tool: string): Promise<StoredDump> {
  try {
    await blob.commitBlockList(staged.blockIds, {
      blobHTTPHeaders: { blobContentType: "application/octet-stream" },
      metadata: { sha256: staged.sha256, format: "pg_dump-custom", tool },
      // Never replace a committed dump: a recovery point's bytes are written once.
      conditions: { ifNoneMatch: "*" },
    });
  } catch (err) {
    throw storageFailure(err, `committing ${blobPath}`);
  }
  return { blobPath, sizeBytes: staged.sizeBytes, sha256: staged.sha256, toolVersion: tool };
}
