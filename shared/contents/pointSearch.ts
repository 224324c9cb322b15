/**
 * "Which recovery point has this table?": walks an instance's points newest first and answers from each point's
 * contents record (the rows of every table, counted in the dump's own snapshot), so no dump is read. A point whose
 * record cannot be read is listed as unknown with the reason, never left out: hiding it could hide the one point
 * that has the table. Unknown are points of an encrypting policy (their record is sealed with the point's data
 * key; the search does not unwrap a key per point, and table names are data), points taken before pgvault wrote
 * records, Flexible Server points (the server's files carry none), and records that are missing or fail their
 * checks. `Deleted` points are left out: their data, record included, is gone.
 *
 * Bounded work: at most `searchConcurrency` records are read at a time, and a page stops reading once it has
 * `top` points and knows whether more follow (it reads on until the next listed point, or the end).
 */
import type { RecoveryPoint } from "../domain";
import { PgVaultError } from "../errors";
import { scanInOrder } from "../orderedScan";
import type { QualifiedName } from "../postgres/qualifiedName";
import { readContentsRecord } from "./contentsRecord";
import { totalRows, type TableRows } from "./databaseContents";

export type PointSearch = { table: QualifiedName } | { schema: string };

export type UnknownReason = "encrypted" | "notRecorded" | "flexibleServer" | "unreadable";

/** What a listed point says about the table or schema searched for. */
export type PointMatch =
  | { known: true; schema: string; name: string; rows: number }
  | { known: true; schema: string; tables: number; rows: number }
  | { known: false; reason: UnknownReason; message: string };

export type MatchedPoint = RecoveryPoint & { match: PointMatch };

export interface SearchPage {
  value: MatchedPoint[];
  /** Set when another point is to be listed: the id of the point just before it (the next page looks at older ones). */
  resumeAfter?: string;
}

/** Contents records read at once: enough to hide storage latency, few enough for memory (a record names every table). */
export const searchConcurrency = 8;

const unknown = (reason: UnknownReason, message: string): PointMatch => ({ known: false, reason, message });

/** The match of one record's tables; undefined when the point does not have what is searched for. */
function matchIn(tables: readonly TableRows[], search: PointSearch): PointMatch | undefined {
  if ("table" in search) {
    const found = tables.find((t) => t.schema === search.table.schema && t.name === search.table.name);
    return found && { known: true, schema: found.schema, name: found.name, rows: found.rows };
  }
  const inSchema = tables.filter((t) => t.schema === search.schema);
  if (inSchema.length === 0) return undefined;
  return { known: true, schema: search.schema, tables: inSchema.length, rows: totalRows(inSchema) };
}

async function matchOf(rp: RecoveryPoint, search: PointSearch): Promise<PointMatch | undefined> {
  if (rp.format === "flexibleServer-ltr") return unknown("flexibleServer", "A Flexible Server recovery point has no contents record (the server's backup files carry none).");
  if (rp.encryption) return unknown("encrypted", "The point's contents record is encrypted with the point's data key; the search does not decrypt it.");
  if (!rp.contents) return unknown("notRecorded", "The point was taken before pgvault recorded the contents of a backup.");
  try {
    const record = await readContentsRecord({ ...rp, contents: rp.contents });
    return matchIn(record.tables, search);
  } catch (err) {
    // A damaged or missing record is this point's problem, not the search's; storage being unavailable is not.
    if (err instanceof PgVaultError && err.code === "UserErrorRecoveryPointCorrupted") return unknown("unreadable", err.detail);
    throw err;
  }
}

/**
 * One page of the points (given newest first) that have what `search` names, or may have it. `after`: the
 * `resumeAfter` of the previous page; only older points are examined.
 */
export async function searchRecoveryPoints(points: readonly RecoveryPoint[], search: PointSearch, top: number, after?: string): Promise<SearchPage> {
  const candidates = points.filter((rp) => rp.status !== "Deleted" && (after === undefined || rp.id < after));
  const value: MatchedPoint[] = [];
  let resumeAfter: string | undefined;
  await scanInOrder(
    candidates,
    searchConcurrency,
    (rp) => matchOf(rp, search),
    (match, index) => {
      if (!match) return "more";
      if (value.length === top) {
        // One more would be listed: the next page starts with it.
        resumeAfter = candidates[index - 1]!.id;
        return "enough";
      }
      value.push({ ...candidates[index]!, match });
      return "more";
    },
  );
  return resumeAfter === undefined ? { value } : { value, resumeAfter };
}
