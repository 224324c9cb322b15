/**
 * Fifty small databases on one server under one policy, all due in the same second, backed up by the scheduler of
 * the local host running the compiled app with MAX_CONCURRENT_DUMPS=2: every job succeeds with its recovery point,
 * and the host never ran more than two pg_dump processes at once (its children, sampled from /proc every 3 ms),
 * but did run two. The host gets an Azurite of its own: its scheduler ticks every two seconds and must neither
 * start the backups of other test files nor have its own started by their hosts. The same run, with timings for
 * several caps, is `npm run bench:load` (bench/load.ts).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import { createLoadDatabases, dropLoadDatabases, loadDatabaseName, loadSecretSettings, percentile, runLoad, type LoadPlan, type LoadServer } from "../../bench/loadRun";
import { type HostProcess, repoRoot, startHostProcess } from "../support/localHost";
import { cluster, uniqueName } from "../support/testDatabase";

const cap = 2;
const plan: LoadPlan = { prefix: uniqueName("load").replaceAll("_", ""), databases: 50, rows: 200 };
const server = (): LoadServer => ({ host: cluster().host, port: cluster().port, user: cluster().user, password: cluster().password });
let azurite: AzuriteInstance | undefined;
let host: HostProcess | undefined;

beforeAll(async () => {
  const [started] = await Promise.all([startAzurite(), createLoadDatabases(server(), plan)]);
  azurite = started;
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: azurite.connectionString,
    VaultStorage: azurite.connectionString,
    PG_BIN_DIR: cluster().binDir,
    MAX_CONCURRENT_DUMPS: String(cap),
    SCHEDULER_SCHEDULE: "*/2 * * * * *",
    ...loadSecretSettings(server()),
  });
});

afterAll(async () => {
  await host?.kill("SIGTERM");
  await azurite?.stop();
  await dropLoadDatabases(server(), plan);
});

test(`when 50 databases are due in the same second, then all 50 are backed up with at most ${cap} pg_dump running at once`, async () => {
  const result = await runLoad(host!.origin, host!.pid, server(), plan, { timeoutMs: 120_000 });

  expect(result.jobs).toHaveLength(plan.databases);
  expect(result.jobs.filter((job) => job.status === "Succeeded")).toHaveLength(plan.databases);
  expect(new Set(result.jobs.map((job) => job.recoveryPointId)).size).toBe(plan.databases);
  expect(result.recoveryPoints).toBe(plan.databases);
  // Never more than the cap at once, but the cap was reached. The sampler saw the dumps of (nearly) every database:
  // on a loaded machine a sample can come late, and a 0.2 s pg_dump may fall between two.
  const dumped = new Set(result.dumps.dumps.map((dump) => dump.database));
  const unseen = Array.from({ length: plan.databases }, (_, i) => loadDatabaseName(plan, i)).filter((database) => !dumped.has(database));
  expect(unseen.length, `dumps not sampled: ${unseen.join(", ")}; longest gap between samples ${Math.round(result.dumps.maxGapMs)} ms`).toBeLessThanOrEqual(2);
  expect(result.dumps.maxConcurrent).toBe(cap);
  // The cap made jobs wait (busy answers, durable timers), rather than the host's activity slots.
  expect(host!.output()).toContain(`all ${cap} dump slots of this host are taken (MAX_CONCURRENT_DUMPS); asking again in about`);
  expect(percentile(result.jobs.map((job) => job.queueWaitSeconds), 0.9)).toBeGreaterThan(5);
  console.log(
    `load: ${plan.databases} backups done ${result.allDoneSeconds.toFixed(1)} s after their slot; ` +
      `queue wait p50 ${percentile(result.jobs.map((j) => j.queueWaitSeconds), 0.5).toFixed(1)} s, ` +
      `dump p50 ${percentile(result.jobs.map((j) => j.dumpSeconds), 0.5).toFixed(2)} s; at most ${result.dumps.maxConcurrent} pg_dump at once ` +
      `(${result.dumps.samples} samples, longest gap ${Math.round(result.dumps.maxGapMs)} ms)`,
  );
}, 180_000);
