/**
 * Export tables as CSV (`format: "csv"`), with no PostgreSQL server: the point's archive is read once through the
 * vault (pointArchive.ts: every stored byte checked, decrypted and decompressed as a restore does), taken apart by
 * the archive reader, each named table's COPY data decoded (copyText.ts) and written as CSV (csvWriter.ts) into
 * blocks staged on its blob as the data streams. Only once the whole archive has been read and its SHA-256 matched
 * are the blobs committed (until then they are invisible), each as the export as files writes its files
 * (exportToContainer.ts: labelled with the job, only over what was there a moment before), then `manifest.json`
 * last, so its presence marks a complete export.
 */
import type { BlockBlobClient, ContainerClient } from "@azure/storage-blob";
import { createHash, randomBytes } from "node:crypto";
import { readArchive } from "../archive/archiveReader";
import type { TocEntry } from "../archive/archiveTypes";
import { CopyTextReader, copyTextOf } from "../archive/copyText";
import { copyColumns, CsvWriter } from "../archive/csvWriter";
import type { BlobRestoreTarget, RecoveryPoint } from "../domain";
import { PgVaultError } from "../errors";
import { declaredEncoding } from "./archiveEncoding";
import { tableName, unknownNamesError } from "./archiveSubset";
import { csvFileName } from "./csvFileNames";
import { csvTables, folderOf, notAccessible, targetContainerClient, writeConditionally, writeFor, type ExportResult } from "./exportToContainer";
import { pointArchive, restoreSourceOf, type RestoreSource } from "./pointArchive";
import { databaseSource } from "./serverRestore";
import type { QualifiedName } from "./restoreNames";

/** Each block staged on a CSV's blob: 50,000 blocks (the service's limit) of this size make a 390 GiB table. */
const blockBytes = 8 * 1024 * 1024;
/** Blocks sent at once while the next fills (as uploadStream's concurrency in exportToContainer.ts). */
const blocksInFlight = 4;
/** CSV bytes are handed on (hashed, counted, added to the block) this many at a time. */
const csvChunk = 256 * 1024;

/** One exported table, as the manifest lists it. */
interface CsvFile {
  table: string;
  name: string;
  rows: number;
  sizeBytes: number;
  sha256: string;
}

/** A table's CSV staged on its blob, to be committed as these blocks. */
type StagedFile = CsvFile & { blockIds: string[] };

/**
 * One table's CSV while its data streams: records are batched into blocks staged on the blob (a few in flight
 * while the next block fills); nothing is visible until the block list is committed.
 */
class StagedCsv {
  private readonly reader: CopyTextReader;
  private block: Buffer[] = [];
  private blockLength = 0;
  private readonly blockIds: string[] = [];
  /** Blocks being sent, oldest first. */
  private staging: Promise<unknown>[] = [];
  private readonly hash = createHash("sha256");
  private sizeBytes = 0;

  constructor(
    private readonly blob: BlockBlobClient,
    /** This run's own block ids: two copies of the step staging on one blob never mix their blocks. */
    private readonly run: string,
    private readonly csv: CsvWriter,
    private readonly table: string,
  ) {
    this.reader = new CopyTextReader(csv, table);
  }

  async write(data: Buffer): Promise<void> {
    this.reader.write(data);
    if (this.csv.pendingBytes >= csvChunk) await this.flushCsv();
  }

  /** The table's data ended: the last block staged, and what the manifest says of the file. */
  async finish(): Promise<StagedFile> {
    this.reader.end();
    await this.flushCsv();
    await this.stageBlock();
    await Promise.all(this.staging);
    return { table: this.table, name: this.blob.name, rows: this.csv.rows, sizeBytes: this.sizeBytes, sha256: this.hash.digest("hex"), blockIds: this.blockIds };
  }

  private async flushCsv(): Promise<void> {
    const bytes = this.csv.take();
    this.hash.update(bytes);
    this.sizeBytes += bytes.length;
    this.block.push(bytes);
    this.blockLength += bytes.length;
    if (this.blockLength >= blockBytes) await this.stageBlock();
  }

  private async stageBlock(): Promise<void> {
    if (this.blockLength === 0) return;
    const body = Buffer.concat(this.block, this.blockLength);
    this.block = [];
    this.blockLength = 0;
    if (this.staging.length >= blocksInFlight) await this.staging.shift();
    // Ids of one blob must all be as long: the run's 12 hex digits and a 6-digit block number.
    const id = Buffer.from(`${this.run}-${String(this.blockIds.length).padStart(6, "0")}`).toString("base64");
    this.blockIds.push(id);
    const staged = this.blob.stageBlock(id, body, body.length);
    staged.catch(() => undefined); // awaited when its turn comes, or at the end
    this.staging.push(staged);
  }
}

/** The table's data entry in the table of contents (what its COPY data block belongs to). */
const isTableData = (entry: TocEntry, table: QualifiedName) => entry.desc === "TABLE DATA" && entry.namespace === table.schema && entry.tag === table.name;

/**
 * Why `tables` cannot be exported from an archive with these entries, or undefined: names it does not hold at all
 * (`unknownNamesError`), else objects it holds without rows of their own (a view, a partitioned table, whose rows
 * are its partitions', a table dumped without data), saying what they are.
 */
function tablesRefusal(tables: readonly QualifiedName[], entries: readonly TocEntry[], pointLabel: string): PgVaultError | undefined {
  const missing = tables.filter((table) => !entries.some((entry) => isTableData(entry, table)));
  if (missing.length === 0) return undefined;
  const entryOf = (table: QualifiedName) =>
    entries.find((candidate) => candidate.namespace === table.schema && candidate.tag === table.name && candidate.desc !== "ACL" && candidate.desc !== "COMMENT");
  const absent = missing.filter((table) => !entryOf(table));
  if (absent.length > 0) return unknownNamesError(absent.map(tableName), pointLabel);
  const held = missing.map((table) => `${tableName(table)} (${entryOf(table)!.desc})`);
  return new PgVaultError("UserErrorDBNotFound", `${pointLabel} holds no table data for ${held.join(", ")}; only tables with rows of their own export as CSV.`, {
    recommendedAction: "Name the tables themselves: for a partitioned table its partitions, for a view the tables it reads.",
  });
}

/** How errors name the point (and, of a Flexible Server point, the database) a CSV export reads. */
const pointLabelOf = (rp: RecoveryPoint, database: string | undefined) => (database !== undefined ? `Database '${database}' of recovery point ${rp.id}` : `Recovery point ${rp.id}`);

/**
 * Why a CSV export of `target` cannot be done from `rp`, read from the archive's table of contents at its head
 * (names compared exactly, in the database's encoding), or undefined: for the API to refuse before a job starts.
 */
export async function csvExportRefusal(rp: RecoveryPoint, target: BlobRestoreTarget): Promise<PgVaultError | undefined> {
  const source = csvSource(rp, target.database);
  for await (const event of readArchive(pointArchive(source), `The archive ${source.blobPath}`)) {
    if (event.type === "toc") return tablesRefusal(csvTables(target), event.entries, pointLabelOf(rp, target.database));
  }
  return undefined;
}

/**
 * Reads the whole archive once: stages each named table's CSV as its data goes by, then makes sure the rest of the
 * stored bytes are read too (the SHA-256 verdict comes after the last byte).
 */
async function stageTables(pointLabel: string, source: RestoreSource, tables: QualifiedName[], container: ContainerClient, names: string[]): Promise<StagedFile[]> {
  const archive = pointArchive(source);
  // The reader gets an iterator it cannot close: the archive is read to its end whatever the reader stops at.
  const input: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => archive.next() }) };
  const run = randomBytes(6).toString("hex");
  const wanted = new Map<number, { table: QualifiedName; name: string }>();
  const staged: StagedFile[] = [];
  let encoding = "UTF8";
  let current: StagedCsv | undefined;
  try {
    for await (const event of readArchive(input, `The archive ${source.blobPath}`)) {
      if (event.type === "toc") {
        encoding = declaredEncoding(event.entries.find((entry) => entry.desc === "ENCODING")?.defn ?? "");
        // Refused before anything is staged: names the point lacks, and objects it holds without rows of their own.
        const refusal = tablesRefusal(tables, event.entries, pointLabel);
        if (refusal) throw refusal;
        tables.forEach((table, i) => wanted.set(event.entries.find((entry) => isTableData(entry, table))!.dumpId, { table, name: names[i]! }));
      } else if (event.type === "dataStart") {
        const file = wanted.get(event.entry.dumpId);
        if (!file) continue;
        const label = tableName(file.table);
        const columns = copyColumns(event.entry.copyStmt);
        if (!columns) throw new PgVaultError("UserErrorRecoveryPointCorrupted", `The archive's COPY statement for ${label} is not one pg_dump writes: ${event.entry.copyStmt.slice(0, 200)}`);
        // A UTF8 database's bytes are the CSV's; any other encoding's are read as text (and refused if unreadable).
        const text = encoding === "UTF8" ? undefined : copyTextOf(encoding, label);
        current = new StagedCsv(container.getBlockBlobClient(file.name), run, new CsvWriter(columns, text, label, csvChunk), label);
      } else if (event.type === "data" && current) {
        await current.write(event.bytes);
      } else if (event.type === "dataEnd" && current) {
        staged.push(await current.finish());
        current = undefined;
      }
    }
    while (!(await archive.next()).done) {
      // The bytes after the last block the reader wanted: read only for the SHA-256.
    }
  } finally {
    await archive.return(undefined);
  }
  if (staged.length < tables.length) {
    const done = new Set(staged.map((file) => file.name));
    const lacking = [...wanted.values()].filter((file) => !done.has(file.name)).map((file) => tableName(file.table));
    throw new PgVaultError("UserErrorRecoveryPointCorrupted", `${pointLabel}: its archive lists data for ${lacking.join(", ")} but holds none.`);
  }
  return staged;
}

/** manifest.json of a CSV export: the point, each file with its rows, size and SHA-256, and how the values read. */
function csvManifest(rp: RecoveryPoint, database: string | undefined, files: CsvFile[]): Record<string, unknown> {
  return {
    recoveryPoint: { id: rp.id, instanceName: rp.instanceName, time: rp.time, ...(database !== undefined ? { database } : {}) },
    format: "csv",
    files,
    exportedAt: new Date().toISOString(),
    notes:
      "One CSV per table (RFC 4180, UTF-8, CRLF record ends, a header row of the column names), converted from the table's data in the recovery point's archive; no database server was involved. " +
      'NULL is an empty unquoted field and the empty string "" (as PostgreSQL\'s COPY ... (FORMAT csv) writes them); values are PostgreSQL\'s text output (bytea as \\x hex, arrays as {...}). ' +
      "rows counts the data records (the header not included); sha256 and sizeBytes are of the file." +
      ("encryption" in rp && rp.encryption ? " The recovery point is encrypted; these files are its decrypted data, exported as requested." : ""),
  };
}

/** The archive a CSV export reads: the dump, or the named database's of a Flexible Server point (the API checked the name). */
function csvSource(rp: RecoveryPoint, database: string | undefined): RestoreSource {
  if (rp.format === "pg_dump-custom") return restoreSourceOf(rp);
  if (database === undefined) throw new PgVaultError("SystemErrorUnexpected", `A CSV export of Flexible Server point ${rp.id} names no database.`);
  return databaseSource(rp, database);
}

/** The CSV export of `target.include.tables` of `rp` into the target container, under the prefix. */
export async function exportTablesAsCsv(rp: RecoveryPoint, target: BlobRestoreTarget, jobId: string): Promise<ExportResult> {
  const source = csvSource(rp, target.database);
  const container = targetContainerClient(target.containerUrl);
  const prefix = folderOf(target);
  const tables = csvTables(target);
  const names = tables.map((table) => csvFileName(prefix, table));
  const manifestName = `${prefix}manifest.json`;
  try {
    // Every name is looked at before anything is staged: a refused export writes nothing.
    for (const name of [manifestName, ...names]) await writeFor(container, name, target, jobId);
    // The archive's order is pg_dump's; the manifest lists the files in the request's.
    const staged = (await stageTables(pointLabelOf(rp, target.database), source, tables, container, names)).sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
    const files: CsvFile[] = [];
    for (const { blockIds, ...file } of staged) {
      await writeConditionally(container, file.name, target, jobId, (write) =>
        container.getBlockBlobClient(file.name).commitBlockList(blockIds, { ...write, blobHTTPHeaders: { blobContentType: "text/csv; charset=utf-8" } }),
      );
      files.push(file);
    }
    const body = JSON.stringify(csvManifest(rp, target.database, files), null, 2);
    await writeConditionally(container, manifestName, target, jobId, (write) =>
      container.getBlockBlobClient(manifestName).upload(body, Buffer.byteLength(body), { ...write, blobHTTPHeaders: { blobContentType: "application/json" } }),
    );
    return { fileCount: files.length, manifest: manifestName, bytes: files.reduce((sum, file) => sum + file.sizeBytes, 0), copiedServerSide: false };
  } catch (err) {
    if (err instanceof PgVaultError) throw err;
    throw notAccessible(err, target.containerUrl);
  }
}
