/**
 * Restore throughput benchmark (not a test): how fast is the app's restore path (the vault blob streamed through
 * SHA-256 into pg_restore on a fresh temporary database by `restoreIntoTemporary`, then renamed into place by
 * `swapIn`) compared with plain `pg_restore` of the same dump from a local file, and how much memory does it need?
 *
 *   npm run bench:restore -- [--size 1GB|5GB|200MB] [--keep] [--pg-bin-dir /usr/lib/postgresql/15/bin] [--runs 3]
 *
 * Sets up like bench/backup.ts (same arguments, same .bench/ cache with --keep), makes one recovery point with the
 * app's backup path (bench/dumpChild.ts) in Azurite and downloads it once to a temporary file (untimed). Then
 * alternates baseline and app runs (three each by default, baseline first), each into a fresh database that is
 * dropped before the next run, and prints the best of each. The exit code is 0 whether or not the target holds.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import pg from "pg";
import { backupContainer } from "../shared/domain";
import { temporaryDatabaseName } from "../shared/restore/databaseRestore";
import { childEnv, compare, databaseSize, dumpIntoVault, exited, log, mib, MiB, printTable, runBenchmark, runChild, verdict, withClient, type Bench } from "./common";
import type { RestoreChildResult } from "./restoreChild";

const targets = { ratio: 0.9 };
const baselineDb = "bench_restore_baseline";
const appDb = "bench_restore_app";

interface RecoveryPoint {
  blobPath: string;
  sha256: string;
  sizeBytes: number;
}

const seconds = (since: number): number => (performance.now() - since) / 1000;

/** Drops every database a (possibly interrupted) run may have restored, then checkpoints so no run pays for it. */
async function dropRestored(bench: Bench): Promise<void> {
  const temporary = temporaryDatabaseName(`bench-${appDb}`);
  await withClient(bench.cluster, "postgres", async (c) => {
    for (const db of [baselineDb, appDb, temporary, `${temporary}_old`]) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
    await c.query("CHECKPOINT");
  });
}

/** Downloads the recovery point's blob to `file` and checks its SHA-256; logs how fast both went. */
async function download(bench: Bench, point: RecoveryPoint, file: string): Promise<string> {
  const blobName = point.blobPath.slice(backupContainer.length + 1);
  const blob = BlobServiceClient.fromConnectionString(bench.azurite.connectionString).getContainerClient(backupContainer).getBlobClient(blobName);
  let started = performance.now();
  await blob.downloadToFile(file);
  const downloadSeconds = seconds(started);
  started = performance.now();
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  if (hash.digest("hex") !== point.sha256) throw new Error(`the downloaded dump does not match the recovery point's SHA-256`);
  const rate = (s: number): string => `${(point.sizeBytes / MiB / s).toFixed(0)} MiB/s`;
  log(`downloaded the dump in ${downloadSeconds.toFixed(1)} s (${rate(downloadSeconds)}), SHA-256 of the file in ${seconds(started).toFixed(1)} s (${rate(seconds(started))})`);
  return `${downloadSeconds.toFixed(1)} s, ${rate(downloadSeconds)}`;
}

/** Seconds for plain `pg_restore` of the local dump file into a fresh database. */
async function runBaseline(bench: Bench, file: string): Promise<number> {
  await withClient(bench.cluster, "postgres", (c) => c.query(`CREATE DATABASE ${baselineDb} TEMPLATE template0`));
  const started = performance.now();
  const args = ["--no-owner", "--no-privileges", "--exit-on-error", "--no-password", "-d", baselineDb, file];
  const child = spawn(path.join(bench.options.pgBinDir, "pg_restore"), args, {
    env: childEnv({ ...bench.params, database: baselineDb }),
    stdio: ["ignore", "ignore", "inherit"],
  });
  await exited(child, "pg_restore");
  return seconds(started);
}

function printResults({ dbBytes, versions }: Bench, point: RecoveryPoint, downloaded: string, restoredBytes: number, baseline: number[], app: RestoreChildResult[]): void {
  const { best, bestApp, ratio, peakRssMiB, startRssMiB, rate } = compare(dbBytes, baseline, app);
  printTable(`pgvault restore benchmark: ${versions}`, { baseline, app: app.map((r) => r.seconds) }, [
    ["database size (pg_database_size)", mib(dbBytes), ""],
    ["dump size (custom format, in the vault)", mib(point.sizeBytes), `${((100 * point.sizeBytes) / dbBytes).toFixed(0)}% of database`],
    ["restored database size", mib(restoredBytes), `${((100 * restoredBytes) / dbBytes).toFixed(0)}% of database`],
    ["setup: vault blob -> local file (untimed)", downloaded, ""],
    ["baseline: pg_restore -d <new db> <file>", `${best.toFixed(1)} s`, rate(best)],
    ["app: restoreIntoTemporary + swapIn", `${bestApp.seconds.toFixed(1)} s`, rate(bestApp.seconds)],
    ["ratio baseline time / app time", ratio.toFixed(2), `target >= ${targets.ratio}: ${verdict(ratio >= targets.ratio)}`],
    ["app peak RSS (child process)", `${peakRssMiB.toFixed(0)} MiB`, "target: flat with database size"],
    ["  of which before the restore started", `${startRssMiB.toFixed(0)} MiB`, "node + app modules"],
    ["app CPU (Node process, not pg_restore)", `${bestApp.cpuSeconds.toFixed(1)} s`, `${((100 * bestApp.cpuSeconds) / bestApp.seconds).toFixed(0)}% of one core`],
  ]);
  console.log(ratio >= targets.ratio ? "\nThe ratio target holds." : "\nRATIO TARGET MISSED.");
}

runBenchmark(async (bench) => {
  bench.onCleanUp(() => dropRestored(bench));
  await dropRestored(bench);
  let started = performance.now();
  const point: RecoveryPoint = await dumpIntoVault(bench);
  log(`recovery point ${point.blobPath} (${mib(point.sizeBytes)}, sha256 ${point.sha256}) made in ${seconds(started).toFixed(1)} s`);
  const dir = mkdtempSync(path.join(tmpdir(), "pgvault-bench-restore-"));
  bench.onCleanUp(async () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "dump.pgdump");
  const downloaded = await download(bench, point, file);

  const baseline: number[] = [];
  const app: RestoreChildResult[] = [];
  let restoredBytes = 0;
  for (let run = 1; run <= bench.options.runs; run++) {
    await dropRestored(bench);
    baseline.push(await runBaseline(bench, file));
    log(`run ${run}: baseline ${baseline.at(-1)?.toFixed(1)} s`);
    await dropRestored(bench);
    started = performance.now();
    app.push(await runChild<RestoreChildResult>(bench, "restoreChild", [point.blobPath, point.sha256, appDb]));
    restoredBytes = await databaseSize(bench.cluster, appDb);
    log(`run ${run}: app ${app.at(-1)?.seconds.toFixed(1)} s (${seconds(started).toFixed(1)} s with Node start-up), peak RSS ${((app.at(-1)?.maxRssKiB ?? 0) / 1024).toFixed(0)} MiB`);
  }
  printResults(bench, point, downloaded, restoredBytes, baseline, app);
});
