/** The restore report stays small enough for a step's result and one job row column, and says what it left off. */
import { describe, expect, test } from "vitest";
import type { RestoreReport } from "../../shared/domain";
import { boundedReport, reportListLimit, SkippedStatements } from "../../shared/restore/restoreReport";

function skippedFor(roles: number, nameLength = 8): SkippedStatements {
  const skipped = new SkippedStatements();
  for (let i = 0; i < roles; i++) {
    const role = `r${String(i).padStart(nameLength - 1, "0")}`;
    // Role i has i + 1 statements left out, so the order by count is known.
    for (let n = 0; n <= i; n++) skipped.add(role, `GRANT SELECT ON TABLE public.t${n}   TO ${role}`);
  }
  return skipped;
}

describe("the restore report", () => {
  test("when statements are left out, then they are counted per role, most first, with the first as the example", () => {
    const list = skippedFor(3).list("sales");
    expect(list).toEqual([
      { role: "r0000002", database: "sales", count: 3, example: "GRANT SELECT ON TABLE public.t0 TO r0000002" },
      { role: "r0000001", database: "sales", count: 2, example: "GRANT SELECT ON TABLE public.t0 TO r0000001" },
      { role: "r0000000", database: "sales", count: 1, example: "GRANT SELECT ON TABLE public.t0 TO r0000000" },
    ]);
  });

  test("when a list is longer than the limit, then it keeps the roles with the most statements and counts the rest as omitted", () => {
    const grantsSkipped = skippedFor(reportListLimit + 50).list("sales");
    const report = boundedReport({ rolesCreated: [], rolesSkipped: [], grantsSkipped, ownershipSkipped: [] });
    expect(report.grantsSkipped).toHaveLength(reportListLimit);
    expect(report.grantsSkipped[0]?.count).toBe(reportListLimit + 50);
    expect(report.omitted).toEqual({ grantsSkipped: 50 });
    expect(boundedReport(report).omitted).toEqual({ grantsSkipped: 50 }); // bounding again loses nothing more
  });

  test("when names are as long as PostgreSQL allows, then the whole report still fits one Table storage column, and says how much it left off", () => {
    const long = (i: number) => `${"n".repeat(58)}${String(i).padStart(5, "0")}`; // 63 bytes, NAMEDATALEN - 1
    const skipped = (i: number) => ({ role: long(i), database: long(0), count: 1, example: `ALTER TABLE "${long(i)}"."${long(i)}" OWNER TO "${long(i)}"`.repeat(2) });
    const full: RestoreReport = {
      rolesCreated: Array.from({ length: 300 }, (_, i) => long(i)),
      rolesSkipped: Array.from({ length: 300 }, (_, i) => ({ role: long(i), reason: "not in the roles file" })),
      grantsSkipped: Array.from({ length: 300 }, (_, i) => skipped(i)),
      ownershipSkipped: Array.from({ length: 300 }, (_, i) => skipped(i)),
    };
    const report = boundedReport(full);
    // 64 KiB per property, counted in UTF-16: 32K characters.
    expect(JSON.stringify(report).length).toBeLessThan(32_000);
    const kept = report.rolesCreated.length + report.rolesSkipped.length + report.grantsSkipped.length + report.ownershipSkipped.length;
    const omitted = Object.values(report.omitted ?? {}).reduce((a, b) => a + b, 0);
    expect(kept + omitted).toBe(1200);
    expect(report.grantsSkipped[0]?.example.length).toBeLessThanOrEqual(200);
  });
});
