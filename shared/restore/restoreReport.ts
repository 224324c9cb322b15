/**
 * What a restore left out for want of a role, grouped by role (how many statements, and one of them), and the
 * report kept small: it travels in a step's result (stored in the durable history) and in one column of the job
 * row (Azure Table storage holds at most 64 KiB per property, "Understanding the Table service data model",
 * https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
 */
import type { DatabaseMapping, ObjectLeftOut, RestoreReport, SkippedForRole, SkippedRole } from "../domain";

/** Entries each list of a report holds at most (the roles with the most statements left out first). */
export const reportListLimit = 100;
/** The report as JSON stays under this many characters (UTF-16, as the Table service counts), whatever the names. */
const reportCharsLimit = 24_000;
/** An example statement, or a reason, is cut to this many characters. */
const exampleCharsLimit = 200;

/** Statements left out, counted per role as they are met. */
export class SkippedStatements {
  private readonly byRole = new Map<string, { count: number; example: string }>();

  add(role: string, statement: string): void {
    const seen = this.byRole.get(role);
    if (seen) seen.count++;
    else this.byRole.set(role, { count: 1, example: shortened(statement) });
  }

  /** Per role, most statements first (then by name), for the restored database as the target names it. */
  list(database: string): SkippedForRole[] {
    return [...this.byRole]
      .map(([role, { count, example }]) => ({ role, database, count, example }))
      .sort((a, b) => b.count - a.count || a.role.localeCompare(b.role));
  }
}

function shortened(statement: string): string {
  const flat = statement.replace(/\s+/g, " ").trim();
  return flat.length <= exampleCharsLimit ? flat : `${flat.slice(0, exampleCharsLimit - 1)}…`;
}

type ListName = keyof NonNullable<RestoreReport["omitted"]>;
const listNames: ListName[] = ["databases", "rolesCreated", "rolesSkipped", "grantsSkipped", "ownershipSkipped", "objectsLeftOut"];

/**
 * The report with each list cut to `reportListLimit` entries and, if it is still too long as JSON, cut further
 * from the end of the longest list; `omitted` says how many entries each list lost. Lists are expected in order
 * of importance (SkippedStatements.list: most statements first).
 */
export function boundedReport(report: RestoreReport): RestoreReport {
  const lists: Record<ListName, (string | DatabaseMapping | SkippedRole | SkippedForRole | ObjectLeftOut)[]> = {
    databases: (report.databases ?? []).slice(0, reportListLimit),
    rolesCreated: report.rolesCreated.slice(0, reportListLimit),
    rolesSkipped: report.rolesSkipped.slice(0, reportListLimit).map((entry) => ({ ...entry, reason: shortened(entry.reason) })),
    grantsSkipped: report.grantsSkipped.slice(0, reportListLimit).map((entry) => ({ ...entry, example: shortened(entry.example) })),
    ownershipSkipped: report.ownershipSkipped.slice(0, reportListLimit).map((entry) => ({ ...entry, example: shortened(entry.example) })),
    objectsLeftOut: (report.objectsLeftOut ?? []).slice(0, reportListLimit).map((entry) => ({ ...entry, object: shortened(entry.object), needs: entry.needs.slice(0, 5).map(shortened) })),
  };
  const build = (): RestoreReport => {
    const omitted: NonNullable<RestoreReport["omitted"]> = {};
    for (const name of listNames) {
      const lost = (report[name]?.length ?? 0) - lists[name].length + (report.omitted?.[name] ?? 0);
      if (lost > 0) omitted[name] = lost;
    }
    return {
      ...report,
      ...(report.databases ? { databases: lists.databases as DatabaseMapping[] } : {}),
      rolesCreated: lists.rolesCreated as string[],
      rolesSkipped: lists.rolesSkipped as SkippedRole[],
      grantsSkipped: lists.grantsSkipped as SkippedForRole[],
      ownershipSkipped: lists.ownershipSkipped as SkippedForRole[],
      ...(report.objectsLeftOut ? { objectsLeftOut: lists.objectsLeftOut as ObjectLeftOut[] } : {}),
      ...(Object.keys(omitted).length > 0 ? { omitted } : {}),
    };
  };
  let bounded = build();
  while (JSON.stringify(bounded).length > reportCharsLimit) {
    const longest = listNames.reduce((a, b) => (lists[b].length > lists[a].length ? b : a));
    if (lists[longest].length === 0) break;
    lists[longest] = lists[longest].slice(0, -Math.max(1, Math.floor(lists[longest].length / 10)));
    bounded = build();
  }
  return bounded;
}
