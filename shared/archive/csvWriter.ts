/**
 * Rows as CSV (RFC 4180, https://www.rfc-editor.org/rfc/rfc4180): comma-separated fields, records ended by CRLF, a
 * field quoted when it holds a comma, a double quote, CR or LF, quotes inside doubled. NULL is an empty unquoted
 * field and the empty string an empty quoted one (`""`), as PostgreSQL's own `COPY ... (FORMAT csv)` writes them, so
 * the two stay apart. Values are PostgreSQL's text output as COPY gave them (bytea as `\x...`, arrays as `{...}`).
 */
import { PgVaultError } from "../errors";
import { leadingIdentifier } from "../restore/restoreNames";
import type { TextOfBytes } from "../restore/archiveEncoding";
import type { CopyField, CopyFieldSink } from "./copyText";

const needsQuotes = /[",\r\n]/;

function csvField(field: CopyField): string {
  if (field === null) return "";
  if (field === "") return '""';
  return needsQuotes.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}

/** One CSV record, CRLF included. */
export function csvRecord(fields: readonly CopyField[]): string {
  let record = "";
  for (let i = 0; i < fields.length; i++) record += i === 0 ? csvField(fields[i]!) : `,${csvField(fields[i]!)}`;
  return `${record}\r\n`;
}

/**
 * The columns of a TABLE DATA entry's COPY statement, as pg_dump writes it (`COPY s.t (a, "B c") FROM stdin;`,
 * pg_dump.c `dumpTableData`; a table without columns has no list: `COPY s.t  FROM stdin;`), names as stored.
 * Undefined when the statement is not of that shape.
 */
export function copyColumns(copyStmt: string): string[] | undefined {
  let rest = copyStmt.startsWith("COPY ") ? copyStmt.slice(5) : undefined;
  // The table: two identifiers (the entry itself names it; only skipped here).
  for (let part = 0; part < 2 && rest !== undefined; part++) {
    rest = leadingIdentifier(rest)?.rest;
    if (part === 0) rest = rest?.startsWith(".") ? rest.slice(1) : undefined;
  }
  if (rest === undefined) return undefined;
  if (/^ {1,2}FROM stdin;\s*$/.test(rest)) return [];
  if (!rest.startsWith(" (")) return undefined;
  rest = rest.slice(2);
  const columns: string[] = [];
  for (;;) {
    const column = leadingIdentifier(rest);
    if (!column) return undefined;
    columns.push(column.identifier);
    rest = column.rest;
    if (rest.startsWith(", ")) rest = rest.slice(2);
    else return /^\) FROM stdin;\s*$/.test(rest) ? columns : undefined;
  }
}

const quote = 0x22;
const comma = 0x2c;
const cr = 0x0d;
const lf = 0x0a;
const crlf = Buffer.from("\r\n");

/**
 * A table's CSV as UTF-8 bytes, straight from the COPY fields (a CopyFieldSink): the header first (`columns`), then
 * each row, which must have one field per column (anything else is not the table's data). Bytes of a UTF8 database
 * are copied as they are (the server only stores valid UTF-8); any other encoding's are read as text first.
 * `take` hands over what was written so far.
 */
export class CsvWriter implements CopyFieldSink {
  rows = 0;
  private out: Buffer;
  private length = 0;
  private fieldsInRow = 0;
  /** A table without columns: COPY writes an empty line per row, which reads as one empty field. */
  private emptyLine = false;

  constructor(
    private readonly columns: readonly string[],
    /** Undefined for a UTF8 database: its bytes are the CSV's. */
    private readonly text: TextOfBytes | undefined,
    private readonly label: string,
    private readonly chunkBytes = 256 * 1024,
  ) {
    this.out = Buffer.allocUnsafe(chunkBytes * 2);
    this.writeText(csvRecord(columns));
  }

  /** Bytes written since the last `take`. */
  get pendingBytes(): number {
    return this.length;
  }

  take(): Buffer {
    const written = this.out.subarray(0, this.length);
    this.out = Buffer.allocUnsafe(Math.max(this.chunkBytes * 2, this.out.length));
    this.length = 0;
    return written;
  }

  field(buffer: Buffer, start: number, end: number): void {
    if (this.columns.length === 0) {
      this.emptyLine = this.fieldsInRow === 0 && start === end;
      this.fieldsInRow++;
      return;
    }
    if (this.fieldsInRow++ > 0) this.put(comma);
    if (start === end) {
      this.room(2);
      this.out[this.length++] = quote;
      this.out[this.length++] = quote;
    } else if (this.text) {
      this.writeText(csvField(this.text(buffer, start, end)));
    } else {
      this.writeBytes(buffer, start, end);
    }
  }

  nullField(): void {
    if (this.fieldsInRow++ > 0 && this.columns.length > 0) this.put(comma);
  }

  endRow(): void {
    const width = this.columns.length === 0 && this.fieldsInRow === 1 && this.emptyLine ? 0 : this.fieldsInRow;
    if (width !== this.columns.length) {
      throw new PgVaultError("UserErrorRecoveryPointCorrupted", `Row ${this.rows + 1} of ${this.label} in the archive has ${width} fields for ${this.columns.length} columns.`);
    }
    this.room(2);
    this.length += crlf.copy(this.out, this.length);
    this.rows++;
    this.fieldsInRow = 0;
  }

  /** UTF-8 bytes of a non-empty value, quoted (quotes doubled) when they hold a quote, comma, CR or LF. */
  private writeBytes(buffer: Buffer, start: number, end: number): void {
    // Copied while looked at (most values need no quotes); written again, quoted, if one byte says so.
    this.room(2 * (end - start) + 2);
    const out = this.out;
    let at = this.length;
    let i = start;
    for (; i < end; i++) {
      const byte = buffer[i]!;
      if (byte === quote || byte === comma || byte === cr || byte === lf) break;
      out[at++] = byte;
    }
    if (i === end) {
      this.length = at;
      return;
    }
    at = this.length;
    out[at++] = quote;
    for (i = start; i < end; i++) {
      const byte = buffer[i]!;
      if (byte === quote) out[at++] = quote;
      out[at++] = byte;
    }
    out[at++] = quote;
    this.length = at;
  }

  private writeText(text: string): void {
    this.room(text.length * 3);
    this.length += this.out.write(text, this.length, "utf8");
  }

  private put(byte: number): void {
    this.room(1);
    this.out[this.length++] = byte;
  }

  /** Makes room for `bytes` more; a single value larger than the buffer grows it. */
  private room(bytes: number): void {
    if (this.length + bytes <= this.out.length) return;
    const larger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.length + bytes));
    this.out.copy(larger, 0, 0, this.length);
    this.out = larger;
  }
}
