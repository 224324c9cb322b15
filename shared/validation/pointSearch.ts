/**
 * The query of a recovery point search: `GET .../recoveryPoints?table=<schema.table>` or `?schema=<name>`, with
 * `top` (1-1000, default 50) and the `skipToken` of a `nextLink`. Without `table` and `schema` the route is the
 * plain list (SPEC section 2), which takes no query at all: `top` or `skipToken` there is refused, not ignored.
 */
import type { PointSearch } from "../contents/pointSearch";
import { parseQualifiedName, parseSchemaName, type Parsed } from "../postgres/qualifiedName";
import { recoveryPointIdPattern } from "../recoveryPoints/recoveryPointId";
import { IssueCollector } from "./issues";

export interface PointSearchQuery {
  search: PointSearch;
  /** The filter as given (it is repeated in `nextLink`). */
  filter: { key: "table" | "schema"; text: string };
  top: number;
  /** Only points older than this id are examined. */
  skipToken?: string;
}

export const defaultSearchTop = 50;

/** One value of `key`, or undefined when absent; several values are an issue. */
function single(issues: IssueCollector, query: URLSearchParams, key: string): string | undefined {
  const values = query.getAll(key);
  if (values.length > 1) issues.add(key, "must be given once");
  return values[0];
}

function parsedOrIssue<T>(issues: IssueCollector, key: string, parsed: Parsed<T>): T | undefined {
  if (parsed.ok) return parsed.value;
  issues.add(key, parsed.problem);
  return undefined;
}

/** The search the query asks for; undefined for the plain list. Throws ValidationError (400) on a malformed query. */
export function parsePointSearchQuery(query: URLSearchParams): PointSearchQuery | undefined {
  const issues = new IssueCollector();
  const table = single(issues, query, "table");
  const schema = single(issues, query, "schema");
  const topText = single(issues, query, "top");
  const skipToken = single(issues, query, "skipToken");
  if (table === undefined && schema === undefined) {
    if (topText !== undefined) issues.add("top", "applies only to a search (table= or schema=); the plain list has no pages");
    if (skipToken !== undefined) issues.add("skipToken", "applies only to a search (table= or schema=)");
    issues.throwIfAny();
    return undefined;
  }
  if (table !== undefined && schema !== undefined) issues.add("schema", "cannot be combined with table: search for one or the other");
  let search: PointSearch | undefined;
  if (table !== undefined) {
    const name = parsedOrIssue(issues, "table", parseQualifiedName(table));
    if (name) search = { table: name };
  } else {
    const name = parsedOrIssue(issues, "schema", parseSchemaName(schema!));
    if (name !== undefined) search = { schema: name };
  }
  const top = issues.integer(topText === undefined ? undefined : /^\d{1,4}$/.test(topText) ? Number(topText) : Number.NaN, "top", 1, 1000, defaultSearchTop);
  if (skipToken !== undefined && !recoveryPointIdPattern.test(skipToken)) issues.add("skipToken", "is not a token from a nextLink");
  issues.throwIfAny();
  const filter = table !== undefined ? { key: "table" as const, text: table } : { key: "schema" as const, text: schema! };
  return { search: search!, filter, top: top!, ...(skipToken === undefined ? {} : { skipToken }) };
}
