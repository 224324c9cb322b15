/**
 * Where a CSV export puts each table: `<prefix><schema>.<table>.csv`. In each part the characters that would make
 * the name ambiguous or awkward are percent-encoded (their UTF-8 bytes as `%XX`): `%` itself, `.` (which separates
 * schema and table), `/` and `\` (folders), control characters, and `"*:<>?|` (not allowed in Windows file names,
 * where such files often go). Everything else, letters outside ASCII included, is kept, so `sales.orders.csv` and
 * `Ünïcødé Schéma.Größe "q" t.csv` become `sales.orders.csv` and `Ünïcødé Schéma.Größe %22q%22 t.csv`.
 */
import type { QualifiedName } from "./restoreNames";

const awkward = /[\u0000-\u001f\u007f%./\\"*:<>?|]/g;

function filePart(identifier: string): string {
  return identifier.replace(awkward, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

/** The blob name of `table`'s CSV under `folder` (the prefix, ending in `/` or empty). */
export function csvFileName(folder: string, table: QualifiedName): string {
  return `${folder}${filePart(table.schema)}.${filePart(table.name)}.csv`;
}
