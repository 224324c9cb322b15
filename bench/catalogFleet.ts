/**
 * The fleet bench/catalog.ts seeds: ten years of a vault's history, generated deterministically (a seeded PRNG), as
 * plain domain objects. No storage here.
 *
 * - Instances come and go: instance i is protected for a span of L days, the spans staggered evenly over the ten
 *   years, so that about `backups / 3650` databases (about 260 for 1,000,000 jobs) are backed up on any day. Those
 *   whose span reaches today are `ProtectionConfigured`, the others `ProtectionStopped`.
 * - Jobs: one scheduled backup per instance and day of its span (about 2% Failed), 3% on-demand restores and 2%
 *   scheduled restore drills (Verify) on random instance-days, one retention run (`*`) per day; the newest few
 *   backups of today are still InProgress or Queued.
 * - Recovery points: rows for each instance's newest successful backups (`points / instances` each), tagged
 *   Yearly/Monthly/Weekly/Default by day and expiring after 10 years/12 months/12 weeks/30 days; an expired one is
 *   `Deleted` (its row stays, as retention leaves it), except a protected instance's newest.
 */
import type { BackupInstance, BackupPolicy, DumpRecoveryPoint, Job, RetentionTag } from "../shared/domain";
import { recoveryPointId } from "../shared/recoveryPoints/recoveryPointId";
import { isoSeconds } from "../shared/time/isoTime";

export const dayMs = 86_400_000;
const years = 10;
const days = 3650;

export interface FleetSize {
  jobs: number;
  instances: number;
  points: number;
}

export interface Fleet {
  now: Date;
  policies: BackupPolicy[];
  instances: BackupInstance[];
  jobs: Job[];
  points: DumpRecoveryPoint[];
  /** Days each instance is protected. */
  spanDays: number;
}

/** mulberry32: small, fast, and the same fleet every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");

/** Three daily policies (01:00, 02:00, 03:00 UTC), each keeping yearly points for ten years. */
function fleetPolicies(): BackupPolicy[] {
  return ["a", "b", "c"].map((suffix, i) => ({
    name: `fleet-daily-10y-${suffix}`,
    datasourceType: "database",
    schedule: { repeatingIntervals: [`R/2016-01-01T0${i + 1}:00:00/P1D`], timeZone: "UTC" },
    retention: {
      default: { duration: "P30D" },
      rules: [
        { tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" },
        { tag: "Monthly", criteria: "FirstOfMonth", duration: "P12M" },
        { tag: "Yearly", criteria: "FirstOfYear", duration: `P${years}Y` },
      ],
    },
  }));
}

const expiryDays: Record<RetentionTag, number> = { Yearly: days, Monthly: 365, Weekly: 84, Default: 30 };

function tagOf(time: Date): RetentionTag {
  if (time.getUTCMonth() === 0 && time.getUTCDate() === 1) return "Yearly";
  if (time.getUTCDate() === 1) return "Monthly";
  return time.getUTCDay() === 1 ? "Weekly" : "Default";
}

const failure = (code: "UserErrorServerUnreachable" | "SystemErrorStorageUnavailable") => ({
  code,
  message: code === "UserErrorServerUnreachable" ? "Could not connect to the database server (timeout)." : "The vault storage did not answer in time.",
  recommendedAction: "Check the server's firewall and that it is running; the next scheduled backup tries again.",
});

export function generateFleet(size: FleetSize, now: Date): Fleet {
  const rand = random(25);
  const hex8 = () => Math.floor(rand() * 2 ** 32).toString(16).padStart(8, "0");
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const day0 = today - (days - 1) * dayMs;
  const restores = Math.round(size.jobs * 0.03);
  const verifies = Math.round(size.jobs * 0.02);
  const backups = Math.max(size.instances, size.jobs - restores - verifies - days);
  const n = size.instances;
  // Spans of L days starting every (days + L) / n days, from L days before the first day: covered days ≈ n·L·days/(days+L).
  const spanDays = Math.min(days, Math.max(1, Math.round((backups * days) / Math.max(1, days * n - backups))));
  const policies = fleetPolicies();

  const instances: BackupInstance[] = [];
  const spans: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const start = Math.round((i * (days + spanDays)) / n) - spanDays + 1;
    const end = Math.min(days, start + spanDays); // exclusive
    spans.push([Math.max(0, start), end]);
    instances.push({
      name: `fleet-db-${String(i).padStart(4, "0")}`,
      policyName: policies[i % policies.length]!.name,
      datasource: { type: "database", host: `pg-${i % 300}.fleet.internal`, port: 5432, database: `app${i}`, secretRef: `kv:fleet-db-${i}` },
      protectionState: end >= days ? "ProtectionConfigured" : "ProtectionStopped",
      createdAt: new Date(day0 + start * dayMs - 3_600_000).toISOString(),
    });
  }

  const jobs: Job[] = [];
  const backupJobs: Job[][] = instances.map(() => []);
  instances.forEach((instance, i) => {
    const [from, to] = spans[i]!;
    const hour = 1 + (i % policies.length);
    for (let d = from; d < to; d++) {
      const start = day0 + d * dayMs + hour * 3_600_000 + Math.floor(rand() * 600) * 1000;
      const failed = rand() < 0.02;
      const startTime = isoSeconds(new Date(start));
      const job: Job = {
        id: `scheduled-${instance.name}-${stamp(start - (start % 60_000)).slice(0, 13)}Z`,
        operation: "Backup",
        trigger: "Scheduled",
        instanceName: instance.name,
        status: failed ? "Failed" : "Succeeded",
        startTime,
        endTime: isoSeconds(new Date(start + (60 + Math.floor(rand() * 1500)) * 1000)),
        phase: "Done",
        bytes: failed ? 0 : Math.floor(2e8 + rand() * 5e9),
        ...(failed ? { error: failure(rand() < 0.7 ? "UserErrorServerUnreachable" : "SystemErrorStorageUnavailable") } : { recoveryPointId: recoveryPointId(new Date(start), hex8()) }),
      };
      jobs.push(job);
      backupJobs[i]!.push(job);
    }
  });

  // The newest backups of today are still running, or waiting for a dump slot.
  const todays = jobs.filter((job) => Date.parse(job.startTime) >= today && Date.parse(job.startTime) <= now.getTime());
  todays.sort((a, b) => b.startTime.localeCompare(a.startTime));
  todays.slice(0, 8).forEach((job, k) => {
    const queued = k >= 5;
    Object.assign(job, { status: queued ? "Queued" : "InProgress", phase: queued ? "WaitingForSlot" : "Uploading", bytes: 0 });
    delete job.endTime;
    delete job.error;
    delete job.recoveryPointId;
  });

  // Restores and drills of a random instance's point, during the working day after its backup.
  const allBackups = jobs.slice();
  for (let k = 0; k < restores + verifies; k++) {
    const of = allBackups[Math.floor(rand() * allBackups.length)]!;
    const verify = k >= restores;
    const start = Date.parse(of.startTime) + (6 + rand() * 12) * 3_600_000;
    if (start > now.getTime() - 3_600_000) continue;
    const failed = rand() < 0.02;
    const startTime = isoSeconds(new Date(start));
    jobs.push({
      id: `${verify ? "verify" : "restore"}-${of.instanceName}-${stamp(start)}-${hex8()}`,
      operation: verify ? "Verify" : "Restore",
      trigger: verify ? "Scheduled" : "OnDemand",
      instanceName: of.instanceName,
      status: failed ? "Failed" : "Succeeded",
      startTime,
      endTime: isoSeconds(new Date(start + (120 + Math.floor(rand() * 3600)) * 1000)),
      phase: "Done",
      bytes: failed ? 0 : of.bytes,
      ...(of.recoveryPointId ? { recoveryPointId: of.recoveryPointId } : {}),
      ...(failed ? { error: failure("UserErrorServerUnreachable") } : {}),
    });
  }
  for (let d = 0; d < days; d++) {
    const start = day0 + d * dayMs + 30 * 60_000;
    if (start > now.getTime()) break;
    jobs.push({
      id: `retention-${stamp(start)}`,
      operation: "Retention",
      trigger: "Scheduled",
      instanceName: "*",
      status: "Succeeded",
      startTime: isoSeconds(new Date(start)),
      endTime: isoSeconds(new Date(start + 900_000)),
      phase: "Done",
      bytes: 0,
    });
  }

  const perInstance = Math.round(size.points / n);
  const points: DumpRecoveryPoint[] = [];
  instances.forEach((instance, i) => {
    const taken = backupJobs[i]!.filter((job) => job.status === "Succeeded" && job.recoveryPointId).slice(-perInstance);
    taken.forEach((job, k) => {
      const time = new Date(job.startTime);
      const tag = tagOf(time);
      const expiresAt = isoSeconds(new Date(time.getTime() + expiryDays[tag] * dayMs));
      const keptAsNewest = instance.protectionState === "ProtectionConfigured" && k === taken.length - 1;
      const expired = Date.parse(expiresAt) <= now.getTime() && !keptAsNewest;
      const id = job.recoveryPointId!;
      points.push({
        id,
        instanceName: instance.name,
        time: job.startTime,
        tag,
        expiresAt,
        status: expired ? "Deleted" : "Available",
        sizeBytes: job.bytes,
        blobs: [`backups/${instance.name}/${id}/app${i}.dump`],
        format: "pg_dump-custom",
        compression: "zstd",
        sha256: (hex8() + hex8()).repeat(4),
        serverVersion: "16.4",
        toolVersion: "16.4",
        ...(expired ? { deletionStartedAt: expiresAt } : {}),
      });
    });
  });
  return { now, policies, instances, jobs, points, spanDays };
}
