/**
 * Schema and table names as a DBA writes them in SQL (`sales.orders`, `"My Schema"."Order Lines"`), read as
 * PostgreSQL reads identifiers ("Identifiers and Key Words",
 * https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS): an unquoted name starts
 * with a letter (any non-ASCII character counts as one, as in the server's lexer) or `_`, goes on with those, digits
 * and `$`, and folds to lower case (ASCII letters only, as the server does for UTF-8 databases); a quoted name is
 * taken as written, `""` standing for one `"`. Strict: no spaces or comments around the parts, no `U&"..."`
 * escapes, and a name longer than the server's 63 bytes is refused rather than cut as the server would cut it.
 */

export interface QualifiedName {
  schema: string;
  name: string;
}

/** The parsed value, or why the text is not one (a message about the text, never repeating it). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** NAMEDATALEN - 1: the longest name, in bytes, PostgreSQL keeps. */
export const maxNameBytes = 63;

const unquotedStart = /[A-Za-z_\u0080-\uffff]/;
const unquotedPart = /[A-Za-z0-9_$\u0080-\uffff]/;

const foldCase = (word: string) => word.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** One identifier starting at `from`: its value and where it ends, or a problem. */
function identifier(text: string, from: number): Parsed<{ name: string; end: number }> {
  let name: string;
  let end: number;
  if (text[from] === '"') {
    name = "";
    end = -1;
    for (let i = from + 1; i < text.length; i++) {
      if (text[i] !== '"') {
        name += text[i];
      } else if (text[i + 1] === '"') {
        name += '"';
        i++;
      } else {
        end = i + 1;
        break;
      }
    }
    if (end < 0) return { ok: false, problem: "has a quoted name without its closing quote" };
    if (name === "") return { ok: false, problem: 'has an empty quoted name ("")' };
    if (name.includes("\u0000")) return { ok: false, problem: "has a name with a NUL character" };
  } else {
    if (from >= text.length || !unquotedStart.test(text[from]!)) {
      return { ok: false, problem: "must be a name: a letter or _ first, then letters, digits, _ or $; other names in double quotes" };
    }
    end = from + 1;
    while (end < text.length && unquotedPart.test(text[end]!)) end++;
    name = foldCase(text.slice(from, end));
  }
  if (Buffer.byteLength(name) > maxNameBytes) return { ok: false, problem: `has a name longer than ${maxNameBytes} bytes (PostgreSQL's limit)` };
  return { ok: true, value: { name, end } };
}

/** A schema name: one identifier. */
export function parseSchemaName(text: string): Parsed<string> {
  const first = identifier(text, 0);
  if (!first.ok) return first;
  if (first.value.end !== text.length) return { ok: false, problem: "must be one schema name (quote a name holding other characters)" };
  return { ok: true, value: first.value.name };
}

/** `schema.table`: two identifiers and the dot between them; the schema is required (no search path applies here). */
export function parseQualifiedName(text: string): Parsed<QualifiedName> {
  const schema = identifier(text, 0);
  if (!schema.ok) return schema;
  if (text[schema.value.end] !== ".") return { ok: false, problem: "must be schema.table (quote a name holding other characters)" };
  const table = identifier(text, schema.value.end + 1);
  if (!table.ok) return table;
  if (table.value.end !== text.length) return { ok: false, problem: "must be schema.table, nothing after the table's name" };
  return { ok: true, value: { schema: schema.value.name, name: table.value.name } };
}
