/**
 * What the scheduler benchmarks share (bench/scheduler.ts, bench/catalog.ts): a fleet of protected `database`
 * instances across 100 policies, seeded in the shape shared/catalog/catalog.ts writes it, and one measured tick
 * with its vault storage round trips through the counting proxies.
 */
import { TableClient, type TableEntity, type TransactionAction } from "@azure/data-tables";
import type { BackupInstance, BackupPolicy } from "../shared/domain";
import type { SchedulerPort, TickResult } from "../shared/scheduler/tick";
import type { CountingProxy } from "./countingProxy";

export const schedulerPolicyCount = 100;
const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata", "America/Los_Angeles"];

export type Tick = (now: Date, port: SchedulerPort) => Promise<TickResult>;

export interface Measured {
  seconds: number;
  table: Map<string, number>;
  blob: Map<string, number>;
  result: TickResult;
  starts: number;
}

/** 40 daily at various times, 30 hourly, 20 every four hours, 10 weekly; seven time zones. */
function policy(i: number): BackupPolicy {
  const two = (n: number): string => String(n).padStart(2, "0");
  const [hour, minute] = [two(i % 24), two((i * 7) % 60)];
  const [kind, interval] =
    i < 40 ? ["p1d", `R/2026-01-01T${hour}:${minute}:00/P1D`]
    : i < 70 ? ["pt1h", `R/2026-01-01T00:${minute}:00/PT1H`]
    : i < 90 ? ["pt4h", `R/2026-01-01T${two(i % 4)}:${minute}:00/PT4H`]
    : ["p1w", `R/2026-01-05T${hour}:${minute}:00/P1W`];
  return {
    name: `bench-${two(i)}-${kind}`,
    datasourceType: "database",
    schedule: { repeatingIntervals: [interval], timeZone: zones[i % zones.length] ?? "UTC" },
    retention: { default: { duration: "P30D" }, rules: [] },
  };
}

function instance(i: number, policyName: string): BackupInstance {
  return {
    name: `bench-db-${String(i).padStart(5, "0")}`,
    policyName,
    datasource: { type: "database", host: `pg-${i % 500}.example.internal`, port: 5432, database: `app${i}`, secretRef: `kv:bench-db-${i}` },
    protectionState: "ProtectionConfigured",
    createdAt: "2026-02-01T00:00:00.000Z",
  };
}

/**
 * Writes the rows in entity-group transactions of up to 100 rows of one partition each, `inFlight` at a time
 * (rows of several partitions are grouped by partition first).
 */
export async function insertRows(connectionString: string, tableName: string, rows: readonly TableEntity[], inFlight = 8): Promise<void> {
  const client = TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
  await client.createTable();
  const byPartition = new Map<string, TableEntity[]>();
  for (const row of rows) {
    const list = byPartition.get(row.partitionKey);
    if (list) list.push(row);
    else byPartition.set(row.partitionKey, [row]);
  }
  const batches: TransactionAction[][] = [];
  for (const list of byPartition.values()) {
    for (let i = 0; i < list.length; i += 100) batches.push(list.slice(i, i + 100).map((row) => ["upsert", row, "Replace"]));
  }
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < batches.length) await client.submitTransaction(batches[next++]!);
  }));
}

/** `instanceCount` instances spread evenly over the 100 policies, all created 2026-02-01. */
export async function seedSchedulerFleet(connectionString: string, tables: { policies: string; instances: string }, instanceCount: number): Promise<void> {
  const policies = Array.from({ length: schedulerPolicyCount }, (_, i) => policy(i));
  const instances = Array.from({ length: instanceCount }, (_, i) => instance(i, policies[i % schedulerPolicyCount]?.name ?? ""));
  await insertRows(connectionString, tables.policies, policies.map((p) => ({ partitionKey: "policy", rowKey: p.name, doc: JSON.stringify(p) })));
  await insertRows(connectionString, tables.instances, instances.map((d) => ({ partitionKey: "instance", rowKey: d.name, doc: JSON.stringify(d), policyName: d.policyName })));
}

/** At 2026-03-10T09:20Z every instance seedSchedulerFleet made has a slot due (none claimed yet). */
export const firstTick = new Date("2026-03-10T09:20:00Z");

export const sum = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);

/** The proxy's counts since `before`, the kinds without requests left out. */
export function since(proxy: CountingProxy, before: Map<string, number>): Map<string, number> {
  return new Map([...proxy.counts].map(([kind, n]) => [kind, n - (before.get(kind) ?? 0)] as const).filter(([, n]) => n > 0));
}

/**
 * One tick at `at`, timed and counted. `SchedulerPort.start` is a counting no-op and `exists` answers false:
 * starting an orchestration is the Functions host's work in its task hub, not a vault storage round trip.
 */
export async function measureTick(tick: Tick, at: Date, proxies: { table: CountingProxy; blob: CountingProxy }): Promise<Measured> {
  let starts = 0;
  const port: SchedulerPort = {
    start: async () => void starts++,
    exists: async () => false,
  };
  const [table, blob] = [new Map(proxies.table.counts), new Map(proxies.blob.counts)];
  const started = performance.now();
  const result = await tick(at, port);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, table: since(proxies.table, table), blob: since(proxies.blob, blob), result, starts };
}
