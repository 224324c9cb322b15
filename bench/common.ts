/**
 * What the benchmarks (bench/backup.ts, bench/restore.ts) share: arguments, the throwaway (or kept) PostgreSQL
 * cluster with its benchmark database, Azurite, child processes running the app's compiled code (with the app's
 * memory), timed pg_dump/pg_restore runs, alternating variants, and the table of results.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import path from "node:path";
import pg from "pg";
import { libpqEnvironment, type ConnectionParams } from "../shared/postgres/connection";
import { recoveryPointId } from "../shared/recoveryPoints/recoveryPointId";
import { startAzurite, type AzuriteInstance } from "../local-host/embedded/azurite";
import { startPostgresCluster, systemPgBinDir, type PostgresCluster } from "../local-host/embedded/postgres";
import { generateDataset } from "./dataset";
import type { Measurement } from "./child";
import type { ChildResult } from "./dumpChild";

// npm runs scripts from the package root, compiled or not.
export const repoRoot = process.cwd();
export const database = "benchdb";
export const MiB = 2 ** 20;

export const log = (line: string): void => void process.stderr.write(`${line}\n`);

export interface Options {
  sizeBytes: number;
  keep: boolean;
  pgBinDir: string;
  /** Runs of every variant; the best of each is reported. */
  runs: number;
}

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(M|MB|MiB|G|GB|GiB)$/i.exec(text.trim());
  if (!match) throw new Error(`--size must look like 200MB or 5GB, got '${text}'`);
  return Math.round(Number(match[1]) * (/^g/i.test(match[2] ?? "") ? 2 ** 30 : MiB));
}

export function parseArgs(argv: string[]): Options {
  const options: Options = { sizeBytes: parseSize("1GB"), keep: false, pgBinDir: systemPgBinDir, runs: 3 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === "--size") options.sizeBytes = parseSize(value());
    else if (arg === "--keep") options.keep = true;
    else if (arg === "--pg-bin-dir") options.pgBinDir = path.resolve(value());
    else if (arg === "--runs") options.runs = Math.max(1, Number.parseInt(value(), 10) || 1);
    else throw new Error(`unknown argument '${arg}' (expected --size <n>MB|GB, --keep, --pg-bin-dir <dir>, --runs <n>)`);
  }
  return options;
}

interface OpenedCluster {
  cluster: PostgresCluster;
  /** Whether the kept data directory already holds the complete database. */
  ready: boolean;
  /** Records that the database is complete (a no-op without --keep), so an interrupted build is redone. */
  markReady: () => void;
}

/**
 * A fresh throwaway cluster, or with --keep one whose data directory lives under .bench/ (the throwaway
 * cluster's data directory becomes a symlink to it, so `destroy` leaves it alone).
 */
async function openCluster(options: Options): Promise<OpenedCluster> {
  const cluster = await startPostgresCluster(options.pgBinDir, { max_wal_size: "4GB", checkpoint_timeout: "30min" });
  if (!options.keep) return { cluster, ready: false, markReady: () => undefined };
  const major = path.basename(path.dirname(options.pgBinDir));
  const cacheDir = path.join(repoRoot, ".bench", `pg${major}-${Math.round(options.sizeBytes / MiB)}MiB`);
  const cachedData = path.join(cacheDir, "data");
  const readyFile = path.join(cacheDir, "ready");
  const ready = existsSync(readyFile);
  await cluster.kill();
  if (ready) {
    rmSync(cluster.dataDir, { recursive: true, force: true });
  } else {
    rmSync(cacheDir, { recursive: true, force: true });
    mkdirSync(cacheDir, { recursive: true });
    renameSync(cluster.dataDir, cachedData); // tmpdir must be on the repository's file system
    writeFileSync(path.join(cacheDir, "password"), cluster.password, { mode: 0o600 });
  }
  symlinkSync(cachedData, cluster.dataDir);
  await cluster.start();
  cluster.password = readFileSync(path.join(cacheDir, "password"), "utf8");
  return { cluster, ready, markReady: () => writeFileSync(readyFile, `${new Date().toISOString()}\n`) };
}

export async function withClient<T>(cluster: PostgresCluster, db: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: db });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function databaseSize(cluster: PostgresCluster, db: string): Promise<number> {
  return withClient(cluster, db, async (c) => {
    const { rows } = await c.query<{ size: string }>("SELECT pg_database_size(current_database()) AS size");
    return Number(rows[0]?.size);
  });
}

/** Builds the database unless the kept cluster already has it; returns pg_database_size. */
async function prepareDatabase({ cluster, ready, markReady }: OpenedCluster, options: Options): Promise<number> {
  if (!ready) {
    log(`building a ${(options.sizeBytes / MiB).toFixed(0)} MiB database`);
    await withClient(cluster, "postgres", (c) => c.query(`CREATE DATABASE ${database}`));
    const size = await withClient(cluster, database, (c) => generateDataset(c, options.sizeBytes, log));
    await withClient(cluster, "postgres", (c) => c.query("CHECKPOINT"));
    markReady();
    return size;
  }
  log("reusing the database kept under .bench/");
  return databaseSize(cluster, database);
}

export function childEnv(params: ConnectionParams, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "", LANG: "C.UTF-8", ...libpqEnvironment(params), ...extra };
}

export function exited(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with code ${code}`))));
  });
}

export interface Bench {
  options: Options;
  azurite: AzuriteInstance;
  cluster: PostgresCluster;
  /** The benchmark database `benchdb`. */
  params: ConnectionParams;
  /** pg_database_size of `benchdb`. */
  dbBytes: number;
  /** "PostgreSQL <server_version>". */
  versions: string;
  /** Registers work for the end of the benchmark (last registered runs first), also on Ctrl-C. */
  onCleanUp: (cleanUp: () => Promise<unknown>) => void;
}

/**
 * Runs a benchmark's main part between starting Azurite and the cluster (building the database when needed)
 * and tearing everything down again. Sets a failing exit code only when the benchmark itself fails.
 */
export function runBenchmark(body: (bench: Bench) => Promise<void>): void {
  const cleanUps: (() => Promise<unknown>)[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const step of cleanUps.splice(0).reverse()) await step().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  };
  const main = async (): Promise<void> => {
    const options = parseArgs(process.argv.slice(2));
    process.chdir(repoRoot); // startAzurite finds Azurite under ./node_modules
    process.once("SIGINT", () => void cleanUp().finally(() => process.exit(130)));
    try {
      const azurite = await startAzurite();
      cleanUps.push(() => azurite.stop());
      const opened = await openCluster(options);
      const { cluster } = opened;
      cleanUps.push(() => cluster.destroy()); // with --keep only the symlink to .bench/ goes
      const dbBytes = await prepareDatabase(opened, options);
      const { host, port, user, password } = cluster;
      const params: ConnectionParams = { host, port, user, password, database, sslMode: "disable" };
      const version = await withClient(cluster, database, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v);
      await body({ options, azurite, cluster, params, dbBytes, versions: `PostgreSQL ${version}`, onCleanUp: (step) => cleanUps.push(step) });
    } finally {
      await cleanUp();
    }
  };
  main().catch((err: unknown) => {
    log(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exitCode = 1;
  });
}

/** What every variant's run reports: its wall time. */
export interface Timed {
  seconds: number;
}

/** A benchmark child's result with the app's memory: its Node process plus the programs it started for it. */
export type AppRun<T extends Measurement> = T & {
  /**
   * Peak of the summed RSS of the Node process and its children other than pg_dump/pg_restore (zstd), sampled every
   * 200 ms: since compression runs in the `zstd` program, the Node process's own maxRSS is no longer the app's
   * footprint. PostgreSQL's tools are left out because the baselines run them too.
   */
  appPeakRssKiB: number;
};

const pageKiB = 4; // x86-64 and arm64 Linux pages; /proc/<pid>/statm counts pages

/** Resident KiB of `pid` and, summed, of its direct children except PostgreSQL's own tools; 0 for a gone process. */
function appRssKiB(pid: number): number {
  const rss = (id: string | number): number => {
    try {
      return Number(readFileSync(`/proc/${id}/statm`, "utf8").split(" ")[1] ?? 0) * pageKiB;
    } catch {
      return 0; // exited between listing and reading
    }
  };
  let total = rss(pid);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // "<pid> (<comm>) <state> <ppid> ...": comm may hold spaces and parentheses, so split after its last ')'.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    if (ppid === pid && comm !== "pg_dump" && comm !== "pg_restore") total += rss(entry);
  }
  return total;
}

/**
 * Runs `bench/<script>.ts` compiled, in its own Node process as the Functions worker would (no TypeScript loader
 * in its memory), with the vault in Azurite; returns the JSON line it printed last and the app's sampled peak RSS.
 */
export async function runChild<T extends Measurement>(
  bench: Bench,
  script: string,
  args: string[],
  params: ConnectionParams = bench.params,
  extraEnv: Record<string, string> = {},
): Promise<AppRun<T>> {
  const profile = process.env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [];
  // V8 flags for the app's process, as `languageWorkers__node__arguments` gives them to a Functions worker.
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...profile, ...nodeFlags, path.join(__dirname, `${script}.js`), ...args], {
    cwd: repoRoot,
    env: childEnv(params, { VaultStorage: bench.azurite.connectionString, PG_BIN_DIR: bench.options.pgBinDir, ...extraEnv }),
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  let sampledKiB = 0;
  const sampler = setInterval(() => {
    if (child.pid) sampledKiB = Math.max(sampledKiB, appRssKiB(child.pid));
  }, 200);
  try {
    await exited(child, `bench/${script}.ts`);
  } finally {
    clearInterval(sampler);
  }
  const result = JSON.parse(stdout.trim().split("\n").pop() ?? "") as T;
  // A sample can miss the Node process's own peak; its exact maxRSS is a lower bound for the sum.
  return { ...result, appPeakRssKiB: Math.max(sampledKiB, result.maxRssKiB) };
}

/** The app setting holding the benchmark's encryption key (a fresh random one per benchmark process). */
export const benchKeySetting = "PGVAULT_SECRET_BENCH_KEK";
const benchKey = randomBytes(32).toString("base64");

/**
 * One `dumpToVault` of `benchdb` into Azurite (bench/dumpChild.ts), under a new recovery point id. `compression`
 * is the policy's setting as BENCH_COMPRESSION spells it (`zstd:3`; absent: the policy default); with `encrypt`,
 * encrypted as a policy with `encryption.keyRef: "env:PGVAULT_SECRET_BENCH_KEK"` would (default 4 MiB segments).
 */
export function dumpIntoVault(
  bench: Bench,
  { compression, encrypt = false, tableDigests = true }: { compression?: string; encrypt?: boolean; tableDigests?: boolean } = {},
): Promise<AppRun<ChildResult>> {
  const rpId = recoveryPointId(new Date(), randomBytes(4).toString("hex"));
  const args = [String(bench.dbBytes), rpId, ...(encrypt ? [`env:${benchKeySetting}`] : [])];
  const env = {
    ...(encrypt ? { [benchKeySetting]: benchKey } : {}),
    ...(compression ? { BENCH_COMPRESSION: compression } : {}),
    ...(tableDigests ? {} : { BENCH_TABLE_DIGESTS: "off" }),
  };
  return runChild<ChildResult>(bench, "dumpChild", args, bench.params, env);
}

/** A plain PostgreSQL tool's run: seconds, and the output's size when it went to a file. */
export interface ToolRun extends Timed {
  outputBytes?: number;
}

/**
 * Runs pg_dump or pg_restore from the benchmark's PostgreSQL binaries with stdout into `output` (a file, created or
 * truncated, or /dev/null), timed from spawn to exit.
 */
export async function runPgTool(bench: Bench, tool: "pg_dump" | "pg_restore", args: string[], output = "/dev/null", params = bench.params): Promise<ToolRun> {
  const fd = openSync(output, "w");
  try {
    const started = performance.now();
    const child = spawn(path.join(bench.options.pgBinDir, tool), ["--no-password", ...args], { env: childEnv(params), stdio: ["ignore", fd, "inherit"] });
    await exited(child, tool);
    const seconds = (performance.now() - started) / 1000;
    const stat = fstatSync(fd);
    return { seconds, ...(stat.isFile() ? { outputBytes: stat.size } : {}) };
  } finally {
    closeSync(fd);
  }
}

/** One contender of a benchmark: how to run it once, and its runs so far. */
export interface Variant<R extends Timed> {
  name: string;
  run: () => Promise<R>;
  results: R[];
}

export const variant = <R extends Timed>(name: string, run: () => Promise<R>): Variant<R> => ({ name, run, results: [] });

/**
 * Runs every variant once per round, in order, for `rounds` rounds: alternating spreads the load of a shared
 * machine over all variants instead of penalising whichever ran during a busy minute.
 */
export async function alternate(rounds: number, variants: readonly Variant<Timed>[]): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    for (const v of variants) {
      const result = await v.run();
      v.results.push(result);
      const rss = "appPeakRssKiB" in result && typeof result.appPeakRssKiB === "number" ? `, app peak RSS ${mib(result.appPeakRssKiB * 1024)}` : "";
      log(`run ${round}: ${v.name} ${result.seconds.toFixed(1)} s${rss}`);
    }
  }
}

/** The fastest run: on a shared machine the least disturbed one, the closest to what the code can do. */
export const fastest = <R extends Timed>(v: Variant<R>): R => v.results.reduce((a, b) => (b.seconds < a.seconds ? b : a));

/** The highest app peak RSS over all runs (not only the fastest: memory must stay bounded in every run), MiB. */
export const peakRssMiB = (v: Variant<AppRun<Measurement>>): number => Math.max(...v.results.map((r) => r.appPeakRssKiB)) / 1024;

/** The app's peak RSS for a table cell, with the Node process's own (exact) peak to show what zstd adds. */
export const rssCell = (v: Variant<AppRun<Measurement>>): string =>
  `${peakRssMiB(v).toFixed(0)} MiB (Node ${(Math.max(...v.results.map((r) => r.maxRssKiB)) / 1024).toFixed(0)})`;

export const verdict = (ok: boolean): string => (ok ? "OK" : "MISSED");
export const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
/** Throughput of `bytes` (the database) over `seconds`. */
export const rate = (bytes: number, seconds: number): string => `${(bytes / MiB / seconds).toFixed(1)} MiB/s`;
export const times = (ratio: number): string => `${ratio.toFixed(2)}x`;

/** Prints a heading, every variant's run times, and a markdown table of `header` and `rows`. */
export function printTable(title: string, variants: readonly Variant<Timed>[], header: string[], rows: string[][]): void {
  const widths = header.map((cell, col) => Math.max(cell.length, ...rows.map((row) => row[col]?.length ?? 0)));
  const line = (cells: string[]): string => `| ${widths.map((w, i) => (cells[i] ?? "").padEnd(w)).join(" | ")} |`;
  const runs = variants.map((v) => `${v.name} ${v.results.map((r) => r.seconds.toFixed(1)).join(", ")} s`);
  console.log(`\n${title}, ${cpus().length} CPUs, best of ${Math.max(...variants.map((v) => v.results.length))} runs each`);
  console.log(`runs: ${runs.join("; ")}`);
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
}
