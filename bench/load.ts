/**
 * Load benchmark (not a test): 50 small databases on one server, one policy, every instance due in the same
 * second, backed up by the scheduler of the local host running the compiled app, once for each MAX_CONCURRENT_DUMPS
 * value asked for. Prints, per cap: the time from the slot until every job had succeeded, each job's queue wait
 * (orchestration created by the scheduler until its pg_dump started) and dump time (pg_dump's lifetime) as
 * percentiles, and the most pg_dump processes the host ran at once (its children, sampled from /proc every 3 ms).
 *
 *   npm run bench:load -- [--databases 50] [--caps 1,2,4] [--rows 200]
 *
 * Each cap gets a fresh Azurite (in memory), fresh databases and its own host process (`node dist/local-host/main.js`,
 * SCHEDULER_SCHEDULE every two seconds, host.json as it is); one PostgreSQL cluster serves all of them. Exits 0
 * whatever the numbers: this is a measurement. The same run with 50 databases and cap 2 is
 * test/local-host/load.test.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import path from "node:path";
import { startAzurite } from "../local-host/embedded/azurite";
import { freePort } from "../local-host/embedded/ports";
import { startPostgresCluster, systemPgBinDir } from "../local-host/embedded/postgres";
import { log, repoRoot } from "./common";
import { createLoadDatabases, dropLoadDatabases, loadSecretSettings, percentile, runLoad, type LoadPlan, type LoadResult, type LoadServer } from "./loadRun";

interface Options {
  databases: number;
  caps: number[];
  rows: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { databases: 50, caps: [1, 2, 4], rows: 200 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--databases") options.databases = Number.parseInt(value(), 10);
    else if (arg === "--caps") options.caps = value().split(",").map((cap) => Number.parseInt(cap, 10));
    else if (arg === "--rows") options.rows = Number.parseInt(value(), 10);
    else throw new Error(`unknown argument '${arg}' (expected --databases <n>, --caps <a,b,...>, --rows <n>)`);
  }
  if (!(options.databases >= 1 && options.databases <= 999) || options.caps.some((cap) => !(cap >= 1 && cap <= 64)) || !(options.rows >= 1)) {
    throw new Error("usage: npm run bench:load -- [--databases 1-999] [--caps 1,2,4 (each 1-64)] [--rows <n>]");
  }
  return options;
}

interface Host {
  origin: string;
  pid: number;
  stop(): Promise<void>;
}

/** `node dist/local-host/main.js`, as `npm start` runs it, with the given settings. */
async function startHost(settings: Record<string, string>): Promise<Host> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [path.join(repoRoot, "dist", "local-host", "main.js")], {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), PGVAULT_DEMO: "off", ...settings },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes("is serving")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`host did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function measure(server: LoadServer, binDir: string, options: Options, cap: number): Promise<LoadResult> {
  const plan: LoadPlan = { prefix: `load${cap}x${Date.now().toString(36)}`, databases: options.databases, rows: options.rows };
  const azurite = await startAzurite();
  try {
    await createLoadDatabases(server, plan);
    const host = await startHost({
      AzureWebJobsStorage: azurite.connectionString,
      VaultStorage: azurite.connectionString,
      PG_BIN_DIR: binDir,
      MAX_CONCURRENT_DUMPS: String(cap),
      SCHEDULER_SCHEDULE: "*/2 * * * * *",
      ...loadSecretSettings(server),
    });
    try {
      return await runLoad(host.origin, host.pid, server, plan, { timeoutMs: 20 * 60_000, log: (line) => log(`cap ${cap}: ${line}`) });
    } finally {
      await host.stop();
      await dropLoadDatabases(server, plan);
    }
  } finally {
    await azurite.stop();
  }
}

const seconds = (value: number, digits = 1): string => (Number.isFinite(value) ? `${value.toFixed(digits)} s` : "-");
const spread = (values: number[], digits = 1): string => [0.5, 0.9, 1].map((p) => seconds(percentile(values, p), digits)).join(" / ");

function printResults(options: Options, results: [number, LoadResult][]): void {
  const header = ["MAX_CONCURRENT_DUMPS", `all ${options.databases} done after the slot`, "queue wait p50 / p90 / max", "pg_dump time p50 / p90 / max", "max pg_dump at once", "succeeded", "recovery points"];
  const rows = results.map(([cap, r]) => [
    String(cap),
    seconds(r.allDoneSeconds),
    spread(r.jobs.map((job) => job.queueWaitSeconds)),
    spread(r.jobs.map((job) => job.dumpSeconds), 2),
    String(r.dumps.maxConcurrent),
    `${r.jobs.filter((job) => job.status === "Succeeded").length}/${options.databases}`,
    String(r.recoveryPoints),
  ]);
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col]?.length ?? 0)));
  const line = (cells: string[]): string => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(`\npgvault load benchmark: ${options.databases} databases (${options.rows} rows each) due in the same second, local host, ${cpus().length} CPUs, Node ${process.versions.node}`);
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
  console.log(
    "\nqueue wait: from the orchestration's creation (the scheduler's start) to its pg_dump's first sample; it includes the\n" +
      "steps before the dump (job row, lock, secret, access check) and every wait for a dump slot. pg_dump time: the\n" +
      "process's sampled lifetime. host.json maxConcurrentActivityFunctions applies to all activities, dumps included.",
  );
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  process.chdir(repoRoot); // startAzurite finds Azurite under ./node_modules
  const cluster = await startPostgresCluster(systemPgBinDir, { max_connections: "200" });
  const results: [number, LoadResult][] = [];
  try {
    const server: LoadServer = { host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password };
    for (const cap of options.caps) {
      log(`cap ${cap}: ${options.databases} databases`);
      const result = await measure(server, cluster.binDir, options, cap);
      log(`cap ${cap}: all done ${seconds(result.allDoneSeconds)} after the slot, at most ${result.dumps.maxConcurrent} pg_dump at once`);
      results.push([cap, result]);
    }
  } finally {
    await cluster.destroy();
  }
  printResults(options, results);
}

main().catch((err: unknown) => {
  log(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
