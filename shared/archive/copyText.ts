/**
 * PostgreSQL's COPY text format, read back into rows ("COPY", "Text Format",
 * https://www.postgresql.org/docs/current/sql-copy.html): one row per line ending in a newline, fields separated by
 * tabs, `\N` alone for NULL, and backslash escapes for the rest (`\b \f \n \r \t \v \\`, `\ooo` octal, `\xhh` hex,
 * any other escaped character itself). Fed the bytes of a table's data in chunks cut anywhere.
 *
 * The escapes give bytes of the database's encoding, so fields are taken apart as bytes and read as text only
 * after. That is sound because every server encoding keeps ASCII bytes for ASCII alone (the docs' "Character Set
 * Support": the encodings that embed ASCII bytes in multibyte characters, such as SJIS and BIG5, are client-only),
 * so a tab, newline or backslash byte in the data is always that character.
 */
import { PgVaultError } from "../errors";
import { textOfBytes, type TextOfBytes } from "../restore/archiveEncoding";

/** A field as COPY wrote it: the value's text output, or null for NULL. */
export type CopyField = string | null;

const tab = 0x09;
const newline = 0x0a;
const backslash = 0x5c;

/** What a backslash followed by this letter stands for; any other escaped character stands for itself. */
const letterEscapes: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

const isOctal = (byte: number | undefined) => byte !== undefined && byte >= 0x30 && byte <= 0x37;
function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Where the fields go, as bytes of the data's encoding with the escapes resolved: `field`'s bytes are only valid
 * during the call. Rows end with `endRow`.
 */
export interface CopyFieldSink {
  field(buffer: Buffer, start: number, end: number): void;
  nullField(): void;
  endRow(): void;
}

/** Reads COPY text fed in chunks into a sink, one pass over the bytes and no text made on the way. */
export class CopyTextReader {
  /** The unfinished row the last chunk ended in (copied: a chunk is not ours to keep). */
  private pending: Buffer[] = [];
  /** Reused for fields with escapes; grows to the longest such field. */
  private scratch = Buffer.alloc(4096);
  private ended = false;

  /** `label` names the table in errors. */
  constructor(
    private readonly sink: CopyFieldSink,
    private readonly label: string,
  ) {}

  /** Hands on the rows `chunk` completes, in order; the rest is kept for the next chunk. */
  write(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(newline); end !== -1; end = chunk.indexOf(newline, start)) {
      if (this.pending.length > 0) {
        this.pending.push(chunk.subarray(start, end));
        const line = Buffer.concat(this.pending);
        this.pending = [];
        this.row(line, 0, line.length);
      } else {
        this.row(chunk, start, end);
      }
      start = end + 1;
    }
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
  }

  /** The data ended: a row without its newline means the data was cut. */
  end(): void {
    if (this.pending.length > 0) throw this.corrupted("ends inside a row");
  }

  private row(line: Buffer, start: number, end: number): void {
    // The end-of-data marker pg_dump writes after the rows (`\.`): nothing may follow it.
    if (end - start === 2 && line[start] === backslash && line[start + 1] === 0x2e) {
      this.ended = true;
      return;
    }
    if (this.ended) throw this.corrupted("has rows after its end-of-data marker");
    let fieldStart = start;
    for (;;) {
      let i = fieldStart;
      let escaped = false;
      while (i < end) {
        const byte = line[i]!;
        if (byte === tab) break;
        if (byte === backslash) {
          escaped = true;
          i += 2; // the escaped byte is never a separator, a tab included
        } else {
          i++;
        }
      }
      if (i > end) throw this.corrupted("has a field ending in a lone backslash");
      if (!escaped) this.sink.field(line, fieldStart, i);
      else if (i - fieldStart === 2 && line[fieldStart + 1] === 0x4e) this.sink.nullField(); // `\N`
      else this.sink.field(this.scratch, 0, this.unescape(line, fieldStart, i));
      if (i === end) break;
      fieldStart = i + 1;
    }
    this.sink.endRow();
  }

  /** The field's bytes with every escape resolved, into `scratch`; returns their length. */
  private unescape(line: Buffer, start: number, end: number): number {
    if (this.scratch.length < end - start) this.scratch = Buffer.alloc(Math.max(end - start, this.scratch.length * 2));
    const out = this.scratch;
    let length = 0;
    for (let i = start; i < end; ) {
      const byte = line[i]!;
      if (byte !== backslash) {
        out[length++] = byte;
        i++;
        continue;
      }
      const next = line[i + 1]!;
      if (isOctal(next)) {
        let value = 0;
        let j = i + 1;
        for (; j < end && j < i + 4 && isOctal(line[j]); j++) value = value * 8 + (line[j]! - 0x30);
        out[length++] = value & 0xff;
        i = j;
      } else if (next === 0x78 && i + 2 < end && hexValue(line[i + 2]) >= 0) {
        let value = hexValue(line[i + 2]);
        let j = i + 3;
        if (j < end && hexValue(line[j]) >= 0) value = value * 16 + hexValue(line[j++]);
        out[length++] = value;
        i = j;
      } else {
        out[length++] = letterEscapes[next] ?? next;
        i += 2;
      }
    }
    return length;
  }

  private corrupted(what: string): PgVaultError {
    return new PgVaultError("UserErrorRecoveryPointCorrupted", `The archived data of ${this.label} ${what}; it is not COPY text as pg_dump writes it.`);
  }
}

/** Collects rows of text: for readers that want values rather than bytes. */
class RowsOfText implements CopyFieldSink {
  rows: CopyField[][] = [];
  private current: CopyField[] = [];

  constructor(private readonly text: TextOfBytes) {}

  field(buffer: Buffer, start: number, end: number): void {
    this.current.push(this.text(buffer, start, end));
  }

  nullField(): void {
    this.current.push(null);
  }

  endRow(): void {
    this.rows.push(this.current);
    this.current = [];
  }
}

/** COPY text to rows of text values, chunk by chunk. */
export class CopyTextDecoder {
  private readonly collected: RowsOfText;
  private readonly reader: CopyTextReader;

  constructor(text: TextOfBytes, label: string) {
    this.collected = new RowsOfText(text);
    this.reader = new CopyTextReader(this.collected, label);
  }

  /** The rows `chunk` completes, in order. */
  rows(chunk: Buffer): CopyField[][] {
    this.reader.write(chunk);
    const rows = this.collected.rows;
    this.collected.rows = [];
    return rows;
  }

  end(): void {
    this.reader.end();
  }
}

/** PostgreSQL encodings that hide ASCII bytes inside multibyte characters: never a database's, so never pg_dump's by default. */
const embedsAscii = new Set(["SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "GB18030", "UHC", "JOHAB"]);

/** How text of PostgreSQL encoding `encoding` (the archive's `SET client_encoding`) reads; refused when COPY text in it cannot be taken apart by bytes. */
export function copyTextOf(encoding: string, label: string): TextOfBytes {
  const text = embedsAscii.has(encoding) ? undefined : textOfBytes(encoding);
  if (!text) {
    throw new PgVaultError("SystemErrorUnexpected", `${label} was dumped in encoding ${encoding}, whose text pgvault cannot read back; restore the point to a database instead.`);
  }
  return text;
}

/** A decoder of COPY text in PostgreSQL encoding `encoding` into rows of text. */
export function copyTextDecoder(encoding: string, label: string): CopyTextDecoder {
  return new CopyTextDecoder(copyTextOf(encoding, label), label);
}
