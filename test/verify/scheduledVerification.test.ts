/**
 * Scheduled restore drills (a policy's `verification.interval`): when one is due, that it starts once per interval
 * under a deterministic id, also with racing ticks, and that a start lost between claim and start is made up for.
 * The scheduler tick runs against the real catalog in Azurite; the port records the starts. Ticks run years ahead of
 * the clock: a local host of another test file ticking meanwhile (real time) finds none of these drills due.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { changeRecoveryPoint, putInstance, putPolicy, putRecoveryPoint } from "../../shared/catalog/catalog";
import type { BackupInstance, BackupPolicy, DumpRecoveryPoint, LtrRecoveryPoint, RecoveryPoint } from "../../shared/domain";
import { recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";
import { parseDuration } from "../../shared/time/isoDuration";
import { decideVerification, scheduledVerifyJobId, type DueVerification } from "../../shared/scheduler/dueVerifications";
import { schedulerTick, type SchedulerPort } from "../../shared/scheduler/tick";
import { ValidationError } from "../../shared/errors";
import { parsePolicy } from "../../shared/validation/policy";
import { dayMs, storedRecoveryPoint } from "../support/retentionFixture";
import { uniqueName } from "../support/testDatabase";

const weekly = parseDuration("P7D")!;
const minute = 60_000;

const policy = (name: string, verification?: BackupPolicy["verification"]): BackupPolicy => ({
  name,
  datasourceType: "database",
  schedule: { repeatingIntervals: ["R/2026-01-01T02:30:00Z/P1D"], timeZone: "UTC" },
  retention: { default: { duration: "P30D" }, rules: [] },
  ...(verification ? { verification } : {}),
});

function recordingPort(options: { failStarts?: number } = {}): SchedulerPort & { drills: DueVerification[] } {
  const existing = new Set<string>();
  const drills: DueVerification[] = [];
  let failures = options.failStarts ?? 0;
  return {
    drills,
    async start(due) {
      existing.add(due.jobId);
    },
    async exists(jobId) {
      return existing.has(jobId);
    },
    async startVerification(due) {
      if (failures-- > 0) throw new Error("durable client unavailable");
      drills.push(due);
      existing.add(due.jobId);
    },
  };
}

let withDrills: string;
let withoutDrills: string;

beforeAll(async () => {
  withDrills = uniqueName("drill-weekly").replaceAll("_", "-");
  withoutDrills = uniqueName("no-drills").replaceAll("_", "-");
  await putPolicy(policy(withDrills, { interval: "P7D" }));
  await putPolicy(policy(withoutDrills));
});

/** A protected instance of `policyName` with one Available point taken a day before `now`. */
async function instanceWithPoint(policyName: string, now: Date): Promise<{ instance: BackupInstance; rp: DumpRecoveryPoint }> {
  const instance: BackupInstance = {
    name: uniqueName("sched-drill").replaceAll("_", "-"),
    policyName,
    datasource: { type: "database", host: "127.0.0.1", port: 5432, database: "sales", secretRef: "env:NONE" },
    protectionState: "ProtectionConfigured",
    createdAt: "2026-01-01T00:00:00Z",
  };
  await putInstance(instance);
  const rp = (await storedRecoveryPoint(instance.name, now, 1, 30, { writeBlob: false })) as DumpRecoveryPoint;
  return { instance, rp };
}

const drillsOf = (port: { drills: DueVerification[] }, instance: BackupInstance) => port.drills.filter((d) => d.instanceName === instance.name);

async function verified(rp: RecoveryPoint, at: Date): Promise<void> {
  await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => ({
    ...stored,
    verification: { verifiedAt: at.toISOString(), outcome: "Succeeded", jobId: "earlier", tablesChecked: 1, rowsChecked: 1, rowCountsRecorded: true },
  }) as DumpRecoveryPoint);
}

describe("when a drill is due", () => {
  const now = new Date("2026-06-10T12:00:00Z");
  const point = (id: string, time: string, extra: Partial<DumpRecoveryPoint> = {}): DumpRecoveryPoint => ({
    id, instanceName: "x", time, tag: "Default", expiresAt: "2026-12-01T00:00:00Z", status: "Available", sizeBytes: 1, sha256: "00",
    format: "pg_dump-custom", serverVersion: "15", toolVersion: "pg_dump 15", blobs: [], ...extra,
  });
  const older = point("rp-20260601T000000Z-00000001", "2026-06-01T00:00:00Z");
  const newer = point("rp-20260609T000000Z-00000002", "2026-06-09T00:00:00Z");

  test.each([
    ["without points, never", [], undefined, { due: false }],
    ["never verified, from the latest point on", [older, newer], undefined, { due: true, dueAt: new Date(newer.time), recoveryPoint: newer }],
    ["verified 8 days ago (on an older point), now", [{ ...older, verification: { verifiedAt: "2026-06-02T12:00:00Z", outcome: "Failed", jobId: "j", tablesChecked: 0, rowsChecked: 0, rowCountsRecorded: true } }, newer], undefined, { due: true, dueAt: new Date("2026-06-09T12:00:00Z"), recoveryPoint: newer }],
    ["verified 2 days ago, in 5 days", [older, { ...newer, verification: { verifiedAt: "2026-06-08T12:00:00Z", outcome: "Succeeded", jobId: "j", tablesChecked: 1, rowsChecked: 1, rowCountsRecorded: true } }], undefined, { due: false, nextCheckAt: new Date("2026-06-15T12:00:00Z") }],
    ["a drill claimed 3 days ago that recorded nothing, an interval after it", [older, newer], { lastDueAt: "2026-06-07T12:00:00Z" }, { due: false, nextCheckAt: new Date("2026-06-14T12:00:00Z") }],
    ["only a SoftDeleted point, never", [{ ...newer, status: "SoftDeleted" as const }], undefined, { due: false }],
  ] as const)("%s", (_what, rps, claim, expected) => {
    expect(decideVerification(weekly, rps as readonly RecoveryPoint[] as RecoveryPoint[], claim, now)).toEqual(expected);
  });
});

describe("the scheduler", () => {
  test("when an instance's drill is due, then it starts once with a deterministic id, and again only an interval after the last drill", async () => {
    const now = new Date("2031-07-01T10:00:00Z");
    const { instance, rp } = await instanceWithPoint(withDrills, now);
    const { instance: untouched } = await instanceWithPoint(withoutDrills, now);

    const first = recordingPort();
    await schedulerTick(now, first);
    expect(drillsOf(first, instance)).toEqual([
      { instanceName: instance.name, datasource: instance.datasource, recoveryPoint: expect.objectContaining({ id: rp.id }), dueAt: new Date(rp.time), jobId: scheduledVerifyJobId(instance.name, new Date(rp.time)) },
    ]);
    expect(drillsOf(first, instance)[0]!.jobId).toBe(`verify-scheduled-${instance.name}-${rp.time.replace(/[-:]/g, "").slice(0, 13)}Z`);
    expect(drillsOf(first, untouched)).toEqual([]);

    // The drill runs and records its verdict; ticks until an interval after it start nothing.
    const verdictAt = new Date(now.getTime() + 10 * minute);
    await verified(rp, verdictAt);
    for (const later of [5 * minute, dayMs, 7 * dayMs]) {
      const tick = recordingPort();
      await schedulerTick(new Date(now.getTime() + later), tick);
      expect(drillsOf(tick, instance)).toEqual([]);
    }
    const due = recordingPort();
    await schedulerTick(new Date(verdictAt.getTime() + 7 * dayMs + minute), due);
    expect(drillsOf(due, instance).map((d) => d.jobId)).toEqual([scheduledVerifyJobId(instance.name, new Date(verdictAt.getTime() + 7 * dayMs))]);
  });

  test("when a drill recorded nothing (it could not run), then the next one is due an interval after it, not at the next tick", async () => {
    const now = new Date("2031-08-01T10:00:00Z");
    const { instance, rp } = await instanceWithPoint(withDrills, now);
    await schedulerTick(now, recordingPort());
    const soon = recordingPort();
    await schedulerTick(new Date(now.getTime() + dayMs), soon);
    expect(drillsOf(soon, instance)).toEqual([]);
    const later = recordingPort();
    await schedulerTick(new Date(Date.parse(rp.time) + 7 * dayMs + minute), later);
    expect(drillsOf(later, instance).map((d) => d.jobId)).toEqual([scheduledVerifyJobId(instance.name, new Date(Date.parse(rp.time) + 7 * dayMs))]);
  });

  test("when a Flexible Server instance names a drill server, then its drill is due like any other, with the drill server; without one, never", async () => {
    const now = new Date("2031-11-01T10:00:00Z");
    const flexPolicy = uniqueName("flex-drills").replaceAll("_", "-");
    await putPolicy({
      name: flexPolicy,
      datasourceType: "flexibleServer",
      schedule: { repeatingIntervals: ["R/2026-01-04T03:00:00+00:00/P1W"], timeZone: "UTC" },
      retention: { default: { duration: "P12W" }, rules: [] },
      verification: { interval: "P7D" },
    });
    const drillServer = { host: "127.0.0.1", port: 5432, secretRef: "env:PGVAULT_SECRET_DRILL" };
    const flexInstance = async (verification?: typeof drillServer): Promise<{ instance: BackupInstance; rp: LtrRecoveryPoint }> => {
      const name = uniqueName("sched-flex").replaceAll("_", "-");
      const instance: BackupInstance = {
        name,
        policyName: flexPolicy,
        datasource: { type: "flexibleServer", resourceId: `/subscriptions/3f2b8c1e-7d4a-4e5b-9c6f-0a1b2c3d4e5f/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/${name}` },
        ...(verification ? { verification } : {}),
        protectionState: "ProtectionConfigured",
        createdAt: "2026-01-01T00:00:00Z",
      };
      await putInstance(instance);
      const time = new Date(now.getTime() - dayMs);
      const id = recoveryPointId(time, "5e5e5e5e");
      const container = `ltr-${id.slice(3).toLowerCase()}-0`;
      const rp: LtrRecoveryPoint = {
        id, instanceName: name, time: time.toISOString().replace(".000Z", "Z"), tag: "Default", expiresAt: "2032-03-01T00:00:00Z", status: "Available", sizeBytes: 1,
        blobs: [`${container}/sales_database.sql`], format: "flexibleServer-ltr", serverResourceId: instance.datasource.type === "flexibleServer" ? instance.datasource.resourceId : "",
        serverVersion: "16", containers: [container],
        ltr: { backupName: `pgvault-${id.toLowerCase()}`, datasourceSizeInBytes: 1, dataTransferredInBytes: 1, startTime: time.toISOString(), endTime: time.toISOString() },
      };
      await putRecoveryPoint(rp);
      return { instance, rp };
    };
    const { instance, rp } = await flexInstance(drillServer);
    const { instance: withoutDrillServer } = await flexInstance();

    const port = recordingPort();
    await schedulerTick(now, port);
    expect(drillsOf(port, instance)).toEqual([
      { instanceName: instance.name, datasource: instance.datasource, drillServer, recoveryPoint: expect.objectContaining({ id: rp.id }), dueAt: new Date(rp.time), jobId: scheduledVerifyJobId(instance.name, new Date(rp.time)) },
    ]);
    expect(drillsOf(port, withoutDrillServer)).toEqual([]);
  });

  test("when two ticks race, then the drill starts exactly once", async () => {
    const now = new Date("2031-09-01T10:00:00Z");
    const { instance } = await instanceWithPoint(withDrills, now);
    const [a, b] = [recordingPort(), recordingPort()];
    await Promise.all([schedulerTick(now, a), schedulerTick(now, b)]);
    expect([...drillsOf(a, instance), ...drillsOf(b, instance)]).toHaveLength(1);
  });

  test("when the start is lost after the claim, then a tick after the grace period starts it under the claimed id", async () => {
    const now = new Date("2031-10-01T10:00:00Z");
    const { instance, rp } = await instanceWithPoint(withDrills, now);
    // Other instances of the catalog may be due too: fail every start of this tick.
    const failing = recordingPort({ failStarts: 1_000_000 });
    const result = await schedulerTick(now, failing);
    expect(result.verifications?.failed).toBeGreaterThanOrEqual(1);
    const early = recordingPort();
    await schedulerTick(new Date(now.getTime() + minute), early);
    expect(drillsOf(early, instance)).toEqual([]);
    const recovering = recordingPort();
    const recovered = await schedulerTick(new Date(now.getTime() + 3 * minute), recovering);
    expect(drillsOf(recovering, instance).map((d) => d.jobId)).toEqual([scheduledVerifyJobId(instance.name, new Date(rp.time))]);
    expect(recovered.verifications?.recovered).toBeGreaterThanOrEqual(1);
  });
});

describe("the policy setting", () => {
  const body = (verification: unknown, datasourceType = "database") => {
    const { name: _name, ...fields } = policy("p");
    // A Flexible Server policy runs weekly at most (Azure's limit), so its schedule is a weekly one.
    const schedule = datasourceType === "flexibleServer" ? { ...fields.schedule, repeatingIntervals: ["R/2026-01-04T03:00:00+00:00/P1W"] } : fields.schedule;
    return { ...fields, schedule, datasourceType, verification };
  };
  const issues = (value: unknown) => {
    try {
      parsePolicy("p", value);
      return [];
    } catch (err) {
      return (err as ValidationError).issues;
    }
  };

  test("when verification.interval is P1D to P1Y, then it is kept", () => {
    for (const interval of ["P1D", "P7D", "P2W", "P1M", "P12M", "P1Y"]) expect(parsePolicy("p", body({ interval })).verification).toEqual({ interval });
    expect(parsePolicy("p", body(undefined))).not.toHaveProperty("verification");
  });

  test("when it is outside P1D..P1Y, malformed or unknown, then 400 on its path", () => {
    for (const interval of ["PT12H", "P0D", "P366D", "P13M", "P2Y", "7 days", ""]) expect(issues(body({ interval })).map((i) => i.path)).toEqual(["verification.interval"]);
    expect(issues(body({ interval: "P7D", at: "02:00" })).map((i) => i.path)).toEqual(["verification.at"]);
  });

  test("when a Flexible Server policy has it, then it is kept: its instances are drilled on their drill servers", () => {
    expect(parsePolicy("p", body({ interval: "P7D" }, "flexibleServer")).verification).toEqual({ interval: "P7D" });
    expect(issues(body({ interval: "PT12H" }, "flexibleServer")).map((i) => i.path)).toEqual(["verification.interval"]);
  });
});
