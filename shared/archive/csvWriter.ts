/**
 * Rows as CSV (RFC 4180, https://www.rfc-editor.org/rfc/rfc4180): comma-separated fields, records ended by CRLF, a
 * field quoted when it holds a comma, a double quote, CR or LF, quotes inside doubled. NULL is an empty unquoted
 * field and the empty string an empty quoted one (`""`), as PostgreSQL's own `COPY ... (FORMAT csv)` writes them, so
 * the two stay apart. Values are PostgreSQL's text output as COPY gave them (bytea as `\x...`, arrays as `{...}`).
 */
import { PgVaultError } from "../errors";
import { leadingIdentifier } from "../restore/restoreNames";
import type { CopyField } from "./copyText";

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

/**
 * A table's CSV, a record at a time: the header first (`columns`), then each row, which must have one field per
 * column (anything else is not the table's data).
 */
export class CsvTable {
  rows = 0;

  constructor(
    private readonly columns: readonly string[],
    private readonly label: string,
  ) {}

  header(): string {
    return csvRecord(this.columns);
  }

  record(fields: readonly CopyField[]): string {
    // A table without columns: COPY writes an empty line per row, which reads as one empty field.
    const width = this.columns.length === 0 && fields.length === 1 && fields[0] === "" ? 0 : fields.length;
    if (width !== this.columns.length) {
      throw new PgVaultError("UserErrorRecoveryPointCorrupted", `Row ${this.rows + 1} of ${this.label} in the archive has ${width} fields for ${this.columns.length} columns.`);
    }
    this.rows++;
    return width === 0 ? "\r\n" : csvRecord(fields);
  }
}
