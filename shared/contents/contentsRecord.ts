/**
 * `contents-<attempt>.json`: the contents record of a dump, stored next to it in the recovery point's folder
 * (`backups/{instance}/{rpId}/contents-<attempt>.json`), so the folder's ownership rules, retention, cancel cleanup
 * and immutability cover it like the dump. Each dump attempt writes its own (points taken before attempts had ids
 * have `contents.json`); the committed dump's metadata names the attempt whose record is the point's
 * (shared/backup/committedDump.ts). It holds the object counts and the rows of every table, counted in
 * pg_dump's own snapshot; a restore drill compares a restore with it. It also keeps the definitions of the roles
 * the dump refers to (no passwords), for a restore that creates the missing ones.
 *
 * Under an encrypting policy the record is sealed with the recovery point's own data key in the same segment
 * format as the dump (docs/architecture.md, "Encryption"): it names every table and role, and names are data too.
 * The catalog keeps the SHA-256 of the stored bytes, so a changed record is refused before it is read.
 */
import { createHash } from "node:crypto";
import type { BlockBlobClient } from "@azure/storage-blob";
import { backupContainer, type DumpRecoveryPoint, type RecoveryPointContents, type RecoveryPointEncryption } from "../domain";
import { unwrapDataKey } from "../encryption/dataKeys";
import { openSegments, sealSegments } from "../encryption/segmentFormat";
import { PgVaultError } from "../errors";
import { statusOf, storageFailure } from "../storageErrors";
import { getBackupContainer } from "../catalog/vaultClients";
import { objectKinds, type DatabaseContents } from "./databaseContents";
import { isDigestSettings, isTableDigest, type DigestSettings, type TableDigest } from "./tableDigests";

const recordFormat = "pgvault-contents";
const recordFormatVersion = 1;

/** The record as stored (before encryption). */
export interface ContentsRecord extends DatabaseContents {
  format: typeof recordFormat;
  formatVersion: typeof recordFormatVersion;
  recoveryPointId: string;
  database: string;
  /** When the counting finished (the counts are of the dump's snapshot, taken when pg_dump started). */
  countedAt: string;
  /**
   * The definitions of the roles the dump refers to, as `pg_dumpall --roles-only` writes them, without passwords
   * (sourceRoles.ts): what a restore with `roles: "createMissing"` creates. Absent in records from before.
   */
  roles?: string;
  /**
   * Each dumped table's content digest, taken from the archive as it streamed (tableDigests.ts), with the output
   * settings a drill reads back under. Absent in records from before, and both or neither are present.
   */
  digests?: TableDigest[];
  digestSettings?: DigestSettings;
}

/** The record's file name: the attempt's own, or `contents.json` of a dump committed before attempts had ids. */
export function contentsFileName(attempt: string | undefined): string {
  return attempt ? `contents-${attempt}.json` : "contents.json";
}

/** Whether `fileName` (in a point's folder) is the record of an attempt other than `attempt`. */
export function isOtherAttemptsRecord(fileName: string, attempt: string): boolean {
  return /^contents-[0-9a-f]{16}\.json$/.test(fileName) && fileName !== contentsFileName(attempt);
}

/** Name of the record's blob inside the `backups` container. */
export function contentsBlobName(instanceName: string, recoveryPointId: string, attempt: string | undefined): string {
  return `${instanceName}/${recoveryPointId}/${contentsFileName(attempt)}`;
}

export function contentsRecord(
  recoveryPointId: string,
  database: string,
  contents: DatabaseContents & Pick<ContentsRecord, "roles" | "digests" | "digestSettings">,
  countedAt: Date,
): ContentsRecord {
  return { format: recordFormat, formatVersion: recordFormatVersion, recoveryPointId, database, countedAt: countedAt.toISOString(), ...contents };
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

async function* single(buffer: Buffer): AsyncGenerator<Buffer> {
  yield buffer;
}

/**
 * Stores the record (sealed with `dataKey` when the dump is encrypted) and returns where it is and the SHA-256 of
 * the stored bytes. Written before the dump is committed, under the attempt's own name: no other attempt writes
 * there, so an overwrite can only be this attempt's own storage client retrying the same bytes.
 */
export async function writeContentsRecord(
  blob: BlockBlobClient,
  record: ContentsRecord,
  sealing?: { dataKey: Buffer; encryption: RecoveryPointEncryption; metadata: Record<string, string> },
): Promise<RecoveryPointContents> {
  const plain = Buffer.from(JSON.stringify(record));
  const stored = sealing ? await collect(sealSegments(single(plain), sealing.dataKey, sealing.encryption.segmentSize)) : plain;
  const sha256 = createHash("sha256").update(stored).digest("hex");
  try {
    await blob.uploadData(stored, {
      blobHTTPHeaders: { blobContentType: sealing ? "application/octet-stream" : "application/json" },
      metadata: { sha256, format: recordFormat, ...(sealing?.metadata ?? {}) },
    });
  } catch (err) {
    throw storageFailure(err, `writing ${backupContainer}/${blob.name}`);
  }
  return { blobPath: `${backupContainer}/${blob.name}`, sha256 };
}

const corrupted = (rp: DumpRecoveryPoint, problem: string) =>
  new PgVaultError("UserErrorRecoveryPointCorrupted", `The contents record of recovery point ${rp.id} (${rp.contents?.blobPath}) ${problem}.`);

function isTableRows(value: unknown): boolean {
  const table = value as { schema?: unknown; name?: unknown; rows?: unknown };
  return typeof table?.schema === "string" && typeof table.name === "string" && Number.isSafeInteger(table.rows);
}

/** Reads, checks (SHA-256, decryption, shape, that it is this point's) and parses a point's contents record. */
export async function readContentsRecord(rp: DumpRecoveryPoint & { contents: RecoveryPointContents }): Promise<ContentsRecord> {
  const name = rp.contents.blobPath.replace(/^[^/]+\//, "");
  let stored: Buffer;
  try {
    stored = await getBackupContainer().getBlockBlobClient(name).downloadToBuffer();
  } catch (err) {
    if (statusOf(err) === 404) throw corrupted(rp, "is missing from the vault");
    throw storageFailure(err, `reading ${rp.contents.blobPath}`);
  }
  if (createHash("sha256").update(stored).digest("hex") !== rp.contents.sha256) throw corrupted(rp, "does not match its SHA-256");
  let plain = stored;
  if (rp.encryption) {
    const dataKey = await unwrapDataKey(rp.encryption);
    try {
      plain = await collect(openSegments(single(stored), dataKey, `The contents record ${rp.contents.blobPath}`));
    } finally {
      dataKey.fill(0);
    }
  }
  let record: ContentsRecord;
  try {
    record = JSON.parse(plain.toString("utf8")) as ContentsRecord;
  } catch {
    throw corrupted(rp, "is not JSON");
  }
  const counts = record?.objects as Record<string, unknown> | undefined;
  const wellFormed =
    record?.format === recordFormat &&
    record.formatVersion === recordFormatVersion &&
    typeof counts === "object" &&
    counts !== null &&
    objectKinds.every((kind) => counts[kind] === undefined || Number.isSafeInteger(counts[kind])) &&
    Array.isArray(record.tables) &&
    record.tables.every(isTableRows) &&
    (record.roles === undefined || typeof record.roles === "string") &&
    (record.digests === undefined ? record.digestSettings === undefined : Array.isArray(record.digests) && record.digests.every(isTableDigest) && isDigestSettings(record.digestSettings));
  if (!wellFormed) throw corrupted(rp, "is not a pgvault contents record this version can read");
  if (record.recoveryPointId !== rp.id) throw corrupted(rp, `belongs to another recovery point (${String(record.recoveryPointId).slice(0, 40)})`);
  return record;
}
