/**
 * GET /api/reports/compliance (issue 26) on a catalog seeded through the catalog's own writes in Azurite: a small
 * period whose figures were worked out by hand (in the comments), and a year of a Berlin schedule with failures,
 * outages, deleted, soft-deleted and half-recorded points and drills, checked against a brute-force computation
 * written here (minute by minute), not the report's own code. Then the CSV form, validation and negotiation.
 */
import { HttpRequest, type HttpResponseInit } from "@azure/functions";
import { beforeAll, describe, expect, test } from "vitest";
import { complianceReportHandler } from "../../functions/reports";
import { putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import { updateJob } from "../../shared/catalog/jobRows";
import type { BackupInstance, BackupPolicy, DumpRecoveryPoint, Job, RecoveryPoint } from "../../shared/domain";
import { handled } from "../../shared/http";
import type { InstanceCompliance } from "../../shared/reports/complianceFigures";
import type { ComplianceReport } from "../../shared/reports/complianceReport";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { nextSlot } from "../../shared/time/schedule";
import { parseCsvStrict } from "../support/csvParse";
import { bodyOf, invocation } from "../support/http";
import { SeededRandom } from "../support/seededRandom";
import { uniqueName } from "../support/testDatabase";

const name = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");
const minute = 60_000;
const day = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

let counter = 0;
function point(instanceName: string, time: string, fields: Partial<DumpRecoveryPoint> = {}): RecoveryPoint {
  counter += 1;
  return {
    id: recoveryPointId(new Date(time), counter.toString(16).padStart(8, "0")),
    instanceName,
    time,
    tag: "Default",
    expiresAt: "2036-01-01T00:00:00Z",
    status: "Available",
    sizeBytes: 1024,
    blobs: [],
    format: "pg_dump-custom",
    sha256: "0".repeat(64),
    serverVersion: "16.4",
    toolVersion: "16.4",
    ...fields,
  };
}

function job(instanceName: string, operation: Job["operation"], status: Job["status"], startTime: string): Job {
  counter += 1;
  return { id: `${instanceName}-job-${counter}`, operation, trigger: "Scheduled", instanceName, status, startTime, endTime: iso(Date.parse(startTime) + minute), phase: "Done", bytes: 0 };
}

function policy(policyName: string, schedule: BackupPolicy["schedule"], extra: Partial<BackupPolicy> = {}): BackupPolicy {
  return { name: policyName, datasourceType: "database", schedule, retention: { default: { duration: "P30D" }, rules: [] }, ...extra };
}

function instance(instanceName: string, policyName: string, createdAt: string, database = "sales"): BackupInstance {
  return {
    name: instanceName,
    policyName,
    datasource: { type: "database", host: "pg.example.com", port: 5432, database, secretRef: "env:PGVAULT_SECRET_SALES" },
    protectionState: "ProtectionConfigured",
    createdAt,
  };
}

async function inBatches<T>(items: readonly T[], size: number, write: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(write));
}

const seedJobs = (jobs: readonly Job[]) => inBatches(jobs, 20, ({ id, ...fields }) => updateJob(id, fields));
// One at a time: each write refreshes the instance's summary, which concurrent writes would make retry.
const seedPoints = (points: readonly RecoveryPoint[]) => inBatches(points, 1, putRecoveryPoint);

function get(query: string, headers: Record<string, string> = {}): Promise<HttpResponseInit> {
  const request = new HttpRequest({ method: "GET", url: `http://127.0.0.1:7071/api/reports/compliance?${query}`, headers });
  return handled(complianceReportHandler)(request, invocation("complianceReport"));
}

async function rowOf(instanceName: string, from: string, to: string): Promise<InstanceCompliance> {
  const response = await get(`from=${from}&to=${to}&instanceName=${instanceName}`);
  expect(response.status).toBe(200);
  const report = bodyOf<ComplianceReport>(response);
  expect(report.value.map((row) => row.instanceName)).toEqual([instanceName]);
  return report.value[0]!;
}

// The small case: ten days of a daily 02:00 UTC schedule, RPO derived: 24 h + PT1H grace = PT25H.
const small = { policy: name("cr-daily"), instance: name("cr-small"), late: name("cr-late"), unborn: name("cr-unborn"), orphan: name("cr-orphan") };
const smallFrom = "2026-03-01T00:00:00Z";
const smallTo = "2026-03-11T00:00:00Z";

async function seedSmall(): Promise<void> {
  await putPolicy(policy(small.policy, { repeatingIntervals: ["R/2026-01-01T02:00:00Z/P1D"], timeZone: "UTC" }));
  await putInstance(instance(small.instance, small.policy, "2026-02-20T00:00:00Z"));
  await putInstance(instance(small.late, small.policy, "2026-03-06T12:00:00Z"));
  await putInstance(instance(small.unborn, small.policy, "2026-04-01T00:00:00Z"));
  await putInstance(instance(small.orphan, name("cr-no-such-policy"), "2026-01-01T00:00:00Z"));
  const n = small.instance;
  await seedJobs([
    job(n, "Backup", "Succeeded", "2026-02-28T02:00:00Z"), // before the period
    job(n, "Backup", "Succeeded", smallFrom), // at `from`: counts
    ...["01", "02", "05", "06", "07", "09", "10"].map((d) => job(n, "Backup", "Succeeded", `2026-03-${d}T02:00:00Z`)),
    job(n, "Backup", "Failed", "2026-03-03T02:00:00Z"),
    job(n, "Backup", "Failed", "2026-03-04T02:00:00Z"),
    job(n, "Backup", "Cancelled", "2026-03-08T02:00:00Z"),
    job(n, "Verify", "Succeeded", "2026-03-05T12:00:00Z"),
    job(n, "Verify", "Failed", "2026-03-09T12:00:00Z"),
    job(n, "Verify", "Cancelled", "2026-03-10T12:00:00Z"),
    job(n, "Restore", "Succeeded", "2026-03-06T13:00:00Z"),
    job(n, "Backup", "Succeeded", smallTo), // at `to`: does not count
  ]);
  await seedPoints([
    point(n, "2026-02-28T02:00:00Z"),
    point(n, "2026-03-01T02:00:05Z"),
    point(n, "2026-03-02T02:00:05Z"),
    // Mar 3 and 4 failed. Mar 5's immutability has expired.
    point(n, "2026-03-05T02:00:05Z", { immutableUntil: "2026-04-01T00:00:00Z", immutabilityMode: "Unlocked" }),
    point(n, "2026-03-06T02:00:05Z", { status: "Deleted", deletionStartedAt: "2026-03-06T12:00:00Z" }),
    point(n, "2026-03-07T02:00:05Z", { status: "SoftDeleted", softDeletedAt: "2026-03-07T09:00:00Z", purgeAfter: "2036-01-01T00:00:00Z" }),
    point(n, "2026-03-08T02:00:05Z", { recording: { jobId: "cancelled" } }),
    point(n, "2026-03-09T02:00:05Z", { immutableUntil: "2036-01-01T00:00:00Z", immutabilityMode: "Locked" }),
    point(n, "2026-03-10T02:00:05Z", { immutableUntil: "2036-01-01T00:00:00Z", immutabilityMode: "Unlocked" }),
  ]);
}

// The year: Berlin, daily 02:30 and 03:00 (both at 03:00 CEST on 2026-03-29) and Sundays 03:00 (one instant with
// the daily 03:00), an explicit RPO of P1D (24 h on the UTC calendar).
const year = { policy: name("cr-berlin"), instance: name("cr-year") };
const yearFrom = "2025-12-01T00:00:00Z";
const yearTo = "2026-12-01T00:00:00Z";
const yearSchedule = { repeatingIntervals: ["R/2025-11-01T02:30:00/P1D", "R/2025-11-01T03:00:00/P1D", "R/2025-11-02T03:00:00/P1W"], timeZone: "Europe/Berlin" };
/** No job at all: a stopped scheduler. */
const outages = [
  ["2026-02-10T00:00:00Z", "2026-02-15T00:00:00Z"],
  ["2026-08-01T12:00:00Z", "2026-08-03T00:00:00Z"],
].map(([from, to]) => [Date.parse(from!), Date.parse(to!)] as const);
const yearJobs: Job[] = [];
const yearPoints: RecoveryPoint[] = [];

function slotsOf(schedule: BackupPolicy["schedule"], from: number, to: number): number[] {
  const slots: number[] = [];
  for (let at = nextSlot(schedule, new Date(from - 1)); at && at.getTime() < to; at = nextSlot(schedule, at)) slots.push(at.getTime());
  return slots;
}

async function seedYear(): Promise<void> {
  const random = new SeededRandom(2026);
  const n = year.instance;
  await putPolicy(policy(year.policy, yearSchedule, { rpo: "P1D" }));
  await putInstance(instance(n, year.policy, "2025-11-15T00:00:00Z"));
  for (const slot of slotsOf(yearSchedule, Date.parse("2025-11-20T00:00:00Z"), Date.parse(yearTo))) {
    if (outages.some(([from, to]) => slot >= from && slot < to)) continue;
    if (random.int(0, 99) < 8) {
      yearJobs.push(job(n, "Backup", "Failed", iso(slot)));
      continue;
    }
    yearJobs.push(job(n, "Backup", "Succeeded", iso(slot)));
    const time = slot + random.int(1, 30) * minute;
    const kind = random.int(0, 99);
    const later = (atMost: number) => iso(time + random.int(1, atMost) * minute);
    if (kind < 5) yearPoints.push(point(n, iso(time), { status: "Deleted", deletionStartedAt: later(2000) }));
    else if (kind < 8) yearPoints.push(point(n, iso(time), { status: "Deleted", expiresAt: later(3000) })); // deleted before deletionStartedAt existed
    else if (kind < 10) yearPoints.push(point(n, iso(time), { status: "SoftDeleted", softDeletedAt: later(100), purgeAfter: "2036-01-01T00:00:00Z" }));
    else if (kind < 12) yearPoints.push(point(n, iso(time), { recording: { jobId: "stuck" } }));
    else if (kind < 14) yearPoints.push(point(n, iso(time), { deletionStartedAt: later(1000) })); // retention's claim, data half gone
    else if (kind < 30) yearPoints.push(point(n, iso(time), { immutableUntil: random.int(0, 1) ? "2036-01-01T00:00:00Z" : "2026-01-15T00:00:00Z", immutabilityMode: random.int(0, 1) ? "Locked" : "Unlocked" }));
    else yearPoints.push(point(n, iso(time)));
  }
  for (let sunday = Date.parse("2025-11-23T12:00:00Z"); sunday < Date.parse(yearTo); sunday += 7 * day) {
    yearJobs.push(job(n, "Verify", random.pick(["Succeeded", "Succeeded", "Failed", "Cancelled"] as const), iso(sunday)));
    if (random.int(0, 9) === 0) yearJobs.push(job(n, "Restore", "Succeeded", iso(sunday + 3_600_000)));
  }
  await seedJobs(yearJobs);
  await seedPoints(yearPoints);
}

/** The report's figures for the year, computed here from the seeded data by brute force. */
function expectedYear(now: number): Omit<InstanceCompliance, "instanceName" | "datasourceType" | "datasource" | "protectionState" | "policyName"> {
  const [start, end] = [Date.parse(yearFrom), Date.parse(yearTo)];
  const until = (rp: RecoveryPoint) =>
    rp.deletionStartedAt ? Date.parse(rp.deletionStartedAt) : rp.status === "Deleted" ? Date.parse(rp.purgeAfter ?? rp.expiresAt) : Infinity;
  const counted = yearPoints.filter((rp) => !rp.recording && until(rp) > Date.parse(rp.time));
  // Every time seeded is a whole minute: a minute is within RPO when some point covers it.
  const minutes = new Uint8Array((end - start) / minute);
  for (const rp of counted) {
    const [from, to] = [Date.parse(rp.time), Math.min(until(rp), Date.parse(rp.time) + day)];
    for (let m = Math.max(0, (from - start) / minute); m < minutes.length && start + m * minute < to; m++) minutes[m] = 1;
  }
  const covered = minutes.reduce((sum, bit) => sum + bit, 0);
  const marks = [start, ...counted.map((rp) => Date.parse(rp.time)).filter((t) => t > start && t < end).sort((a, b) => a - b), end];
  let gap = [start, start];
  for (let i = 1; i < marks.length; i++) if (marks[i]! - marks[i - 1]! > gap[1]! - gap[0]!) gap = [marks[i - 1]!, marks[i]!];
  const inPeriod = yearJobs.filter((j) => Date.parse(j.startTime) >= start && Date.parse(j.startTime) < end);
  const jobsOf = (operation: Job["operation"], ...statuses: Job["status"][]) => inPeriod.filter((j) => j.operation === operation && statuses.includes(j.status)).length;
  const restorable = counted.filter((rp) => until(rp) === Infinity).map((rp) => rp.time).sort();
  const immutable = counted.filter((rp) => until(rp) === Infinity && rp.immutableUntil && Date.parse(rp.immutableUntil) > now);
  return {
    rpo: "P1D",
    rpoDerived: false,
    evaluatedFrom: yearFrom,
    withinRpoShare: Math.round((covered / minutes.length) * 10_000) / 10_000,
    withinRpoSeconds: covered * 60,
    scheduledSlots: slotsOf(yearSchedule, start, end).length,
    backupsTaken: jobsOf("Backup", "Succeeded"),
    backupsFailed: jobsOf("Backup", "Failed"),
    longestGap: { from: iso(gap[0]!), to: iso(gap[1]!), seconds: (gap[1]! - gap[0]!) / 1000 },
    drillsRun: jobsOf("Verify", "Succeeded", "Failed"),
    drillsPassed: jobsOf("Verify", "Succeeded"),
    restorablePoints: restorable.length,
    oldestRestorablePoint: restorable[0] ?? null,
    newestRestorablePoint: restorable.at(-1) ?? null,
    immutability: {
      state: immutable.length === restorable.length ? "Immutable" : immutable.length ? "PartlyImmutable" : "NotImmutable",
      immutablePoints: immutable.length,
      lockedPoints: immutable.filter((rp) => rp.immutabilityMode === "Locked").length,
    },
  };
}

beforeAll(async () => {
  await Promise.all([seedSmall(), seedYear()]);
}, 300_000);

describe("figures", () => {
  test("when ten days with two failed backups, a deleted, a soft-deleted and a half-recorded point are reported, then every figure is the hand-computed one", async () => {
    expect(await rowOf(small.instance, smallFrom, smallTo)).toEqual({
      instanceName: small.instance,
      datasourceType: "database",
      datasource: "pg.example.com/sales",
      protectionState: "ProtectionConfigured",
      policyName: small.policy,
      rpo: "PT25H",
      rpoDerived: true,
      evaluatedFrom: smallFrom,
      // Within RPO (points cover time .. time + 25 h, until deleted): Mar 1 00:00 - Mar 3 03:00:05 (Feb 28's point
      // first), Mar 5 02:00:05 - Mar 6 12:00:00 (Mar 6's point deleted at 12:00), Mar 7 02:00:05 - Mar 8
      // 03:00:05 (Mar 8's point never recorded), Mar 9 02:00:05 - Mar 11 00:00 = 51:00:05 + 33:59:55 + 25:00:00 +
      // 45:59:55 = 155:59:55 of 240 h.
      withinRpoSeconds: 561_595,
      withinRpoShare: 0.65, // 561,595 / 864,000 = 0.649994
      scheduledSlots: 10,
      backupsTaken: 8, // the one at `from` and seven at 02:00; not Feb 28's, not the one at `to`
      backupsFailed: 2,
      longestGap: { from: "2026-03-02T02:00:05Z", to: "2026-03-05T02:00:05Z", seconds: 3 * 86_400 },
      drillsRun: 2, // the cancelled one did not run to an end
      drillsPassed: 1,
      restorablePoints: 7, // not the Deleted one, nor the half-recorded one
      oldestRestorablePoint: "2026-02-28T02:00:00Z",
      newestRestorablePoint: "2026-03-10T02:00:05Z",
      immutability: { state: "PartlyImmutable", immutablePoints: 2, lockedPoints: 1 },
    });
  });

  test("when an instance was created mid-period with no backup yet, then its figures start at its creation", async () => {
    const row = await rowOf(small.late, smallFrom, smallTo);
    expect(row).toMatchObject({
      evaluatedFrom: "2026-03-06T12:00:00Z",
      withinRpoSeconds: 0,
      withinRpoShare: 0,
      scheduledSlots: 4, // Mar 7, 8, 9, 10 at 02:00
      backupsTaken: 0,
      longestGap: { from: "2026-03-06T12:00:00Z", to: smallTo, seconds: 4.5 * 86_400 },
      restorablePoints: 0,
      oldestRestorablePoint: null,
      newestRestorablePoint: null,
      immutability: { state: "NoPoints", immutablePoints: 0, lockedPoints: 0 },
    });
  });

  test("when an instance was created after the period, or its policy is missing, then the figures that need them are null", async () => {
    expect(await rowOf(small.unborn, smallFrom, smallTo)).toMatchObject({ evaluatedFrom: null, withinRpoShare: null, withinRpoSeconds: null, scheduledSlots: 0, longestGap: null, rpo: "PT25H" });
    expect(await rowOf(small.orphan, smallFrom, smallTo)).toMatchObject({ evaluatedFrom: smallFrom, rpo: null, rpoDerived: null, withinRpoShare: null, scheduledSlots: null });
  });

  test("when a seeded year is reported, then every figure equals the brute-force computation", async () => {
    const row = await rowOf(year.instance, yearFrom, yearTo);
    const expected = expectedYear(Date.now());
    // The seed really has what the figures must get right.
    expect(expected.backupsFailed).toBeGreaterThan(20);
    expect(expected.longestGap!.seconds).toBeGreaterThan(5 * 86_400); // the February outage
    expect(expected.withinRpoShare).toBeGreaterThan(0.8);
    expect(expected.withinRpoShare).toBeLessThan(0.99);
    expect(expected.immutability.state).toBe("PartlyImmutable");
    expect(row).toEqual({ instanceName: year.instance, datasourceType: "database", datasource: "pg.example.com/sales", protectionState: "ProtectionConfigured", policyName: year.policy, ...expected });
  });

  test("when no instance is named, then every instance is listed in name order, ours among them with the figures they have alone", async () => {
    const response = await get(`from=${smallFrom}&to=${smallTo}`);
    const rows = bodyOf<ComplianceReport>(response).value;
    const names = rows.map((row) => row.instanceName);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    expect(names).toEqual(expect.arrayContaining([small.instance, small.late, small.unborn, small.orphan, year.instance]));
    // Instances of one policy share its terms (policyTerms), but not their start.
    for (const alone of [small.instance, small.late, small.unborn]) {
      expect(rows.find((row) => row.instanceName === alone)).toEqual(await rowOf(alone, smallFrom, smallTo));
    }
  });
});

describe("CSV", () => {
  const columns = [
    "periodFrom", "periodTo", "instanceName", "datasourceType", "datasource", "protectionState", "policyName", "rpo", "rpoDerived",
    "evaluatedFrom", "withinRpoShare", "withinRpoSeconds", "scheduledSlots", "backupsTaken", "backupsFailed", "longestGapSeconds",
    "longestGapFrom", "longestGapTo", "drillsRun", "drillsPassed", "restorablePoints", "oldestRestorablePoint", "newestRestorablePoint",
    "immutability", "immutablePoints", "lockedPoints",
  ];
  const quirky = name("cr-quirky");

  beforeAll(async () => {
    await putInstance(instance(quirky, small.policy, "2026-02-01T00:00:00Z", 'sales,"eu"\r\nwest'));
  });

  async function csv(instanceName: string, accept = "text/csv"): Promise<{ response: HttpResponseInit; records: (string | null)[][] }> {
    const response = await get(`from=${smallFrom}&to=${smallTo}&instanceName=${instanceName}`, { accept });
    expect(response.status).toBe(200);
    return { response, records: parseCsvStrict(String(response.body), "\r\n") };
  }

  test("when CSV is asked for, then it is a header record and one record per instance with the JSON's values, CRLF-ended", async () => {
    const { response, records } = await csv(small.instance);
    expect(new Headers(response.headers as Record<string, string>).get("content-type")).toBe("text/csv; charset=utf-8; header=present");
    expect(new Headers(response.headers as Record<string, string>).get("content-disposition")).toBe('attachment; filename="compliance-2026-03-01T000000Z-2026-03-11T000000Z.csv"');
    expect(records).toHaveLength(2);
    expect(records[0]).toEqual(columns);
    const json = await rowOf(small.instance, smallFrom, smallTo);
    expect(Object.fromEntries(columns.map((column, i) => [column, records[1]![i]]))).toEqual({
      periodFrom: smallFrom,
      periodTo: smallTo,
      instanceName: json.instanceName,
      datasourceType: "database",
      datasource: "pg.example.com/sales",
      protectionState: "ProtectionConfigured",
      policyName: small.policy,
      rpo: "PT25H",
      rpoDerived: "true",
      evaluatedFrom: smallFrom,
      withinRpoShare: "0.65",
      withinRpoSeconds: "561595",
      scheduledSlots: "10",
      backupsTaken: "8",
      backupsFailed: "2",
      longestGapSeconds: "259200",
      longestGapFrom: "2026-03-02T02:00:05Z",
      longestGapTo: "2026-03-05T02:00:05Z",
      drillsRun: "2",
      drillsPassed: "1",
      restorablePoints: "7",
      oldestRestorablePoint: "2026-02-28T02:00:00Z",
      newestRestorablePoint: "2026-03-10T02:00:05Z",
      immutability: "PartlyImmutable",
      immutablePoints: "2",
      lockedPoints: "1",
    });
  });

  test("when a value holds a comma, quotes and a line break, then it is quoted with its quotes doubled; a null is an empty field", async () => {
    const { response, records } = await csv(quirky);
    expect(String(response.body)).toContain('"pg.example.com/sales,""eu""\r\nwest"');
    expect(records[1]![columns.indexOf("datasource")]).toBe('pg.example.com/sales,"eu"\r\nwest');
    const unborn = await csv(small.unborn);
    expect(unborn.records[1]![columns.indexOf("evaluatedFrom")]).toBeNull();
    expect(unborn.records[1]![columns.indexOf("longestGapSeconds")]).toBeNull();
    expect(String(unborn.response.body).split("\r\n")[1]).toContain(",PT25H,true,,,,0,");
  });
});

describe("negotiation", () => {
  const query = `from=${smallFrom}&to=${smallTo}&instanceName=${small.instance}`;
  const typeOf = (response: HttpResponseInit) => new Headers(response.headers as Record<string, string>).get("content-type");

  test.each([
    [undefined, "application/json; charset=utf-8"],
    ["*/*", "application/json; charset=utf-8"],
    ["application/json;q=0.4, text/csv;q=0.9", "text/csv; charset=utf-8; header=present"],
    ["text/*", "text/csv; charset=utf-8; header=present"],
    ["text/csv;q=0.5, application/*;q=0.6", "application/json; charset=utf-8"],
  ])("when Accept is %j, then the answer is %s and says it varies by Accept", async (accept, type) => {
    const response = await get(query, accept === undefined ? {} : { accept });
    expect(response.status).toBe(200);
    expect(typeOf(response)).toBe(type);
    expect(new Headers(response.headers as Record<string, string>).get("vary")).toBe("Accept");
  });

  test("when Accept allows neither JSON nor CSV, then the answer is JSON (the header disregarded, as RFC 9110 allows; the spec has no 406 code)", async () => {
    const response = await get(query, { accept: "text/html, application/xml;q=0.9, text/csv;q=0" });
    expect(response.status).toBe(200);
    expect(typeOf(response)).toBe("application/json; charset=utf-8");
  });
});

describe("validation", () => {
  const future = iso(Date.now() + 30 * day);
  test.each([
    ["", ["from", "to"]],
    [`from=${smallFrom}`, ["to"]],
    [`to=${smallTo}`, ["from"]],
    [`from=2026-03-01&to=${smallTo}`, ["from"]],
    [`from=${smallFrom}&to=2026-03-11T00:00:00`, ["to"]],
    [`from=${smallTo}&to=${smallFrom}`, ["to"]],
    [`from=${smallFrom}&to=${smallFrom}`, ["to"]],
    ["from=2025-01-01T00:00:00Z&to=2026-02-05T00:00:01Z", ["to"]], // 400 days and a second
    [`from=${future}&to=${iso(Date.now() + 31 * day)}`, ["from"]],
    [`from=${smallFrom}&to=${smallTo}&instanceName=Not_A_Name`, ["instanceName"]],
  ])("when the query is %j, then 400 InvalidRequest names %j", async (query, paths) => {
    const response = await get(query);
    expect(response.status).toBe(400);
    const error = bodyOf<{ error: { code: string; details: { path: string }[] } }>(response).error;
    expect(error.code).toBe("InvalidRequest");
    expect(error.details.map((d) => d.path)).toEqual(paths);
  });

  test("when the period is exactly 400 days, then it is reported", async () => {
    expect((await get(`from=2025-01-01T00:00:00Z&to=2026-02-05T00:00:00Z&instanceName=${small.instance}`)).status).toBe(200);
  });

  test("when the period ends in the future, then it is reported up to now; an unknown instance is a 404", async () => {
    const before = Date.now();
    const response = await get(`from=${smallFrom}&to=${future}&instanceName=${small.instance}`);
    expect(response.status).toBe(200);
    const report = bodyOf<ComplianceReport>(response);
    expect(report.period.to).toBe(report.generatedAt);
    expect(Date.parse(report.period.to)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    const missing = await get(`from=${smallFrom}&to=${smallTo}&instanceName=${name("cr-missing")}`);
    expect(missing.status).toBe(404);
    expect(bodyOf<{ error: { code: string } }>(missing).error.code).toBe("NotFound");
  });
});
