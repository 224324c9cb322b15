/**
 * Names as a restore request writes them (`include.schemas`, `include.tables`, `intoSchema`): each part an SQL
 * identifier as PostgreSQL reads one ("Identifiers and Key Words",
 * https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS): unquoted, folded to lower
 * case; double-quoted, taken as written (`""` for a quote). The archive names objects as they are, so the request's
 * names are compared in that form.
 */

export interface QualifiedName {
  schema: string;
  name: string;
}

/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated by the server, so a request naming one is refused. */
const identifierBytesLimit = 63;
const unquoted = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/;

/**
 * The identifier `text` starts with, as the server stores it, and what follows it; undefined when it starts with
 * none (or one longer than the server keeps).
 */
export function leadingIdentifier(text: string): { identifier: string; rest: string } | undefined {
  let identifier: string;
  let length: number;
  if (text.startsWith('"')) {
    const end = /^"((?:[^"]|"")+)"/.exec(text);
    if (!end) return undefined;
    identifier = end[1]!.replaceAll('""', '"');
    length = end[0].length;
  } else {
    const word = unquoted.exec(text);
    if (!word) return undefined;
    identifier = word[0].toLowerCase();
    length = word[0].length;
  }
  if (Buffer.byteLength(identifier) > identifierBytesLimit || identifier.includes("\u0000")) return undefined;
  return { identifier, rest: text.slice(length) };
}

/** The identifiers of `text`, split at top-level dots; undefined when it is not a list of identifiers. */
function identifiers(text: string): string[] | undefined {
  const parts: string[] = [];
  let rest = text;
  for (;;) {
    const part = leadingIdentifier(rest);
    if (!part) return undefined;
    parts.push(part.identifier);
    rest = part.rest;
    if (rest === "") return parts;
    if (!rest.startsWith(".")) return undefined;
    rest = rest.slice(1);
  }
}

/** One identifier (`sales`, `"Sales Archive"`), as the server stores it; undefined when `text` is not one. */
export function parseIdentifier(text: string): string | undefined {
  const parts = identifiers(text);
  return parts?.length === 1 ? parts[0] : undefined;
}

/** `schema.table`, each part an identifier; undefined when `text` is not exactly that. */
export function parseQualifiedName(text: string): QualifiedName | undefined {
  const parts = identifiers(text);
  return parts?.length === 2 ? { schema: parts[0]!, name: parts[1]! } : undefined;
}

/** As SQL would write it, quoted where needed: for messages and for the SQL shown to a DBA. */
export function sqlName(...parts: string[]): string {
  return parts.map((part) => (/^[a-z_][a-z0-9_$]*$/.test(part) ? part : `"${part.replaceAll('"', '""')}"`)).join(".");
}
