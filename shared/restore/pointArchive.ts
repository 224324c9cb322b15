/**
 * A recovery point's archive as pg_restore (or the archive reader, shared/archive) reads it: the stored blob opened
 * in the vault, every stored byte hashed as it arrives, each segment checked (or decrypted and authenticated) and
 * decompressed. Restores, exports and the archive's readers all read a point through here.
 */
import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import { decompressed } from "../compression/compressionStreams";
import type { CompressionAlgorithm, DumpRecoveryPoint, RecoveryPointEncryption } from "../domain";
import { unwrapDataKey } from "../encryption/dataKeys";
import { openSegments } from "../encryption/segmentFormat";
import { PgVaultError } from "../errors";
import { statusOf, storageFailure } from "../storageErrors";
import { getBlobServiceClient } from "../catalog/vaultClients";

export interface RestoreSource {
  /** Container-qualified, as the recovery point lists it. */
  blobPath: string;
  /**
   * Of the stored bytes, checked over every byte read. Absent for a Flexible Server point's files: the server
   * wrote them and reports no checksum (the vault's immutability is what guards them).
   */
  sha256?: string;
  /** How pgvault compressed it; absent for points from before, stored as pg_dump wrote them (or only encrypted). */
  compression?: CompressionAlgorithm;
  /** The recovery point's encryption, when its dump is stored encrypted. */
  encryption?: RecoveryPointEncryption;
}

/** What restoring a recovery point reads: its one dump, how it is stored, and the SHA-256 to check it against. */
export function restoreSourceOf(rp: DumpRecoveryPoint): RestoreSource {
  return {
    blobPath: rp.blobs[0]!,
    sha256: rp.sha256,
    ...(rp.compression ? { compression: rp.compression } : {}),
    ...(rp.encryption ? { encryption: rp.encryption } : {}),
  };
}

/** The blob in the container its path names: `backups` for a dump, a point's own `ltr-...` container for a server's file. */
function blobOf(source: RestoreSource) {
  const [container = "", ...name] = source.blobPath.split("/");
  return getBlobServiceClient().getContainerClient(container).getBlobClient(name.join("/"));
}

export async function openBlob(source: RestoreSource): Promise<Readable> {
  try {
    const download = await blobOf(source).download();
    return download.readableStreamBody as Readable;
  } catch (err) {
    if (statusOf(err) === 404) throw new PgVaultError("UserErrorRecoveryPointCorrupted", `The data of the recovery point is missing from the vault (${source.blobPath}).`);
    throw storageFailure(err, `reading ${source.blobPath}`);
  }
}

/** The stored bytes as they arrive, each one hashed and counted first. */
export async function* hashed(blob: Readable, hash: Hash, onBytes: (bytes: number) => void = () => undefined): AsyncGenerator<Buffer> {
  for await (const chunk of blob as AsyncIterable<Buffer>) {
    hash.update(chunk);
    onBytes(chunk.length);
    yield chunk;
  }
}

export const dumpLabel = (source: RestoreSource, dataKey: Buffer | undefined) => `The ${dataKey ? "encrypted " : ""}dump ${source.blobPath}`;

/**
 * What pg_restore reads: the archive, out of its segments one checked (or decrypted and authenticated) segment at a
 * time, then decompressed. A point from before pgvault compressed is pg_dump's own file, encrypted or as it is.
 */
export function archiveBytes(stored: AsyncIterable<Buffer>, source: RestoreSource, dataKey: Buffer | undefined): AsyncIterable<Buffer> {
  const label = dumpLabel(source, dataKey);
  if (source.compression) return decompressed(openSegments(stored, dataKey, label), source.compression, label);
  return dataKey ? openSegments(stored, dataKey, label) : stored;
}

export interface PointArchiveOptions {
  /** The point's data key, when the caller already unwrapped it; otherwise an encrypted point's key is unwrapped here. */
  dataKey?: Buffer;
  /** Stored bytes read so far, as they arrive (for progress). */
  onStoredBytes?: (bytes: number) => void;
}

/**
 * The decoded archive of `source` (a dump point's, or one database archive of a Flexible Server point's), read to
 * its end. Once the last byte is through, the stored bytes' SHA-256 must be the point's (when it has one), else
 * `UserErrorRecoveryPointCorrupted`: a consumer must treat what it made of the bytes as unconfirmed until the
 * iteration ended without error. A consumer that stops early gets no verdict on the bytes it did not read.
 */
export async function* pointArchive(source: RestoreSource, options: PointArchiveOptions = {}): AsyncGenerator<Buffer> {
  // A key unwrapped here is this reader's own and is wiped when it ends; a caller's key stays the caller's.
  const ownKey = !options.dataKey && source.encryption ? await unwrapDataKey(source.encryption) : undefined;
  const dataKey = options.dataKey ?? ownKey;
  const blob = await openBlob(source);
  const hash = createHash("sha256");
  try {
    try {
      yield* archiveBytes(hashed(blob, hash, options.onStoredBytes), source, dataKey);
    } catch (err) {
      if (err instanceof PgVaultError) throw err;
      throw storageFailure(err, `reading ${source.blobPath}`);
    }
    if (source.sha256 !== undefined && hash.digest("hex") !== source.sha256) {
      throw new PgVaultError("UserErrorRecoveryPointCorrupted", `The stored bytes of ${source.blobPath} do not match the recovery point's SHA-256.`);
    }
  } finally {
    blob.destroy();
    ownKey?.fill(0);
  }
}
