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

/** A chunk length written at `at` (sign byte, then `intSize` bytes, least significant first); negative if signed. */
function lengthAt(chunk: Buffer, at: number, intSize: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 1; i <= intSize; i++) {
    value += chunk[at + i]! * scale;
    scale *= 256;
  }
  return chunk[at] === 0 ? value : -value;
}

/** How `storedChunks` hands its batches on. */
interface Batching {
  /** Leave out a final chunk that is a table's end marker. */
  dropEndMarker: boolean;
  /**
   * Hand on the same batch buffer each time (valid until the next is asked for: the reader's promise for `data`
   * events), sparing the garbage collector a buffer per batch. Not for a consumer that keeps what it is handed, such
   * as a decompressor working in the background.
   */
  reuseBatch: boolean;
}

/**
 * One stream of chunks (a table's, or one large object's) as stored, gathered into batches. Chunks are parsed in
 * place where they lie whole in the input (the common case: for uncompressed table data each chunk is one row, so
 * this loop runs once per row). A chunk small enough to be the end marker is known not to be once another follows;
 * only when the block ends may the last one be dropped, and it is still in the batch then.
 */
async function* storedChunks(fields: ArchiveFields, what: string, { dropEndMarker, reuseBatch }: Batching): AsyncGenerator<Buffer> {
  const source = fields.source;
  const intSize = fields.intSize;
  const lengthWidth = 1 + intSize;
  let batch = Buffer.allocUnsafe(batchBytes);
  let filled = 0;
  // Where the last chunk starts in the batch, when it is small enough to be the end marker.
  let heldFrom = -1;
  for (;;) {
    if (source.buffered < lengthWidth) await source.need(lengthWidth, what);
    const { chunk, at } = source.current();
    // The length lies whole in the first buffered piece, or is read across pieces.
    const length = chunk.length - at >= lengthWidth ? lengthAt(chunk, at, intSize) : fields.intFromBuffer(`a chunk length of ${what}`);
    if (chunk.length - at >= lengthWidth) source.advance(lengthWidth);
    if (length === 0) break;
    if (length < 0) throw source.damage(`a chunk of ${what} claims ${length} bytes`);
    heldFrom = -1;
    if (filled + length > batchBytes && filled > 0) {
      yield batch.subarray(0, filled);
      if (!reuseBatch) batch = Buffer.allocUnsafe(batchBytes);
      filled = 0;
    }
    if (length <= batchBytes - filled) {
      // Into the batch: from the piece it lies in whole, or gathered across pieces.
      if (source.buffered < length) await source.need(length, what);
      heldFrom = length <= longestEndMarker ? filled : -1;
      source.take(length).copy(batch, filled);
      filled += length;
    } else {
      // Larger than a batch (a wide row, a large object's chunk; the batch is empty): handed on as it arrives.
      for (let remaining = length; remaining > 0; ) {
        if (source.buffered === 0) await source.need(1, what);
        const piece = source.takeUpTo(remaining);
        remaining -= piece.length;
        yield piece;
      }
    }
  }
  if (dropEndMarker && heldFrom >= 0 && endMarker.test(batch.toString("latin1", heldFrom, filled))) filled = heldFrom;
  if (filled > 0) yield batch.subarray(0, filled);
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
  if (compression === "none") return storedChunks(fields, what, { dropEndMarker: kind === "table", reuseBatch: true });
  const stored = storedChunks(fields, what, { dropEndMarker: false, reuseBatch: false });
  const decoded = throughDecoder(stored, decoderFor(compression, fields), what, () => fields.source.offset);
  return kind === "table" ? withoutEndMarker(decoded) : decoded;
}

/** Within a BLOBS block: the next large object's oid, or undefined after the last. */
export async function nextLargeObject(fields: ArchiveFields): Promise<number | undefined> {
  const oid = await fields.int("a large object's oid");
  if (oid === 0) return undefined;
  if (oid < 0 || oid > 0xffffffff) throw fields.source.damage(`large object oid ${oid} is out of range`);
  return oid;
}
