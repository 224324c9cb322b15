/**
 * Catalog benchmark (not a test; issue 25): the catalog's reads at fleet scale, old job layout against new.
 *
 *   npm run bench:catalog -- [--jobs 1000000] [--instances 2000] [--points 500000] [--due 10000] [--runs 3] [--new-only]
 *
 * Starts Azurite in memory with the counting proxy (bench/countingProxy.ts) in front of its table and blob ports
 * and points the app's `VaultStorage` at the proxies. Seeds ten years of a fleet (bench/catalogFleet.ts) directly
 * in Azurite (not measured), in the seeding mode of bench/azuriteSeedMode.ts (Azurite's per-insert lookup and
 * index upkeep make millions of rows take days otherwise): policies, instances, recovery points, one `jobs` row
 * per job, every job's four `jobIndex` copies, and the backfill state `complete: false`. That is the OLD layout:
 * every job list reads the job rows (shared/catalog/jobLists.ts, legacyPage). Measures; then marks the index
 * complete and writes every instance's summary as the app counts it (the NEW layout), checks a few against the
 * app's own count, and measures again; then adds `--due` scheduler instances (bench/schedulerHarness.ts) and
 * measures one tick where all of them are due. Each measurement is repeated `--runs` times and the fastest is
 * reported, unless its first run took over 10 s (then it ran once). Exits 0 whether or not the targets hold.
 *
 * `--new-only` skips the old layout's measurements: at the issue's scale the old unfiltered page alone is 1,001
 * round trips, each a scan and sort of 1,000,000 rows in Azurite (hours for the old scenarios).
 */
import { existsSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import path from "node:path";
import { TableClient } from "@azure/data-tables";
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import { azuriteConnectionString, startAzurite } from "../local-host/embedded/azurite";
import type { Job } from "../shared/domain";
import { isoSeconds } from "../shared/time/isoTime";
import { log, verdict } from "./common";
import { dayMs, generateFleet, type Fleet, type FleetSize } from "./catalogFleet";
import { startCountingProxy, type CountingProxy } from "./countingProxy";
import { firstTick, measureTick, since, sum } from "./schedulerHarness";

interface Options extends FleetSize {
  due: number;
  runs: number;
  newOnly: boolean;
}

/** The fleet's "now": fixed, so every run seeds and asks the same. */
const fleetNow = new Date("2026-12-01T06:00:00Z");
/** A measurement whose first run took longer is not repeated. */
const slowMs = 10_000;

function parseOptions(argv: string[]): Options {
  const options: Options = { jobs: 1_000_000, instances: 2_000, points: 500_000, due: 10_000, runs: 3, newOnly: false };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === "--new-only") {
      options.newOnly = true;
      i--;
      continue;
    }
    const key = argv[i]?.replace(/^--/, "") as Exclude<keyof Options, "newOnly"> | undefined;
    const value = Number.parseInt((argv[i + 1] ?? "").replaceAll("_", ""), 10);
    if (!key || !(key in options) || key === ("newOnly" as string) || !(value >= 1)) {
      throw new Error("usage: npm run bench:catalog -- [--jobs <n>] [--instances <n>] [--points <n>] [--due <n>] [--runs <n>] [--new-only]");
    }
    options[key] = value;
  }
  return options;
}

interface Proxies {
  table: CountingProxy;
  blob: CountingProxy;
}

interface Sample {
  ms: number;
  table: Map<string, number>;
  blob: Map<string, number>;
  /** What the scenario found (or `WRONG: ...` when it was not what the fleet holds). */
  note: string;
}

interface Measured {
  best: Sample;
  runs: number[];
}

interface Target {
  roundTrips: number;
  ms: number;
}

interface Scenario {
  name: string;
  target?: Target;
  /** Unmeasured preparation, before the runs. */
  prepare?: () => Promise<void>;
  run: () => Promise<string>;
}

async function sample(proxies: Proxies, run: () => Promise<string>): Promise<Sample> {
  const [table, blob] = [new Map(proxies.table.counts), new Map(proxies.blob.counts)];
  const started = performance.now();
  let note: string;
  try {
    note = await run();
  } catch (err) {
    note = `WRONG: ${err instanceof Error ? err.message : String(err)}`;
  }
  const ms = performance.now() - started;
  return { ms, table: since(proxies.table, table), blob: since(proxies.blob, blob), note };
}

async function measure(proxies: Proxies, scenario: Scenario, runs: number, layout: string): Promise<Measured> {
  await scenario.prepare?.();
  const samples: Sample[] = [];
  for (let run = 0; run < runs; run++) {
    const s = await sample(proxies, scenario.run);
    samples.push(s);
    log(`${layout} ${scenario.name}: ${s.ms.toFixed(0)} ms, ${sum(s.table)} table + ${sum(s.blob)} blob round trips; ${s.note}`);
    if (s.ms > slowMs || s.note.startsWith("WRONG")) break;
  }
  return { best: samples.reduce((a, b) => (b.ms < a.ms ? b : a)), runs: samples.map((s) => s.ms) };
}

const jobsOrder = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function expect(what: string, actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: got ${JSON.stringify(actual)?.slice(0, 200)}, expected ${JSON.stringify(expected)?.slice(0, 200)}`);
}

type App = Awaited<ReturnType<typeof importApp>>;

async function importApp() {
  const [jobs, rps, center, retention, names, reconcile, tick, index, slots, catalog, clients, state] = await Promise.all([
    import("../functions/jobs"),
    import("../functions/recoveryPoints"),
    import("../shared/backupCenter/summary"),
    import("../activities/applyRetention"),
    import("../activities/listInstanceNames"),
    import("../shared/retention/reconcile"),
    import("../shared/scheduler/tick"),
    import("../shared/catalog/jobIndex"),
    import("../shared/scheduler/slotClaims"),
    import("../shared/catalog/documents"),
    import("../shared/catalog/vaultClients"),
    import("../shared/catalog/jobIndexState"),
  ]);
  const [summaries, lists, points] = await Promise.all([import("../shared/catalog/instanceSummaries"), import("../shared/catalog/jobLists"), import("../shared/catalog/recoveryPointReads")]);
  return {
    listJobsHandler: jobs.listJobsHandler,
    listInstanceRecoveryPoints: rps.listInstanceRecoveryPoints,
    backupCenterSummary: center.backupCenterSummary,
    applyRetentionActivity: retention.applyRetentionActivity,
    listInstanceNamesActivity: names.listInstanceNamesActivity,
    reconcileVault: reconcile.reconcileVault,
    schedulerTick: tick.schedulerTick,
    jobIndexRowKey: index.jobIndexRowKey,
    slotTable: slots.slotTable,
    catalogTables: catalog.catalogTables,
    /** One query of a `jobIndex` partition that holds nothing: what Azurite takes to answer any query of the table (its full scan). */
    emptyQuery: async () => {
      const client = await index.jobIndexClient();
      let rows = 0;
      for await (const _ of client.listEntities({ queryOptions: { filter: "PartitionKey eq 'instance|no-such-instance'" } })) rows++;
      return `${rows} rows`;
    },
    /** Fails unless the stored summaries of `names` are what the app counts from their rows at `now`. */
    checkSummaries: async (names: readonly string[], now: Date) => {
      const stored = await summaries.readInstanceSummaries();
      for (const name of names) {
        const [jobs, rps] = await Promise.all([lists.listJobs({ instanceName: name, from: summaries.summaryStart(now) }), points.listRecoveryPoints(name)]);
        expect(`the seeded summary of ${name}`, stored.get(name), summaries.summarize(name, jobs, rps, now));
      }
    },
    /** What a process does once, before its first reads: make sure of its tables, and learn the index's state (kept once complete). */
    warmUp: async () => {
      await Promise.all([...Object.values(catalog.catalogTables), index.jobIndexTable].map((table) => clients.getReadyTableClient(table)));
      await state.jobIndexBackfilled();
    },
  };
}

type JobsBody = { value: { id: string }[]; nextLink?: string };

/** The scenarios of one layout. `retentionDay` counts the nightly runs, each one day after the last. */
function scenarios(app: App, fleet: Fleet, layout: "old" | "new", retentionDay: { next: number }): Scenario[] {
  const keyed = fleet.jobs.map((job) => ({ key: app.jobIndexRowKey(job), job })).sort(jobsOrder);
  const newest = (keep: (job: Job) => boolean, skip = 0) => keyed.filter(({ job }) => keep(job)).slice(skip, skip + 50).map(({ job }) => job.id);
  const apiRead: Target = { roundTrips: 5, ms: 300 };
  const listJobs = async (query: string): Promise<JobsBody> => {
    const response: HttpResponseInit = await app.listJobsHandler(new HttpRequest({ method: "GET", url: `http://127.0.0.1:7071/api/jobs${query}` }));
    if (response.status !== 200) throw new Error(`GET /api/jobs${query} answered ${response.status}`);
    return response.jsonBody as JobsBody;
  };
  const page = async (query: string, expected: string[]) => {
    const body = await listJobs(query);
    expect(`GET /api/jobs${query.slice(0, 60)}`, body.value.map((job) => job.id), expected);
    return `${body.value.length} jobs${body.nextLink ? ", nextLink" : ""}`;
  };

  // The 10th page continues after the 450th job: the cursor nextLink carries (functions/jobs.ts, encodeCursor).
  const ninth = keyed[449]!.job;
  let tenthQuery = `?skipToken=${Buffer.from(JSON.stringify([ninth.startTime, ninth.id])).toString("base64url")}`;
  const walkToTenth = async () => {
    // The old layout reads every row per page: nine pages to get there would cost nine full reads, and land on the
    // same cursor (the new layout walks and checks it).
    if (layout === "old") return;
    let link: string | undefined = "";
    for (let i = 0; i < 9; i++) link = (await listJobs(link!.replace(/^\/api\/jobs/, ""))).nextLink;
    expect("nextLink after 9 pages", link?.replace(/^\/api\/jobs/, ""), tenthQuery);
    tenthQuery = link!.replace(/^\/api\/jobs/, "");
  };

  const counts = new Map<string, number>();
  for (const job of fleet.jobs) counts.set(job.instanceName, (counts.get(job.instanceName) ?? 0) + 1);
  const busiest = fleet.instances.filter((i) => i.protectionState === "ProtectionConfigured").reduce((a, b) => ((counts.get(b.name) ?? 0) > (counts.get(a.name) ?? 0) ? b : a));
  const [from, to] = [isoSeconds(new Date(fleet.now.getTime() - 30 * dayMs)), isoSeconds(fleet.now)];
  const failedWindow = (job: Job) => job.status === "Failed" && job.startTime >= from && job.startTime < to;
  const pointCount = fleet.points.filter((rp) => rp.instanceName === busiest.name).length;

  return [
    { name: "0 Azurite's floor: a query of an empty jobIndex partition", run: () => app.emptyQuery() },
    { name: "1 GET /api/jobs, first page", target: apiRead, run: () => page("", newest(() => true)) },
    { name: "1 GET /api/jobs, 10th page (its own request)", target: apiRead, prepare: walkToTenth, run: () => page(tenthQuery, newest(() => true, 450)) },
    {
      name: `2 GET /api/jobs?instanceName= (${counts.get(busiest.name)} jobs)`,
      target: apiRead,
      run: () => page(`?instanceName=${busiest.name}`, newest((job) => job.instanceName === busiest.name)),
    },
    {
      name: `3 GET /api/jobs?status=Failed, last 30 days (${keyed.filter(({ job }) => failedWindow(job)).length})`,
      target: apiRead,
      run: () => page(`?status=Failed&from=${from}&to=${to}`, newest(failedWindow)),
    },
    {
      name: `4 GET recoveryPoints of one instance (${pointCount})`,
      target: apiRead,
      run: async () => {
        const request = new HttpRequest({ method: "GET", url: `http://127.0.0.1:7071/api/backupInstances/${busiest.name}/recoveryPoints`, params: { name: busiest.name } });
        const response = await app.listInstanceRecoveryPoints(request);
        const value = (response.jsonBody as { value: unknown[] }).value;
        expect("recovery points listed", value.length, pointCount);
        return `${value.length} points`;
      },
    },
    {
      name: "5 Backup Center page (backupCenterSummary)",
      target: { roundTrips: 20, ms: 1000 },
      run: async () => {
        const summary = await app.backupCenterSummary(fleet.now);
        expect("instances on the page", summary.totals.instances, fleet.instances.length);
        return `${summary.totals.instances} instances, ${summary.totals.failedJobs} failed jobs in 30 days`;
      },
    },
    { name: "7 nightly retention run (all instances)", run: () => retentionRun(app, new Date(fleet.now.getTime() + retentionDay.next++ * dayMs)) },
  ];
}

/**
 * What the retention orchestration's activities do in one nightly run (orchestrators/retention.ts): the instance
 * names a page at a time, each instance's retention, then the vault's reconciliation, with every open job's
 * orchestration reported as still running (the durable client is the host's; its answers are no vault round trip).
 */
async function retentionRun(app: App, now: Date): Promise<string> {
  const context = new InvocationContext({ functionName: "applyRetention", invocationId: "bench", logHandler: () => undefined });
  const jobId = `retention-bench-${now.getTime()}`;
  let [instances, deleted, kept, failed] = [0, 0, 0, 0];
  for (let after: string | undefined, more = true; more; ) {
    const page = await app.listInstanceNamesActivity({ after });
    for (const instanceName of page.names) {
      const outcome = await app.applyRetentionActivity({ jobId, instanceName, now: now.toISOString() }, context);
      instances++;
      if (!outcome.ok) failed++;
      else [deleted, kept, failed] = [deleted + outcome.value.deleted, kept + outcome.value.kept, failed + outcome.value.failed];
    }
    after = page.next;
    more = after !== undefined;
  }
  const report = await app.reconcileVault({ now, selfJobId: jobId, orchestration: async () => ({ runtimeStatus: "Running" }), cancelCleanupId: (id) => `cancel-${id}` });
  if (failed > 0 || report.failed.length > 0) throw new Error(`${failed} points and ${report.failed.length} reconciliation items failed`);
  return `${now.toISOString().slice(0, 10)}: ${instances} instances, ${deleted} points deleted, ${kept} kept`;
}

const totalOf = (s: Sample) => sum(s.table) + sum(s.blob);
const wall = (s: Sample) => (s.ms >= 10_000 ? `${(s.ms / 1000).toFixed(1)} s` : `${s.ms.toFixed(0)} ms`);
const judged = (s: Sample | undefined, target?: Target) =>
  !s ? "-" : s.note.startsWith("WRONG") ? "WRONG" : !target ? "-" : verdict(totalOf(s) <= target.roundTrips && s.ms < target.ms);

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col]?.length ?? 0)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
}

function printResults(options: Options, fleet: Fleet, names: Scenario[], old: Measured[] | undefined, now: Measured[], tick: Measured, seeding: string): void {
  const statuses = new Map<string, number>();
  for (const job of fleet.jobs) statuses.set(`${job.operation} ${job.status}`, (statuses.get(`${job.operation} ${job.status}`) ?? 0) + 1);
  console.log(
    `\npgvault catalog benchmark (issue 25): ${fleet.jobs.length} jobs, ${fleet.instances.length} instances ` +
      `(${fleet.instances.filter((i) => i.protectionState === "ProtectionConfigured").length} protected, spans of ${fleet.spanDays} days), ` +
      `${fleet.points.length} recovery points (${fleet.points.filter((rp) => rp.status === "Available").length} Available); ` +
      `Azurite in memory, ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}; fastest of up to ${options.runs} runs`,
  );
  console.log(`jobs: ${[...statuses].sort().map(([k, n]) => `${k} ${n}`).join(", ")}`);
  console.log(`seeding: ${seeding}`);
  const target = (t?: Target) => (t ? `<= ${t.roundTrips} rt, < ${t.ms} ms` : "none");
  const rows = names.map((scenario, i) => {
    const [o, n] = [old?.[i]!.best, now[i]!.best];
    const oldCells = o ? [wall(o), String(totalOf(o))] : ["not run", "not run"];
    return [scenario.name, target(scenario.target), ...oldCells, wall(n), String(totalOf(n)), judged(o, scenario.target), judged(n, scenario.target)];
  });
  const tickTarget: Target = { roundTrips: Number.POSITIVE_INFINITY, ms: 2000 };
  const t = tick.best;
  rows.splice(names.length - 1, 0, [`6 scheduler tick, ${t.note}`, "< 2000 ms", "(same)", "(same)", wall(t), String(totalOf(t)), "(same)", judged(t, tickTarget)]);
  console.log("");
  printTable(["scenario", "target", "old: wall", "old: round trips", "new: wall", "new: round trips", "old", "new"], rows);
  console.log("\nround trips by request (old | new):");
  const kinds = (s: Sample) => [...s.table].map(([k, n]) => `${k} ${n}`).concat([...s.blob].map(([k, n]) => `blob ${k} ${n}`)).join(", ") || "none";
  names.forEach((scenario, i) => {
    const oldLine = old ? `${kinds(old[i]!.best)}; ${old[i]!.best.note}` : "not run";
    console.log(`  ${scenario.name}:\n    old: ${oldLine}\n    new: ${kinds(now[i]!.best)}; ${now[i]!.best.note}`);
  });
  console.log(`  6 scheduler tick: ${kinds(t)}`);
  const runs = (m: Measured) => m.runs.map((ms) => ms.toFixed(0)).join(", ");
  console.log(`\nruns (ms): ${names.map((s, i) => `${s.name.slice(0, 2)}old ${old ? runs(old[i]!) : "-"} / new ${runs(now[i]!)}`).join("; ")}; tick ${runs(tick)}`);
  console.log(
    "\nThe tick reads no jobs: it is measured once, after both layouts, with its instances added to the catalog.\n" +
      "Azurite's table store (LokiJS) evaluates every query by scanning the whole table and sorting what matches\n" +
      "(node_modules/azurite/dist/src/table/persistence/LokiTableMetadataStore.js, queryTableEntities): its wall\n" +
      "times grow with the table, including for partition-key range queries, which Azure answers from its index.",
  );
}

/** Ends bench/azuriteSeedMode.ts's seeding mode and waits until Azurite's indexes are rebuilt. */
async function endSeedMode(pid: number, seededFile: string): Promise<void> {
  process.kill(pid, "SIGUSR2");
  while (!existsSync(seededFile)) await new Promise((resolve) => setTimeout(resolve, 200));
  rmSync(seededFile);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  // Azurite holds every entity in its Node heap: millions of rows need more than V8's default limit. It seeds in
  // the mode bench/azuriteSeedMode.ts sets up, until endSeedMode.
  const nodeOptions = process.env.NODE_OPTIONS;
  const seededFile = path.join(tmpdir(), `pgvault-bench-seeded-${process.pid}`);
  process.env.NODE_OPTIONS = `${nodeOptions ?? ""} --max-old-space-size=${Math.floor((totalmem() / 2 ** 20) * 0.6)} --require ${path.join(__dirname, "azuriteSeedMode.js")}`.trim();
  process.env.PGVAULT_BENCH_SEEDED_FILE = seededFile;
  const azurite = await startAzurite();
  delete process.env.PGVAULT_BENCH_SEEDED_FILE;
  if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;
  const proxies: Proxies = { table: await startCountingProxy(azurite.tablePort), blob: await startCountingProxy(azurite.blobPort) };
  const stop = () => Promise.all([proxies.table.close(), proxies.blob.close(), azurite.stop()]);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop().finally(() => process.exit(130)));
  try {
    // Before any app module reads its config.
    process.env.VaultStorage = azuriteConnectionString(proxies.blob.port, azurite.queuePort, proxies.table.port);
    const app = await importApp();
    const seed = await import("./catalogSeed");
    const { seedSchedulerFleet } = await import("./schedulerHarness");

    const fleet = generateFleet(options, fleetNow);
    seed.assertUniqueJobIds(fleet.jobs);
    log(`fleet: ${fleet.jobs.length} jobs, ${fleet.instances.length} instances, ${fleet.points.length} recovery points`);
    const timed = async (what: string, work: () => Promise<void>) => {
      const started = performance.now();
      await work();
      const s = (performance.now() - started) / 1000;
      log(`seeded ${what} in ${s.toFixed(0)} s`);
      return `${what} ${s.toFixed(0)} s`;
    };
    // Everything but the summaries, the index marked incomplete: the OLD layout (lists read the job rows).
    const seeding = [
      await timed(`policies, instances and ${fleet.points.length} recovery points`, () => seed.seedDocuments(azurite.connectionString, fleet)),
      await timed(`${fleet.jobs.length} job rows`, async () => {
        await seed.writeBackfillState(azurite.connectionString, false);
        await seed.seedJobRows(azurite.connectionString, fleet.jobs);
      }),
      await timed(`${fleet.jobs.length * 4} job index copies`, () => seed.seedJobCopies(azurite.connectionString, fleet.jobs)),
      await timed("Azurite's indexes rebuilt, seeding mode ended", () => endSeedMode(azurite.pid, seededFile)),
    ];
    const retentionDay = { next: 1 };
    const oldScenarios = scenarios(app, fleet, "old", retentionDay);
    const measureAll = async (list: Scenario[], layout: string) => {
      await app.warmUp();
      const measured: Measured[] = [];
      for (const scenario of list) measured.push(await measure(proxies, scenario, options.runs, layout));
      return measured;
    };
    const old = options.newOnly ? undefined : await measureAll(oldScenarios, "old");

    // The NEW layout: the index complete, and every instance's summary as the app keeps it.
    seeding.push(
      await timed(`${fleet.instances.length} instance summaries, the index marked complete`, async () => {
        await seed.writeBackfillState(azurite.connectionString, true);
        await seed.seedSummaries(azurite.connectionString, fleet);
      }),
    );
    await app.warmUp();
    const protectedNames = fleet.instances.filter((i) => i.protectionState === "ProtectionConfigured").map((i) => i.name);
    await app.checkSummaries([...protectedNames.slice(0, 3), ...fleet.instances.slice(0, 2).map((i) => i.name)], fleet.now);
    const now = await measureAll(scenarios(app, fleet, "new", retentionDay), "new");

    await timed(`${options.due} scheduler instances`, () => seedSchedulerFleet(azurite.connectionString, app.catalogTables, options.due));
    const slots = TableClient.fromConnectionString(azurite.connectionString, app.slotTable, { allowInsecureConnection: true });
    const ticks: Sample[] = [];
    for (let run = 0; run <= options.runs; run++) {
      await slots.deleteTable(); // no claims yet: every slot is due again
      await slots.createTable();
      const m = await measureTick(app.schedulerTick, firstTick, proxies);
      const s: Sample = { ms: m.seconds * 1000, table: m.table, blob: m.blob, note: `${m.result.instances} instances, ${m.result.due} due` };
      log(`${run === 0 ? "warm-up" : `run ${run}`} tick: ${s.ms.toFixed(0)} ms, ${sum(m.table)} round trips, ${s.note}`);
      if (run > 0) ticks.push(s);
    }
    const tick: Measured = { best: ticks.reduce((a, b) => (b.ms < a.ms ? b : a)), runs: ticks.map((s) => s.ms) };
    printResults(options, fleet, oldScenarios, old, now, tick, seeding.join(", "));
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  log(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
