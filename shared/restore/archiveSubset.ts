/**
 * A subset of a pg_dump archive to restore (`include`), chosen on its table of contents rather than with
 * `pg_restore -t` (which restores a table without its indexes, triggers or policies): the list of entries pg_restore
 * is then given with `--use-list`. Each chosen table comes with what belongs to it, and what it needs comes along.
 *
 * What is read, both from the archive's head only (no table data is read):
 * - `pg_restore --list`: every entry, in archive order, with its type, schema, name and owner;
 * - `pg_restore --verbose` printing the pre-data and post-data sections: before each entry's SQL a header
 *   `-- TOC entry <id> ...`, `-- Dependencies: <ids>` and `-- Name: <tag>; Type: <type>; Schema: <ns>; Owner: <owner>`
 *   (src/bin/pg_dump/pg_backup_archiver.c `_printTocEntry`, pg_dump 15 to 17). The dependencies are pg_dump's own:
 *   an index, constraint, trigger, policy, comment or grant depends on its table; a foreign key also on the key it
 *   references; a trigger on its function; a column default on its sequence.
 *
 * The choice:
 * - the named tables (and views, materialized views, foreign tables), and every entry in a named schema;
 * - each entry that belongs to a chosen one (`belongsKinds`: indexes, constraints, triggers, rules, policies, row
 *   security, defaults, owned and identity sequences, comments, grants, security labels, statistics), found through
 *   its dependencies;
 * - what those need that is not data of its own (`neededKinds`: schemas, functions, types, sequences, collations,
 *   extensions...), pulled in with what they need in turn;
 * - the data of each chosen table and the value of each chosen sequence (data entries carry no dependencies in the
 *   printed output: they are matched by type, schema, name and owner in the listing);
 * - an entry that needs a table (or anything else not pulled in) that is not chosen is left out and reported, e.g.
 *   a foreign key to a table left out. Large objects are not part of any table and are never in a subset.
 *
 * Entries are listed in archive order: pg_restore reading the archive from a pipe (it is streamed, never stored)
 * must meet the data in the order it was written. Verified with pg_restore 15: a use-list in archive order restores
 * from stdin; one in another order fails.
 */
import type { ObjectLeftOut, RestoreInclude } from "../domain";
import { PgVaultError, someOf } from "../errors";
import { parseIdentifier, parseQualifiedName, sqlName, type QualifiedName } from "./restoreNames";

/** One entry of the table of contents, as the verbose output's header describes it. */
interface TocEntry {
  id: number;
  type: string;
  /** `-` for objects that are in no schema. */
  schema: string;
  name: string;
  owner: string;
  dependencies: number[];
}

/** One line of `pg_restore --list`: its id and the rest after the catalog and object ids (type, schema, tag, owner). */
interface ListingLine {
  id: number;
  line: string;
  rest: string;
}

export interface SubsetPlan {
  /** The `--use-list` file's contents: the chosen lines of the listing, in archive order. */
  useList: string;
  /** Tables (and view-like relations) restored, as the archive names them. */
  tables: QualifiedName[];
  /** The schemas the restored objects are in (`-` excluded). */
  schemas: string[];
  objectsLeftOut: Omit<ObjectLeftOut, "database">[];
}

/** Relations a request may name under `include.tables`. */
const tableKinds = ["TABLE", "VIEW", "MATERIALIZED VIEW", "FOREIGN TABLE"];

/** Entries that belong to the object they depend on: chosen with it. */
const belongsKinds = new Set([
  "INDEX", "INDEX ATTACH", "CONSTRAINT", "FK CONSTRAINT", "CHECK CONSTRAINT", "TRIGGER", "RULE", "POLICY", "ROW SECURITY", "DEFAULT",
  "SEQUENCE", "SEQUENCE OWNED BY", "COMMENT", "ACL", "SECURITY LABEL", "STATISTICS", "MATERIALIZED VIEW DATA",
]);

/** What a chosen entry may need that holds no rows of its own: pulled in rather than leaving the entry out. */
const neededKinds = new Set([
  "SCHEMA", "FUNCTION", "PROCEDURE", "AGGREGATE", "TYPE", "SHELL TYPE", "DOMAIN", "SEQUENCE", "COLLATION", "EXTENSION", "OPERATOR",
  "OPERATOR CLASS", "OPERATOR FAMILY", "CONVERSION", "PROCEDURAL LANGUAGE", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
  "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
]);

/** What a schema carries of its own. */
const schemaAttached = new Set(["ACL", "COMMENT", "SECURITY LABEL"]);

/** Entries whose tag starts with their table's name. */
const tableTagged = new Set(["CONSTRAINT", "FK CONSTRAINT", "CHECK CONSTRAINT", "TRIGGER", "RULE", "POLICY", "DEFAULT"]);

/** Data entries, by the kind of entry whose data they are. */
const dataOf: Record<string, string> = { TABLE: "TABLE DATA", SEQUENCE: "SEQUENCE SET" };

/** What pg_restore is asked to print for the headers (no database: SQL on stdout). */
export const tocHeaderArgs = ["--verbose", "--section=pre-data", "--section=post-data", "--file=-"];

const header = /^-- Name: (.*); Type: ([A-Z][A-Z ]*); Schema: (.*?); Owner: (.*)$/;

/** The entries of the verbose output's headers. */
export function parseTocHeaders(printed: string): TocEntry[] {
  const entries: TocEntry[] = [];
  let current: { id: number; dependencies: number[] } | undefined;
  for (const line of printed.split("\n")) {
    const toc = /^-- TOC entry (\d+) \(class \d+ OID \d+\)$/.exec(line);
    if (toc) {
      current = { id: Number(toc[1]), dependencies: [] };
      continue;
    }
    if (!current) continue;
    const deps = /^-- Dependencies: ([\d ]+)$/.exec(line);
    if (deps) {
      current.dependencies = deps[1]!.trim().split(/\s+/).map(Number);
      continue;
    }
    const named = header.exec(line);
    if (named) {
      entries.push({ ...current, name: named[1]!, type: named[2]!, schema: named[3]!, owner: named[4]! });
      current = undefined;
    }
  }
  return entries;
}

/** The entries of `pg_restore --list`, in archive order. */
export function parseListing(listing: string): ListingLine[] {
  return listing.split("\n").flatMap((line) => {
    const match = /^(\d+); \d+ \d+ (.*)$/.exec(line.trimStart());
    return match ? [{ id: Number(match[1]), line, rest: match[2]! }] : [];
  });
}

const described = (entry: TocEntry) => `${entry.type} ${entry.schema === "-" ? "" : `${entry.schema}.`}${entry.name}`;

/** The names of `include` the archive does not hold, as the request wrote them. */
function unknownNames(entries: readonly TocEntry[], include: RestoreInclude): string[] {
  const schemas = new Set(entries.flatMap((e) => (e.type === "SCHEMA" ? [e.name] : e.schema === "-" ? [] : [e.schema])));
  const unknown = (include.schemas ?? []).filter((text) => !schemas.has(parseIdentifier(text) ?? ""));
  for (const text of include.tables ?? []) {
    const wanted = parseQualifiedName(text);
    if (!wanted || !entries.some((e) => isTable(e, wanted))) unknown.push(text);
  }
  return unknown;
}

const isTable = (entry: TocEntry, wanted: QualifiedName) => tableKinds.includes(entry.type) && entry.schema === wanted.schema && entry.name === wanted.name;

/**
 * The use-list restoring `include` of the archive whose listing and verbose headers are given. A name the archive
 * does not hold is refused (`UserErrorDBNotFound`, 422 from the API: no code of SPEC section 9 names a missing
 * table, and this one says "the database object you named is not there"; docs/troubleshooting.md).
 */
export function planSubset(listing: string, printed: string, include: RestoreInclude, pointLabel: string): SubsetPlan {
  const entries = parseTocHeaders(printed);
  const unknown = unknownNames(entries, include);
  if (unknown.length > 0) throw unknownNamesError(unknown, pointLabel);
  const byId = new Map(entries.map((e) => [e.id, e]));
  const schemas = new Set((include.schemas ?? []).map((text) => parseIdentifier(text)!));
  const tables = (include.tables ?? []).map((text) => parseQualifiedName(text)!);
  const roots = new Set(entries.filter((e) => schemas.has(e.schema) || (e.type === "SCHEMA" && schemas.has(e.name)) || tables.some((t) => isTable(e, t))).map((e) => e.id));

  const chosen = new Set<number>();
  // A schema pulled in for a table brings its own grants and comment (the table's users need its USAGE), not its
  // other objects; a schema asked for brings everything in it.
  const anchored = (e: TocEntry) =>
    belongsKinds.has(e.type) && e.dependencies.some((d) => chosen.has(d) && (byId.get(d)?.type !== "SCHEMA" || roots.has(d) || aboutSchema(e)));
  const aboutSchema = (e: TocEntry) => schemaAttached.has(e.type) && e.dependencies.every((d) => byId.get(d)?.type === "SCHEMA");
  const candidate = (e: TocEntry) => roots.has(e.id) || anchored(e);
  /** Whether `e`'s dependencies are chosen or can be pulled in (collected in `pull`, with theirs). */
  const resolvable = (e: TocEntry, pull: Set<number>): boolean =>
    e.dependencies.every((d) => {
      const dep = byId.get(d);
      if (!dep || chosen.has(d) || pull.has(d)) return true; // an id with no header is data, or pg_dump's own boundary
      if (!neededKinds.has(dep.type) && !roots.has(d)) return false;
      pull.add(d);
      return resolvable(dep, pull);
    });
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of entries) {
      if (chosen.has(e.id) || !candidate(e)) continue;
      const pull = new Set<number>();
      if (!resolvable(e, pull)) continue;
      for (const id of [e.id, ...pull]) chosen.add(id);
      changed = true;
    }
  }

  // Reported: what was asked for, or belongs to a restored table (a foreign key of another table to one restored is not).
  // Constraints, triggers, policies, rules and defaults are tagged `<table> <name>`: that table is theirs.
  const onRestoredTable = (e: TocEntry) =>
    e.dependencies.some((d) => {
      const dep = byId.get(d)!;
      if (!chosen.has(d) || !tableKinds.includes(dep.type)) return false;
      return !tableTagged.has(e.type) || (dep.schema === e.schema && e.name.startsWith(`${dep.name} `));
    });
  const objectsLeftOut = entries
    .filter((e) => !chosen.has(e.id) && (roots.has(e.id) || (anchored(e) && onRestoredTable(e))))
    .map((e) => ({ object: described(e), needs: e.dependencies.filter((d) => !chosen.has(d) && byId.has(d)).map((d) => described(byId.get(d)!)) }));
  const lines = parseListing(listing);
  const dataLines = new Set<string>();
  for (const id of chosen) {
    const e = byId.get(id)!;
    const kind = dataOf[e.type];
    if (kind) dataLines.add(`${kind} ${e.schema} ${e.name} ${e.owner}`);
  }
  const useList = lines.filter((l) => chosen.has(l.id) || dataLines.has(l.rest)).map((l) => l.line);
  const restored = entries.filter((e) => chosen.has(e.id));
  return {
    useList: `${useList.join("\n")}\n`,
    tables: restored.filter((e) => tableKinds.includes(e.type)).map((e) => ({ schema: e.schema, name: e.name })),
    schemas: [...new Set(restored.flatMap((e) => (e.schema === "-" ? (e.type === "SCHEMA" ? [e.name] : []) : [e.schema])))],
    objectsLeftOut,
  };
}

/**
 * The names of `include` that `pg_restore --list` shows the archive lacks, for a quick refusal before a job starts.
 * The listing does not quote names, so this only ever errs towards accepting (a name with spaces may match another
 * object's line); never refuses a name the archive holds. The job decides exactly (`planSubset`).
 */
export function namesMissingFromListing(listing: string, include: RestoreInclude): string[] {
  const rests = parseListing(listing).map((line) => line.rest);
  const has = (kinds: string[], schema: string, name: string) => rests.some((rest) => kinds.some((kind) => rest.startsWith(`${kind} ${schema} ${name} `)));
  const missing = (include.schemas ?? []).filter((text) => {
    const schema = parseIdentifier(text);
    return schema === undefined || (!has(["SCHEMA"], "-", schema) && !rests.some((rest) => rest.includes(` ${schema} `)));
  });
  for (const text of include.tables ?? []) {
    const table = parseQualifiedName(text);
    if (!table || !has(tableKinds, table.schema, table.name)) missing.push(text);
  }
  return missing;
}

/** The refusal of names `include` gave that the point does not hold. */
export function unknownNamesError(unknown: readonly string[], pointLabel: string): PgVaultError {
  return new PgVaultError("UserErrorDBNotFound", `${pointLabel} holds no ${someOf(unknown.map((name) => `'${name}'`), 20, ", ")} (include names tables as schema.table, schemas by name).`, {
    recommendedAction:
      "Name tables as schema.table (double-quote names with capitals or special characters) as they were at backup time; find the points that hold a table with the recovery-point search, or restore the point as files and run pg_restore --list on it.",
  });
}

/** `schema.table` as SQL writes it. */
export const tableName = (table: QualifiedName) => sqlName(table.schema, table.name);
