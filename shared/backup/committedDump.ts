/**
 * A committed dump as its blob metadata describes it. The commit (Put Block List) sets the metadata together with
 * the block list, in one request, so every fact in it (SHA-256, tool, compression, the wrapped data key, the
 * contents record's hash, and the attempt whose blocks and record they are) belongs to the attempt whose blocks were
 * committed. Whoever reads the facts back (a later attempt, a copy that lost the race to commit, the record step)
 * reads them from here, never from what it computed itself.
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import { contentsBlobName } from "../contents/contentsRecord";
import { backupContainer, compressionAlgorithms, type CompressionAlgorithm, type RecoveryPointContents, type RecoveryPointEncryption } from "../domain";
import { encryptionFormat, encryptionFormatVersion } from "../encryption/segmentFormat";
import { PgVaultError } from "../errors";
import { dumpFileName } from "../recoveryPoints/recoveryPointId";
import { statusOf, storageFailure } from "../storageErrors";
import { getBackupContainer } from "../catalog/vaultClients";
import { attemptIdPattern } from "./blockUpload";

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
  /** The attempt that committed it; absent for a dump committed before attempts had ids. */
  attempt?: string;
  /** What this call counted into the record (absent when it found the dump already committed). */
  counted?: { tables: number; rows: number };
}

/** Where a recovery point's dump is. */
export interface DumpLocation {
  instanceName: string;
  recoveryPointId: string;
  /** Container-qualified path. */
  blobPath: string;
  blob: BlockBlobClient;
}

export function dumpLocation(instanceName: string, recoveryPointId: string, database: string): DumpLocation {
  const name = `${instanceName}/${recoveryPointId}/${dumpFileName(database)}`;
  return { instanceName, recoveryPointId, blobPath: `${backupContainer}/${name}`, blob: getBackupContainer().getBlockBlobClient(name) };
}

/** What one attempt commits as its dump's metadata. */
export interface DumpFacts {
  attempt: string;
  sha256: string;
  tool: string;
  compression: CompressionAlgorithm;
  encryption?: RecoveryPointEncryption;
  contents?: RecoveryPointContents;
}

/**
 * Blob metadata of an encrypted dump: the same facts the recovery point records, so the vault's blobs alone (with
 * the key) are enough to decrypt, and a retried activity that finds its committed blob can report them.
 */
export function encryptionMetadata(encryption: RecoveryPointEncryption): Record<string, string> {
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

export function dumpMetadata({ attempt, sha256, tool, compression, encryption, contents }: DumpFacts): Record<string, string> {
  return {
    sha256,
    format: "pg_dump-custom",
    tool,
    // Also tells a restore the file is in checked segments (shared/encryption/segmentFormat.ts).
    compression,
    ...(encryption ? encryptionMetadata(encryption) : {}),
    // Binds the dump to the record counted with it; the attempt names the record's file.
    ...(contents ? { contentssha256: contents.sha256 } : {}),
    attempt,
  };
}

/** The facts of a dump committed as `facts` said, at `location`. */
export function storedDump(location: DumpLocation, sizeBytes: number, { attempt, sha256, tool, compression, encryption, contents }: DumpFacts): StoredDump {
  return {
    blobPath: location.blobPath,
    sizeBytes,
    sha256,
    toolVersion: tool,
    compression,
    attempt,
    ...(encryption ? { encryption } : {}),
    ...(contents ? { contents } : {}),
  };
}

function factsFromMetadata(location: DumpLocation, metadata: Record<string, string>, sizeBytes: number): StoredDump | undefined {
  const { sha256, contentssha256 } = metadata;
  if (!sha256) return undefined;
  const attempt = metadata.attempt && attemptIdPattern.test(metadata.attempt) ? metadata.attempt : undefined;
  const encryption = encryptionFromMetadata(metadata);
  const compression = compressionAlgorithms.find((algorithm) => algorithm === metadata.compression);
  return {
    blobPath: location.blobPath,
    sizeBytes,
    sha256,
    toolVersion: metadata.tool ?? "",
    ...(compression ? { compression } : {}),
    ...(encryption ? { encryption } : {}),
    ...(contentssha256 ? { contents: { blobPath: `${backupContainer}/${contentsBlobName(location.instanceName, location.recoveryPointId, attempt)}`, sha256: contentssha256 } } : {}),
    ...(attempt ? { attempt } : {}),
  };
}

/**
 * The dump committed at `location`, as its commit described it; undefined while none is committed. A read that
 * fails throws (transient when storage was unavailable): "unknown" is never taken for "not committed".
 */
export async function readCommitted(location: DumpLocation): Promise<StoredDump | undefined> {
  try {
    const props = await location.blob.getProperties();
    return factsFromMetadata(location, props.metadata ?? {}, props.contentLength ?? 0);
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw storageFailure(err, `reading ${location.blobPath}`);
  }
}

/**
 * The dump committed at `blobPath` for a recovery point; undefined while none is committed. How the record step
 * learns what to record: orchestrations pass the path, not the facts.
 */
export async function readCommittedDump(instanceName: string, recoveryPointId: string, blobPath: string): Promise<StoredDump | undefined> {
  const folder = `${backupContainer}/${instanceName}/${recoveryPointId}/`;
  if (!blobPath.startsWith(folder) || blobPath.slice(folder.length).includes("/")) {
    throw new PgVaultError("SystemErrorUnexpected", `${blobPath} is not a dump of recovery point ${instanceName}/${recoveryPointId}.`);
  }
  const blob = getBackupContainer().getBlockBlobClient(blobPath.slice(backupContainer.length + 1));
  return readCommitted({ instanceName, recoveryPointId, blobPath, blob });
}
