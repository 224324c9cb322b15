/**
 * The data blocks after a custom-format archive's table of contents (src/bin/pg_dump/pg_backup_custom.c, REL_12 to
 * REL_18): a block type byte (BLK_DATA = 1, BLK_BLOBS = 3) and the entry's dump id, then the data as chunks, each a
 * length and that many bytes, ended by a zero length (`_CustomWriteFunc`, `_EndData`). A BLOBS block holds, per
 * large object, its oid and its chunks, ended by oid 0 (`_StartLO`, `_EndLO`, `_EndLOs`). With compression, the
 * chunks of one table (or of one large object) carry one compressed stream (compress_io.c and its gzip, lz4 and
 * zstd implementations); without, each chunk is one write of pg_dump's, which for table data is one COPY row.
 */
import { once } from "node:events";
import type { Transform } from "node:stream";
import { createInflate, createZstdDecompress } from "node:zlib";
import type { ArchiveCompression, TocEntry } from "./archiveTypes";
import { ArchiveDamage, type ArchiveFields } from "./byteSource";
import { createLz4FrameDecompress } from "./lz4Frame";

const blockData = 1;
const blockLargeObjects = 3;

/** Stored bytes gathered before they are handed on: large enough that per-row chunks cost little. */
const batchBytes = 256 * 1024;

/**
 * The line pg_dump writes after a table's rows (`\.`, then blank lines: pg_dump.c `dumpTableData_copy`). It cannot
 * be a row: COPY text escapes a backslash in data as `\\`.
 */
const endMarker = /^\\\.\n+$/;
const longestEndMarker = 8;

export interface BlockHeader {
  kind: "table" | "largeObjects";
  dumpId: number;
}

/** The next block's header, or undefined at the end of the archive. */
export async function readBlockHeader(fields: ArchiveFields): Promise<BlockHeader | undefined> {
  const source = fields.source;
  if (await source.atEnd()) return undefined;
  const type = source.byte();
  if (type !== blockData && type !== blockLargeObjects) throw source.damage(`a data block has unknown type ${type}`);
  const dumpId = await fields.int("a data block's dump id");
  return { kind: type === blockData ? "table" : "largeObjects", dumpId };
}

/**
 * One stream of chunks (a table's, or one large object's) as stored, in batches; `lastChunk` receives the final
 * non-empty chunk separately, so table data can leave out its end marker without copying everything.
 */
async function* storedChunks(fields: ArchiveFields, what: string, keepLast: boolean): AsyncGenerator<Buffer> {
  const source = fields.source;
  const lengthWidth = 1 + fields.intSize;
  let batch: Buffer[] = [];
  let batched = 0;
  let last: Buffer[] = [];
  for (;;) {
    if (source.buffered < lengthWidth) await source.need(lengthWidth, what);
    const length = fields.intFromBuffer(`a chunk length of ${what}`);
    if (length === 0) break;
    if (length < 0) throw source.damage(`a chunk of ${what} claims ${length} bytes`);
    if (keepLast) {
      for (const piece of last) batch.push(piece);
      batched += last.reduce((sum, piece) => sum + piece.length, 0);
      last = [];
    }
    // Only a chunk short enough to be the end marker is held back: a longer one (up to the 2 GiB a damaged length
    // may claim) streams on like any other, so memory stays bounded by a batch.
    const holdBack = keepLast && length <= longestEndMarker;
    let remaining = length;
    while (remaining > 0) {
      if (source.buffered === 0) await source.need(1, what);
      const piece = source.takeUpTo(remaining);
      remaining -= piece.length;
      if (holdBack) last.push(piece);
      else {
        batch.push(piece);
        batched += piece.length;
      }
      if (batched >= batchBytes) {
        yield batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
        batch = [];
        batched = 0;
      }
    }
  }
  if (batched > 0) yield batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
  const lastChunk = Buffer.concat(last);
  if (!endMarker.test(lastChunk.toString("latin1"))) {
    if (lastChunk.length > 0) yield lastChunk;
  }
}

/** A compressed stream through Node's decoder, `input` fed with backpressure; a decoder error is damage. */
async function* throughDecoder(input: AsyncIterable<Buffer>, decoder: Transform, what: string, offset: () => number): AsyncGenerator<Buffer> {
  const stop = new AbortController();
  const feeding = (async () => {
    for await (const piece of input) {
      if (!decoder.write(piece)) await once(decoder, "drain", { signal: stop.signal });
    }
    decoder.end();
  })();
  feeding.catch((err: unknown) => decoder.destroy(err as Error));
  try {
    for await (const out of decoder as AsyncIterable<Buffer>) yield out;
    await feeding;
  } catch (err) {
    if (err instanceof ArchiveDamage) throw err;
    const problem = err instanceof Error ? err.message : String(err);
    throw new ArchiveDamage(`the data of ${what} does not decompress (${problem})`, offset());
  } finally {
    stop.abort();
    decoder.destroy();
  }
}

function decoderFor(compression: ArchiveCompression, fields: ArchiveFields): Transform {
  switch (compression) {
    case "gzip":
      // compress_gzip.c: deflateInit (zlib wrapper), one stream per table or large object.
      return createInflate();
    case "zstd":
      // compress_zstd.c: ZSTD_compressStream2, one frame per table or large object.
      return createZstdDecompress();
    case "lz4":
      // compress_lz4.c: LZ4F_compressBegin/Update/End, one LZ4 frame per table or large object.
      return createLz4FrameDecompress();
    case "none":
      throw fields.source.damage("uncompressed data was sent to a decompressor");
  }
}

/** Drops the table's end marker from decompressed rows, holding back only the last few bytes. */
async function* withoutEndMarker(decoded: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let held = Buffer.alloc(0);
  let lastEmitted = 0x0a;
  for await (const out of decoded) {
    const joined = held.length ? Buffer.concat([held, out]) : out;
    const cut = Math.max(0, joined.length - longestEndMarker);
    if (cut > 0) {
      lastEmitted = joined[cut - 1]!;
      yield joined.subarray(0, cut);
    }
    held = Buffer.from(joined.subarray(cut));
  }
  const text = held.toString("latin1");
  const marker = text.lastIndexOf("\\.");
  const before = marker > 0 ? text.charCodeAt(marker - 1) : lastEmitted;
  if (marker >= 0 && before === 0x0a && endMarker.test(text.slice(marker))) held = held.subarray(0, marker);
  if (held.length > 0) yield held;
}

/** The data of one table or large object, decompressed; table rows without their end marker. */
export function blockContent(fields: ArchiveFields, compression: ArchiveCompression, entry: TocEntry, kind: "table" | "largeObject"): AsyncIterable<Buffer> {
  const what = `${entry.desc} ${entry.namespace ? `${entry.namespace}.` : ""}${entry.tag}`;
  if (compression === "none") return storedChunks(fields, what, kind === "table");
  const decoded = throughDecoder(storedChunks(fields, what, false), decoderFor(compression, fields), what, () => fields.source.offset);
  return kind === "table" ? withoutEndMarker(decoded) : decoded;
}

/** Within a BLOBS block: the next large object's oid, or undefined after the last. */
export async function nextLargeObject(fields: ArchiveFields): Promise<number | undefined> {
  const oid = await fields.int("a large object's oid");
  if (oid === 0) return undefined;
  if (oid < 0 || oid > 0xffffffff) throw fields.source.damage(`large object oid ${oid} is out of range`);
  return oid;
}
