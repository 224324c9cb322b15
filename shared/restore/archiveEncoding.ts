/**
 * pg_restore prints an archive's SQL in the encoding of the database it was dumped from, and says which in its
 * opening `SET client_encoding = '<name>';` (pg_backup_archiver.c `_doSetFixedOutputState`). Names outside ASCII
 * must be read in that encoding, or the grants built from them name objects and roles that do not exist.
 */
import { PgVaultError } from "../errors";

/**
 * PostgreSQL's server encodings ("Character Set Support", https://www.postgresql.org/docs/current/multibyte.html)
 * under the labels of the WHATWG Encoding Standard that Node's TextDecoder takes.
 */
const decoderLabels: Record<string, string> = {
  UTF8: "utf-8",
  // No encoding at all: its bytes reach a UTF8 target unconverted, where the server takes them as UTF-8.
  SQL_ASCII: "utf-8",
  LATIN2: "iso-8859-2", LATIN3: "iso-8859-3", LATIN4: "iso-8859-4", LATIN5: "iso-8859-9", LATIN6: "iso-8859-10",
  LATIN7: "iso-8859-13", LATIN8: "iso-8859-14", LATIN9: "iso-8859-15", LATIN10: "iso-8859-16",
  ISO_8859_5: "iso-8859-5", ISO_8859_6: "iso-8859-6", ISO_8859_7: "iso-8859-7", ISO_8859_8: "iso-8859-8",
  WIN866: "ibm866", WIN874: "windows-874", WIN1250: "windows-1250", WIN1251: "windows-1251", WIN1252: "windows-1252",
  WIN1253: "windows-1253", WIN1254: "windows-1254", WIN1255: "windows-1255", WIN1256: "windows-1256",
  WIN1257: "windows-1257", WIN1258: "windows-1258", KOI8R: "koi8-r", KOI8U: "koi8-u",
  EUC_JP: "euc-jp", EUC_KR: "euc-kr", SJIS: "shift_jis", GBK: "gbk", GB18030: "gb18030", BIG5: "big5",
};

const declared = /^SET client_encoding = '([A-Z0-9_]+)';$/m;

/** The encoding a `SET client_encoding = '<name>';` line in `text` declares (pg_restore's output, the ENCODING entry); UTF8 without one. */
export function declaredEncoding(text: string): string {
  return declared.exec(text)?.[1] ?? "UTF8";
}

/** Reads bytes of `buffer` from `start` to `end` as text. */
export type TextOfBytes = (buffer: Buffer, start: number, end: number) => string;

/**
 * The reader of text in PostgreSQL encoding `encoding`, or undefined when Node has none for it. LATIN1 is read byte
 * for byte: WHATWG reads the label as windows-1252, which differs in 0x80-0x9F.
 */
export function textOfBytes(encoding: string): TextOfBytes | undefined {
  if (encoding === "LATIN1") return (buffer, start, end) => buffer.toString("latin1", start, end);
  const label = decoderLabels[encoding];
  if (label === "utf-8") return (buffer, start, end) => buffer.toString("utf8", start, end);
  if (!label) return undefined;
  const decoder = new TextDecoder(label);
  return (buffer, start, end) => decoder.decode(buffer.subarray(start, end));
}

/** The text of what pg_restore printed for the archive at `label`, read in the encoding it declares. */
export function decodeArchiveText(printed: Buffer, label: string): string {
  // The declaration is ASCII in every server encoding, so it can be found before the encoding is known.
  const encoding = declaredEncoding(printed.toString("latin1"));
  const read = textOfBytes(encoding);
  if (read) return read(printed, 0, printed.length);
  if (printed.every((byte) => byte < 0x80)) return printed.toString("ascii");
  throw new PgVaultError("SystemErrorUnexpected", `${label} was dumped from a database in encoding ${encoding}, whose names pgvault cannot read to restore its grants.`);
}
