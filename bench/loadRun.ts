/**
 * One load run, shared by the load test (test/local-host/load.test.ts) and the load benchmark (bench/load.ts): many
 * small databases on one server, protected by one policy whose slot is due in the same second, backed up by the
 * scheduler of a running local host (the compiled app, `node dist/local-host/main.js`). While the jobs run, the
 * host's pg_dump child processes are sampled from /proc every few milliseconds, so the number of dumps that really
 * ran at once is measured, not inferred from logs.
 *
 * Everything goes through the API, as an admin would: one policy (first with a slot far in the future), the
 * instances (each PUT checks access), then the policy again with its slot a few seconds ahead.
 */
import { Worker } from "node:worker_threads";
import pg from "pg";

export interface LoadServer {
  host: string;
  port: number;
  /** A superuser: creates the databases and the backup role. */
  user: string;
  password: string;
}

export interface LoadPlan {
  /** Prefix of database and instance names, unique per run (lowercase letters, digits). */
  prefix: string;
  databases: number;
  /** Rows of the one table each database holds. */
  rows: number;
}

/** The app setting the instances' `secretRef` names; the host must be started with it (`loadSecretSettings`). */
export const loadSecretSetting = "PGVAULT_SECRET_LOAD_PG";
const role = "pgvault_load";
const password = "load-test-password";

export const loadDatabaseName = (plan: LoadPlan, i: number) => `${plan.prefix}_db_${String(i).padStart(3, "0")}`;
const instanceName = (plan: LoadPlan, i: number) => `${plan.prefix}-db-${String(i).padStart(3, "0")}`;

export function loadSecretSettings(server: LoadServer): Record<string, string> {
  return { [loadSecretSetting]: `postgres://${role}:${password}@${server.host}:${server.port}/postgres?sslmode=disable` };
}

async function withClient<T>(server: LoadServer, database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A template database (one table of `rows` rows, readable by the backup role) and `databases` copies of it. The
 * role is created once per server and reused.
 */
export async function createLoadDatabases(server: LoadServer, plan: LoadPlan): Promise<void> {
  const template = `${plan.prefix}_template`;
  await withClient(server, "postgres", async (c) => {
    const exists = await c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
    if (!exists.rowCount) await c.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(template)}`);
  });
  await withClient(server, template, async (c) => {
    await c.query("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags jsonb)");
    await c.query("INSERT INTO items SELECT g, 'item ' || g, g * 1.25, jsonb_build_object('n', g) FROM generate_series(1, $1::int) g", [plan.rows]);
    await c.query(`GRANT USAGE ON SCHEMA public TO ${pg.escapeIdentifier(role)}`);
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${pg.escapeIdentifier(role)}`);
  });
  await withClient(server, "postgres", async (c) => {
    for (let i = 0; i < plan.databases; i++) {
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(loadDatabaseName(plan, i))} TEMPLATE ${pg.escapeIdentifier(template)}`);
    }
  });
}

export async function dropLoadDatabases(server: LoadServer, plan: LoadPlan): Promise<void> {
  await withClient(server, "postgres", async (c) => {
    for (let i = 0; i < plan.databases; i++) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(loadDatabaseName(plan, i))} WITH (FORCE)`);
    await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(`${plan.prefix}_template`)} WITH (FORCE)`);
  });
}

/** pg_dump processes of one parent process, sampled from /proc: how many ran at once, and each one's lifetime. */
export interface DumpSampler {
  stop(): Promise<DumpSamples>;
}

export interface DumpLifetime {
  database: string;
  /** Wall-clock ms of the first and last sample that saw the process. */
  firstSeen: number;
  lastSeen: number;
}

export interface DumpSamples {
  samples: number;
  /** The longest time between two samples (ms): a dump shorter than that may have been missed. */
  maxGapMs: number;
  /** The most pg_dump children seen at once. */
  maxConcurrent: number;
  /** Each pg_dump process seen, by pid. */
  dumps: DumpLifetime[];
}

/**
 * The sampling loop, in a worker thread of its own: a busy main thread (HTTP polling, garbage collection) cannot
 * make it miss a short-lived pg_dump. Plain JavaScript, so it runs the same from TypeScript sources and compiled.
 */
const samplerSource = `
const { parentPort, workerData } = require("node:worker_threads");
const { readdirSync, readFileSync } = require("node:fs");
const { setPriority } = require("node:os");
const { parentPid, intervalMs } = workerData;
// Ahead of the host, the server and the dumps for the CPU (on Linux this sets this thread's priority); needs root.
try { setPriority(-10); } catch {}
const seen = new Map();
let samples = 0;
let maxConcurrent = 0;
let last = 0;
let maxGapMs = 0;
function childPids() {
  const pids = [];
  for (const task of readdirSync("/proc/" + parentPid + "/task")) {
    try {
      pids.push(...readFileSync("/proc/" + parentPid + "/task/" + task + "/children", "utf8").split(" ").filter(Boolean).map(Number));
    } catch {}
  }
  return pids;
}
function pgDumpDatabase(pid) {
  try {
    if (readFileSync("/proc/" + pid + "/comm", "utf8").trim() !== "pg_dump") return undefined;
    const entry = readFileSync("/proc/" + pid + "/environ", "utf8").split("\\0").find((e) => e.startsWith("PGDATABASE="));
    return entry ? entry.slice("PGDATABASE=".length) : "?";
  } catch {
    return undefined;
  }
}
function sample() {
  const now = performance.timeOrigin + performance.now();
  let running = 0;
  for (const pid of childPids()) {
    const known = seen.get(pid);
    if (known) { known.lastSeen = now; running += 1; continue; }
    const database = pgDumpDatabase(pid);
    if (database === undefined) continue;
    seen.set(pid, { database, firstSeen: now, lastSeen: now });
    running += 1;
  }
  samples += 1;
  if (running > maxConcurrent) maxConcurrent = running;
  if (last && now - last > maxGapMs) maxGapMs = now - last;
  last = now;
}
const timer = setInterval(sample, intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  parentPort.postMessage({ samples, maxConcurrent, maxGapMs, dumps: [...seen.values()] });
});
`;

/**
 * Samples the pg_dump children of `parentPid` every `intervalMs` (their database read from the libpq environment
 * they were started with; nothing else of it is kept). Times are wall-clock milliseconds.
 */
export function sampleDumps(parentPid: number, intervalMs = 3): DumpSampler {
  const worker = new Worker(samplerSource, { eval: true, workerData: { parentPid, intervalMs } });
  return {
    stop: () =>
      new Promise<DumpSamples>((resolve, reject) => {
        worker.once("message", (samples: DumpSamples) => {
          void worker.terminate();
          resolve(samples);
        });
        worker.once("error", reject);
        worker.postMessage("stop");
      }),
  };
}

interface Answer {
  status: number;
  json: Record<string, unknown> | undefined;
}

async function call(origin: string, method: string, route: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${origin}${route}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function expectStatus(answer: Promise<Answer>, statuses: number[], what: string): Promise<Answer> {
  const result = await answer;
  if (!statuses.includes(result.status)) throw new Error(`${what}: HTTP ${result.status} ${JSON.stringify(result.json)}`);
  return result;
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  }));
}

const policyBody = (start: string) => ({
  datasourceType: "database",
  schedule: { repeatingIntervals: [`R/${start}/P1D`], timeZone: "UTC" },
  retention: { default: { duration: "P7D" } },
});

export interface LoadJob {
  id: string;
  instanceName: string;
  status: string;
  recoveryPointId?: string;
  /** When its orchestration was created (the scheduler started it), ms since the epoch. */
  createdMs: number;
  /** From the orchestration's creation to its pg_dump's start, seconds. */
  queueWaitSeconds: number;
  /** Its pg_dump's run time as sampled, seconds. */
  dumpSeconds: number;
}

export interface LoadResult {
  /** The slot every instance was due at. */
  slot: Date;
  /** From the slot to the moment every job had succeeded, seconds. */
  allDoneSeconds: number;
  jobs: LoadJob[];
  recoveryPoints: number;
  dumps: DumpSamples;
}

/**
 * Protects the plan's databases on `origin` (whose scheduler must tick every few seconds), makes them all due in
 * the same second, and waits until every scheduled job ended or `timeoutMs` passed.
 */
export async function runLoad(
  origin: string,
  hostPid: number,
  server: LoadServer,
  plan: LoadPlan,
  options: { timeoutMs: number; log?: (line: string) => void },
): Promise<LoadResult> {
  const log = options.log ?? (() => undefined);
  const policyName = `${plan.prefix}-daily`;
  await expectStatus(call(origin, "PUT", `/api/backupPolicies/${policyName}`, policyBody("2099-01-01T00:00:00Z")), [200, 201], "policy");
  const indexes = Array.from({ length: plan.databases }, (_, i) => i);
  await inParallel(indexes, 8, async (i) => {
    const datasource = { type: "database", host: server.host, port: server.port, database: loadDatabaseName(plan, i), secretRef: `env:${loadSecretSetting}` };
    await expectStatus(call(origin, "PUT", `/api/backupInstances/${instanceName(plan, i)}`, { policyName, datasource }), [200, 201], `instance ${i}`);
  });
  log(`${plan.databases} instances configured`);

  const sampler = sampleDumps(hostPid);
  // Every instance due at the same second, a little ahead so the slot is after every instance's creation.
  const slot = new Date(Math.ceil((Date.now() + 3_000) / 1000) * 1000);
  await expectStatus(call(origin, "PUT", `/api/backupPolicies/${policyName}`, policyBody(slot.toISOString().replace(".000Z", "Z"))), [200], "policy slot");
  const prefix = `scheduled-${plan.prefix}-db-`;
  const deadline = Date.now() + options.timeoutMs;
  let finished: Record<string, unknown>[] = [];
  let allDoneMs = Number.NaN;
  for (;;) {
    const listed = await call(origin, "GET", "/api/jobs?operation=Backup&top=1000");
    const ours = ((listed.json?.value ?? []) as Record<string, unknown>[]).filter((job) => String(job.id).startsWith(prefix));
    finished = ours.filter((job) => ["Succeeded", "Failed", "Cancelled"].includes(String(job.status)));
    if (finished.length >= plan.databases) {
      allDoneMs = Date.now();
      break;
    }
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const dumps = await sampler.stop();
  log(`${finished.length} of ${plan.databases} jobs finished; at most ${dumps.maxConcurrent} pg_dump at once (${dumps.samples} samples, longest gap ${Math.round(dumps.maxGapMs)} ms)`);

  const jobs: LoadJob[] = [];
  await inParallel(finished, 8, async (job) => {
    const id = String(job.id);
    const status = await call(origin, "GET", `/runtime/webhooks/durabletask/instances/${id}`);
    const createdMs = Date.parse(String(status.json?.createdTime));
    const database = loadDatabaseName(plan, Number(id.slice(prefix.length, prefix.length + 3)));
    const own = dumps.dumps.filter((d) => d.database === database);
    const firstSeen = Math.min(...own.map((d) => d.firstSeen));
    jobs.push({
      id,
      instanceName: String(job.instanceName),
      status: String(job.status),
      ...(job.recoveryPointId ? { recoveryPointId: String(job.recoveryPointId) } : {}),
      createdMs,
      queueWaitSeconds: own.length ? (firstSeen - createdMs) / 1000 : Number.NaN,
      dumpSeconds: own.reduce((sum, d) => sum + (d.lastSeen - d.firstSeen), 0) / 1000,
    });
  });
  let recoveryPoints = 0;
  await inParallel(indexes, 8, async (i) => {
    const listed = await call(origin, "GET", `/api/backupInstances/${instanceName(plan, i)}/recoveryPoints`);
    recoveryPoints += ((listed.json?.value ?? []) as unknown[]).length;
  });
  jobs.sort((a, b) => a.id.localeCompare(b.id));
  return { slot, allDoneSeconds: (allDoneMs - slot.getTime()) / 1000, jobs, recoveryPoints, dumps };
}

/** The value below which `p` of the sorted values lie (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
