/**
 * Which summaries the nightly reconciliation counts again (shared/catalog/summaryRepair.ts): missing ones, those
 * whose job counts of yesterday and today disagree with the index's jobs, and a seventh of the fleet each night.
 */
import { describe, expect, test } from "vitest";
import type { StoredSummary } from "../../shared/catalog/instanceSummaries";
import { nameShard } from "../../shared/catalog/nameShard";
import { checkedFrom, recountCycleNights, summariesDue } from "../../shared/catalog/summaryRepair";
import type { Job } from "../../shared/domain";

const now = new Date("2026-12-07T02:30:00Z");
const job = (instanceName: string, startTime: string, status: Job["status"]): Job =>
  ({ id: `${instanceName}-${startTime}`, instanceName, startTime, status, operation: "Backup", trigger: "Scheduled", phase: "Done", bytes: 0 }) as Job;
const summary = (instanceName: string, days: StoredSummary["days"]): StoredSummary => ({
  instanceName,
  countedAt: "2026-12-07T01:00:00Z",
  recoveryPoints: { count: 3, bytes: 30 },
  lastBackup: null,
  newestAvailable: null,
  days,
});
/** Names that are not due on `night` by their shard. */
const offNight = (night: number) => Array.from({ length: 40 }, (_, i) => `db-${i}`).filter((n) => nameShard(n, recountCycleNights) !== night);
const tonight = Math.floor(now.getTime() / 86_400_000) % recountCycleNights;

describe("summaries due for a recount", () => {
  test("the check compares jobs from midnight UTC yesterday", () => {
    expect(checkedFrom(now)).toBe("2026-12-06T00:00:00Z");
  });

  test("when summaries agree with the jobs of yesterday and today, then only their night's share is due", () => {
    const [a, b] = offNight(tonight);
    const jobs = [job(a!, "2026-12-06T03:00:00Z", "Succeeded"), job(a!, "2026-12-07T02:00:00Z", "InProgress"), job(b!, "2026-12-06T05:00:00Z", "Failed")];
    const summaries = new Map([
      // Older days and zero counts do not matter: only yesterday and today are compared.
      [a!, summary(a!, { "2026-11-20": { Failed: 4 }, "2026-12-06": { Succeeded: 1, Failed: 0 }, "2026-12-07": { InProgress: 1 } })],
      [b!, summary(b!, { "2026-12-06": { Failed: 1 } })],
    ]);
    expect(summariesDue([a!, b!], summaries, jobs, now)).toEqual(new Map());
  });

  test("when a summary is missing, or its counts of yesterday or today differ from the jobs, then it is due, with why", () => {
    const [a, b, c, d] = offNight(tonight);
    const noStart = { ...job(b!, "x", "Queued"), startTime: undefined } as unknown as Job; // a partial row: skipped
    const jobs = [job(b!, "2026-12-07T02:00:00Z", "Succeeded"), job(c!, "2026-12-06T00:00:00Z", "Failed"), job(d!, "2026-12-05T23:59:59Z", "Failed"), noStart];
    const summaries = new Map([
      [b!, summary(b!, { "2026-12-07": { InProgress: 1 } })], // the refresh after it finished failed
      [c!, summary(c!, {})], // counted before the job started
      [d!, summary(d!, {})], // its job started before the compared days: not seen
    ]);
    expect(summariesDue([a!, b!, c!, d!], summaries, jobs, now)).toEqual(new Map([[a!, "missing"], [b!, "jobsDisagree"], [c!, "jobsDisagree"]]));
  });

  test("when a summary was counted before it held the newest Available point, then it is due as outdated, whatever its night", () => {
    const [a] = offNight(tonight);
    const { newestAvailable: _newest, ...before } = summary(a!, {});
    expect(summariesDue([a!], new Map([[a!, before]]), [], now)).toEqual(new Map([[a!, "outdated"]]));
  });

  test("over seven nights in a row, every agreeing summary is due exactly once, and each night takes a share", () => {
    const names = Array.from({ length: 700 }, (_, i) => `fleet-db-${i}`);
    const summaries = new Map(names.map((n) => [n, summary(n, {})]));
    const timesDue = new Map<string, number>();
    const perNight: number[] = [];
    for (let night = 0; night < recountCycleNights; night++) {
      const at = new Date(now.getTime() + night * 86_400_000);
      const due = summariesDue(names, summaries, [], at);
      perNight.push(due.size);
      for (const [n, why] of due) {
        expect(why).toBe("weekly");
        timesDue.set(n, (timesDue.get(n) ?? 0) + 1);
      }
    }
    expect([...timesDue.values()].every((n) => n === 1)).toBe(true);
    expect(timesDue.size).toBe(names.length);
    for (const n of perNight) expect(n).toBeGreaterThan(50);
  });
});
