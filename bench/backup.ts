/**
 * Backup throughput benchmark (not a test): how fast is the app's backup path (pg_dump streamed into a block
 * blob by `dumpToVault`) compared with plain `pg_dump -Fc > /dev/null`, and how much memory does it need?
 *
 *   npm run bench:backup -- [--size 1GB|5GB|200MB] [--keep] [--pg-bin-dir /usr/lib/postgresql/15/bin]
 *
 * Starts a throwaway PostgreSQL cluster and Azurite on free loopback ports, builds a database of the requested
 * size (bench/dataset.ts), then alternates baseline and app runs (twice each, baseline first) and prints the
 * best of each. `--keep` keeps the generated cluster under .bench/ and reuses it on the next run of that size.
 * The exit code is 0 whether or not the targets hold: this is a measurement.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import pg from "pg";
import { backupContainer } from "../shared/domain";
import { libpqEnvironment, type ConnectionParams } from "../shared/postgres/connection";
import { recoveryPointId } from "../shared/recoveryPointId";
import { startAzurite, type AzuriteInstance } from "../local-host/embedded/azurite";
import { startPostgresCluster, systemPgBinDir, type PostgresCluster } from "../local-host/embedded/postgres";
import { generateDataset } from "./dataset";
import type { ChildResult } from "./dumpChild";

// npm runs scripts from the package root, compiled or not.
const repoRoot = process.cwd();
const database = "benchdb";
const runsEach = 3;
const targets = { ratio: 0.9, peakRssMiB: 200 };
const MiB = 2 ** 20;

interface Options {
  sizeBytes: number;
  keep: boolean;
  pgBinDir: string;
}

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(M|MB|MiB|G|GB|GiB)$/i.exec(text.trim());
  if (!match) throw new Error(`--size must look like 200MB or 5GB, got '${text}'`);
  return Math.round(Number(match[1]) * (/^g/i.test(match[2] ?? "") ? 2 ** 30 : MiB));
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sizeBytes: parseSize("1GB"), keep: false, pgBinDir: systemPgBinDir };
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
    else throw new Error(`unknown argument '${arg}' (expected --size <n>MB|GB, --keep, --pg-bin-dir <dir>)`);
  }
  return options;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

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

async function withClient<T>(cluster: PostgresCluster, db: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, database: db });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
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
  return withClient(cluster, database, async (c) => {
    const { rows } = await c.query<{ size: string }>("SELECT pg_database_size(current_database()) AS size");
    return Number(rows[0]?.size);
  });
}

function childEnv(params: ConnectionParams, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "", LANG: "C.UTF-8", ...libpqEnvironment(params), ...extra };
}

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with code ${code}`))));
  });
}

/** Seconds for plain `pg_dump --format=custom` with its output going to /dev/null. */
async function runBaseline(params: ConnectionParams, pgBinDir: string): Promise<number> {
  const devNull = openSync("/dev/null", "w");
  try {
    const started = performance.now();
    const child = spawn(path.join(pgBinDir, "pg_dump"), ["--format=custom", "--no-password"], {
      env: childEnv(params),
      stdio: ["ignore", devNull, "inherit"],
    });
    await exited(child, "pg_dump");
    return (performance.now() - started) / 1000;
  } finally {
    closeSync(devNull);
  }
}

/**
 * One `dumpToVault` into Azurite in a child process running the compiled JavaScript, as the Functions worker
 * does (no TypeScript loader in its memory); the blob is deleted afterwards.
 */
async function runApp(params: ConnectionParams, options: Options, azurite: AzuriteInstance, expectedBytes: number): Promise<ChildResult> {
  const rpId = recoveryPointId(new Date(), randomBytes(4).toString("hex"));
  const profile = process.env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, path.join(__dirname, "dumpChild.js"), String(expectedBytes), rpId], {
    cwd: repoRoot,
    env: childEnv(params, { VaultStorage: azurite.connectionString, PG_BIN_DIR: options.pgBinDir }),
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  await exited(child, "bench/dumpChild.ts");
  const result = JSON.parse(stdout.trim().split("\n").pop() ?? "") as ChildResult;
  const blobName = result.blobPath.slice(backupContainer.length + 1);
  await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(backupContainer).getBlobClient(blobName).delete();
  return result;
}

function printResults(dbBytes: number, baseline: number[], app: ChildResult[], versions: string): void {
  const best = Math.min(...baseline);
  const bestApp = app.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const peakRssMiB = Math.max(...app.map((r) => r.maxRssKiB)) / 1024;
  const startRssMiB = Math.max(...app.map((r) => r.startRssKiB)) / 1024;
  const ratio = best / bestApp.seconds;
  const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
  const rate = (seconds: number): string => `${(dbBytes / MiB / seconds).toFixed(1)} MiB/s`;
  const verdict = (ok: boolean): string => (ok ? "OK" : "MISSED");
  const rows: [string, string, string][] = [
    ["database size (pg_database_size)", mib(dbBytes), ""],
    ["dump output size (custom format)", mib(bestApp.sizeBytes), `${((100 * bestApp.sizeBytes) / dbBytes).toFixed(0)}% of database`],
    ["baseline: pg_dump -Fc > /dev/null", `${best.toFixed(1)} s`, rate(best)],
    ["app: dumpToVault -> Azurite", `${bestApp.seconds.toFixed(1)} s`, rate(bestApp.seconds)],
    ["ratio baseline time / app time", ratio.toFixed(2), `target >= ${targets.ratio}: ${verdict(ratio >= targets.ratio)}`],
    ["app peak RSS (child process)", `${peakRssMiB.toFixed(0)} MiB`, `target < ${targets.peakRssMiB} MiB: ${verdict(peakRssMiB < targets.peakRssMiB)}`],
    ["  of which before the dump started", `${startRssMiB.toFixed(0)} MiB`, "node + app modules"],
    ["app CPU (Node process, not pg_dump)", `${bestApp.cpuSeconds.toFixed(1)} s`, `${((100 * bestApp.cpuSeconds) / bestApp.seconds).toFixed(0)}% of one core`],
  ];
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((row) => row[col]?.length ?? 0)));
  const line = (cells: string[]): string => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(`\npgvault backup benchmark: ${versions}, ${cpus().length} CPUs, best of ${runsEach} runs each`);
  console.log(`runs: baseline ${baseline.map((s) => s.toFixed(1)).join(" s, ")} s; app ${app.map((r) => r.seconds.toFixed(1)).join(" s, ")} s`);
  console.log(line(["metric", "value", ""]));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
  const allOk = ratio >= targets.ratio && peakRssMiB < targets.peakRssMiB;
  console.log(allOk ? "\nAll targets hold." : "\nTARGETS MISSED (see MISSED above).");
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  process.chdir(repoRoot); // startAzurite finds Azurite under ./node_modules
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  };
  process.once("SIGINT", () => void cleanUp().finally(() => process.exit(130)));
  try {
    const azurite = await startAzurite();
    cleanups.push(() => azurite.stop());
    const opened = await openCluster(options);
    const { cluster } = opened;
    cleanups.push(() => cluster.destroy()); // with --keep only the symlink to .bench/ goes
    const dbBytes = await prepareDatabase(opened, options);
    const { host, port, user, password } = cluster;
    const params: ConnectionParams = { host, port, user, password, database, sslMode: "disable" };
    const version = await withClient(cluster, database, async (c) => (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v);

    const baseline: number[] = [];
    const app: ChildResult[] = [];
    for (let run = 1; run <= runsEach; run++) {
      baseline.push(await runBaseline(params, options.pgBinDir));
      log(`run ${run}: baseline ${baseline.at(-1)?.toFixed(1)} s`);
      app.push(await runApp(params, options, azurite, dbBytes));
      log(`run ${run}: app ${app.at(-1)?.seconds.toFixed(1)} s, peak RSS ${((app.at(-1)?.maxRssKiB ?? 0) / 1024).toFixed(0)} MiB`);
    }
    printResults(dbBytes, baseline, app, `PostgreSQL ${version}`);
  } finally {
    await cleanUp();
  }
}

main().catch((err: unknown) => {
  log(`benchmark failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exitCode = 1;
});
