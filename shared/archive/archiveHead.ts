/**
 * The head of a custom-format archive: its header and table of contents, read as pg_dump writes them
 * (src/bin/pg_dump/pg_backup_archiver.c `WriteHead`/`ReadHead` and `WriteToc`/`ReadToc`, REL_12 to REL_18; the
 * per-entry data offset is the custom format's own, pg_backup_custom.c `_WriteExtraToc`/`_ReadExtraToc`).
 */
import { declaredEncoding, textOfBytes } from "../restore/archiveEncoding";
import type { ArchiveCompression, ArchiveHeader, ArchiveSection, TocEntry } from "./archiveTypes";
import { ArchiveFields, type ByteSource } from "./byteSource";

const magic = Buffer.from("PGDMP");
/** `archCustom` in pg_backup.h's ArchiveFormat. */
const customFormat = 1;

const version = (major: number, minor: number) => major * 256 + minor;
/** The oldest archive read: 1.12 (pg_dump 9.0, separate BLOB entries); pg_dump 12 writes 1.14. */
const oldestVersion = version(1, 12);
/** The newest: 1.16 (pg_dump 17 and 18: BLOB METADATA entries, relkind in the table of contents). */
const newestVersion = version(1, 16);
const withCompressionAlgorithm = version(1, 15);
const withTableAccessMethod = version(1, 14);
const withRelkind = version(1, 16);

/** pg_compress_algorithm (src/include/common/compression.h), the header's byte from archive 1.15 on. */
const compressionAlgorithms: readonly ArchiveCompression[] = ["none", "gzip", "lz4", "zstd"];

/** `teSection` (pg_backup.h): SECTION_NONE = 1, PRE_DATA, DATA, POST_DATA. */
const sections: readonly ArchiveSection[] = ["none", "pre-data", "data", "post-data"];

/** Larger than any name or definition pg_dump writes; a longer claim is damage, not something to allocate. */
const maxFieldBytes = 64 * 1024 * 1024;
/** pg_dump's dump ids and oids fit in 32 bits. */
const maxId = 0xffffffff;

/** K_OFFSET_NO_DATA (pg_backup_archiver.h): the entry has no data block. */
const offsetNoData = 3;

export interface ArchiveHead {
  header: ArchiveHeader;
  entries: TocEntry[];
  fields: ArchiveFields;
  /** The dump ids whose data blocks follow the table of contents. */
  withData: Set<number>;
}

async function readHeader(source: ByteSource): Promise<{ header: ArchiveHeader; fields: ArchiveFields; archiveVersion: number }> {
  await source.need(magic.length + 3, "the header");
  if (!source.take(magic.length).equals(magic)) throw source.damage("the archive does not start with PGDMP: it is not a pg_dump custom-format archive");
  const major = source.byte();
  const minor = source.byte();
  const revision = source.byte();
  const archiveVersion = version(major, minor);
  if (archiveVersion < oldestVersion || archiveVersion > newestVersion) {
    throw source.damage(`archive version ${major}.${minor}.${revision} is not one pg_dump 9.0 to 18 writes`);
  }
  await source.need(3, "the header");
  const intSize = source.byte();
  const offSize = source.byte();
  // pg_dump writes sizeof(int) and sizeof(pgoff_t): 4 and 8 on every platform it runs on.
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 16) throw source.damage(`integer sizes ${intSize}/${offSize} are not pg_dump's`);
  const format = source.byte();
  if (format !== customFormat) throw source.damage(`archive format ${format} is not the custom format`);
  const fields = new ArchiveFields(source, intSize, offSize);
  let compression: ArchiveCompression;
  if (archiveVersion >= withCompressionAlgorithm) {
    await source.need(1, "the header");
    const algorithm = compressionAlgorithms[source.byte()];
    if (!algorithm) throw source.damage("the compression algorithm is unknown");
    compression = algorithm;
  } else {
    // Before 1.15 the header holds a zlib level: 0 is uncompressed, anything else gzip (ReadHead).
    const level = await fields.int("the compression level");
    if (level < -1 || level > 9) throw source.damage(`compression level ${level} is not zlib's`);
    compression = level === 0 ? "none" : "gzip";
  }
  // struct tm as written: seconds, minutes, hours, day of month, month (0-11), years since 1900, isdst.
  const tm: number[] = [];
  for (const part of ["seconds", "minutes", "hours", "day", "month", "year", "isdst"]) tm.push(await fields.int(`the creation time's ${part}`));
  const [sec, min, hour, mday, mon, year] = tm as [number, number, number, number, number, number];
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const createdAt = `${pad(year + 1900, 4)}-${pad(mon + 1)}-${pad(mday)}T${pad(hour)}:${pad(min)}:${pad(sec)}`;
  const database = await fields.str("the database name", maxFieldBytes);
  const serverVersion = await fields.str("the server version", maxFieldBytes);
  const dumpVersion = await fields.str("pg_dump's version", maxFieldBytes);
  return {
    header: { version: `${major}.${minor}.${revision}`, intSize, offSize, compression, createdAt, database, serverVersion, dumpVersion },
    fields,
    archiveVersion,
  };
}

async function readId(fields: ArchiveFields, what: string): Promise<number> {
  const text = await fields.str(what, 32);
  const id = Number(text);
  if (!/^\d+$/.test(text) || id > maxId) throw fields.source.damage(`${what} '${text.slice(0, 20)}' is not a number`);
  return id;
}

async function readEntry(fields: ArchiveFields, archiveVersion: number, index: number): Promise<{ entry: TocEntry; hasBlock: boolean }> {
  const what = (field: string) => `table of contents entry ${index + 1}'s ${field}`;
  const dumpId = await fields.int(what("dump id"));
  if (dumpId <= 0 || dumpId > maxId) throw fields.source.damage(`${what("dump id")} ${dumpId} is out of range`);
  const hadDumper = await fields.int(what("data flag"));
  const tableOid = await readId(fields, what("table oid"));
  const oid = await readId(fields, what("oid"));
  const tag = await fields.str(what("tag"), maxFieldBytes);
  const desc = await fields.str(what("kind"), maxFieldBytes);
  const section = sections[(await fields.int(what("section"))) - 1];
  if (!section) throw fields.source.damage(`${what("section")} is unknown`);
  const defn = await fields.str(what("definition"), maxFieldBytes);
  const dropStmt = await fields.str(what("drop statement"), maxFieldBytes);
  const copyStmt = await fields.str(what("COPY statement"), maxFieldBytes);
  const namespace = await fields.str(what("schema"), maxFieldBytes);
  const tablespace = await fields.str(what("tablespace"), maxFieldBytes);
  const tableAccessMethod = archiveVersion >= withTableAccessMethod ? await fields.str(what("access method"), maxFieldBytes) : "";
  const relkindCode = archiveVersion >= withRelkind ? await fields.int(what("relkind")) : 0;
  const owner = await fields.str(what("owner"), maxFieldBytes);
  // The withOids flag of archives before 12: "true" would need a server that no longer exists.
  const withOids = await fields.str(what("WITH OIDS flag"), 16);
  if (withOids === "true") throw fields.source.damage(`${what("WITH OIDS flag")} is set, which pg_dump 12 and later never write`);
  const dependencies: number[] = [];
  for (;;) {
    const dependency = await fields.strBytes(what("dependency"), 32);
    if (!dependency) break;
    const id = Number(dependency.toString("latin1"));
    if (!Number.isSafeInteger(id) || id <= 0) throw fields.source.damage(`${what("dependency")} is not a dump id`);
    dependencies.push(id);
  }
  const { flag } = await fields.offset(what("data offset"));
  if (flag < 1 || flag > 3) throw fields.source.damage(`${what("data offset")} has unknown flag ${flag}`);
  const entry: TocEntry = {
    dumpId,
    hasData: hadDumper !== 0,
    tableOid,
    oid,
    tag,
    desc,
    section,
    defn,
    dropStmt,
    copyStmt,
    namespace,
    tablespace,
    tableAccessMethod,
    relkind: relkindCode > 0 && relkindCode < 128 ? String.fromCharCode(relkindCode) : "",
    owner,
    dependencies,
  };
  return { entry, hasBlock: flag !== offsetNoData };
}

/** Reads the header and the whole table of contents; the source is then at the first data block. */
export async function readArchiveHead(source: ByteSource): Promise<ArchiveHead> {
  const { header, fields, archiveVersion } = await readHeader(source);
  const count = await fields.int("the number of table of contents entries");
  if (count < 0) throw source.damage(`the table of contents claims ${count} entries`);
  const entries: TocEntry[] = [];
  const withData = new Set<number>();
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const { entry, hasBlock } = await readEntry(fields, archiveVersion, i);
    if (seen.has(entry.dumpId)) throw source.damage(`dump id ${entry.dumpId} appears twice in the table of contents`);
    seen.add(entry.dumpId);
    if (hasBlock) withData.add(entry.dumpId);
    entries.push(entry);
    if (entry.desc === "ENCODING") {
      // A LATIN1 database's names are LATIN1 bytes. An encoding Node cannot read keeps its bytes, one character each.
      const read = textOfBytes(declaredEncoding(entry.defn));
      fields.textOf = read ? (bytes) => read(bytes, 0, bytes.length) : (bytes) => bytes.toString("latin1");
    }
  }
  return { header, entries, fields, withData };
}
