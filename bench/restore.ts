/**
 * Restore throughput benchmark (not a test): how fast is the app's restore path (the vault blob streamed through
 * SHA-256, its checked segments and `zstd -d` into pg_restore on a fresh temporary database by
 * `restoreIntoTemporary`, then renamed into place by `swapIn`) compared with plain `pg_restore` from a local file
 * made by plain `pg_dump -Fc`, and how much memory does it need?
 *
 *   npm run bench:restore -- [--size 1GB|5GB|200MB] [--keep] [--pg-bin-dir /usr/lib/postgresql/15/bin] [--runs 3]
 *
 * Sets up like bench/backup.ts (same arguments, same .bench/ cache with --keep), then, untimed, writes
 * `pg_dump -Fc` of the database to a temporary file and makes one recovery point with the app's backup path
 * (bench/dumpChild.ts, default compression) in Azurite. Then alternates baseline and app runs (three each by
 * default, baseline first), each into a fresh database that is dropped before the next run, and prints the best of
 * each. A third variant restores one table (`include.tables: ["public.orders"]`, about a third of the data, with its
 * indexes) the same way, to show what recovering one table costs against the whole database (issue 23); it has no
 * target of its own. The exit code is 0 whether or not the targets hold.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { temporaryDatabaseName } from "../shared/restore/databaseRestore";
import type { ChildResult } from "./dumpChild";
import type { RestoreChildResult } from "./restoreChild";
import {
  alternate,
  databaseSize,
  dumpIntoVault,
  fastest,
  log,
  mib,
  peakRssMiB,
  printTable,
  rate,
  runBenchmark,
  runChild,
  rssCell,
  runPgTool,
  times,
  variant,
  verdict,
  withClient,
  type AppRun,
  type Bench,
} from "./common";

/** Issue 11: restoring from the vault no slower than pg_restore from a local file; memory as for the backup. */
const targets = { ratio: 1.0, peakRssMiB: 200 };
const baselineDb = "bench_restore_baseline";
const appDb = "bench_restore_app";
const tableDb = "bench_restore_table";
/** The table the one-table variant restores: one of the dataset's three (bench/dataset.ts). */
const oneTable = "public.orders";

/** Drops every database a (possibly interrupted) run may have restored, then checkpoints so no run pays for it. */
async function dropRestored(bench: Bench): Promise<void> {
  const stems = [appDb, tableDb].map((db) => temporaryDatabaseName(`bench-${db}`));
  await withClient(bench.cluster, "postgres", async (c) => {
    // Every attempt's temporary database (and a retired one) starts with the job's stem.
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE left(datname, $1::int) = ANY($2)`, [stems[0]!.length, stems]);
    for (const db of [baselineDb, appDb, tableDb, ...rows.map((row) => row.datname)]) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
    await c.query("CHECKPOINT");
  });
}

/** Plain `pg_restore` of the local file into a database just created from template0 (the CREATE is not timed). */
async function runBaseline(bench: Bench, file: string): Promise<{ seconds: number }> {
  await dropRestored(bench);
  await withClient(bench.cluster, "postgres", (c) => c.query(`CREATE DATABASE ${baselineDb} TEMPLATE template0`));
  const args = ["--no-owner", "--no-privileges", "--exit-on-error", "-d", baselineDb, file];
  return runPgTool(bench, "pg_restore", args, "/dev/null", { ...bench.params, database: baselineDb });
}

/** pgvault's restore of the recovery point in a child process (bench/restoreChild.ts), timed inside the child. */
async function runApp(bench: Bench, point: ChildResult, table?: string): Promise<AppRun<RestoreChildResult>> {
  await dropRestored(bench);
  const args = [point.blobPath, point.sha256, point.compression ?? "none", table ? tableDb : appDb, ...(table ? [table] : [])];
  return runChild<RestoreChildResult>(bench, "restoreChild", args);
}

runBenchmark(async (bench) => {
  const { dbBytes, versions } = bench;
  bench.onCleanUp(() => dropRestored(bench));
  const dir = mkdtempSync(path.join(tmpdir(), "pgvault-bench-restore-"));
  bench.onCleanUp(async () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "baseline.pgdump");
  const dumped = await runPgTool(bench, "pg_dump", ["--format=custom"], file);
  log(`setup: pg_dump -Fc to ${file} (${mib(dumped.outputBytes ?? 0)}) in ${dumped.seconds.toFixed(1)} s`);
  const point = await dumpIntoVault(bench);
  log(`setup: recovery point ${point.blobPath} (${point.compression}, ${mib(point.sizeBytes)}) made in ${point.seconds.toFixed(1)} s`);

  const baseline = variant("pg_restore -d <new db> <-Fc file>", () => runBaseline(bench, file));
  // Each run drops what the one before restored: sizes are taken right after their own run.
  let restoredBytes = 0;
  const app = variant(`pgvault restore (${point.compression}, from Azurite)`, async () => {
    const run = await runApp(bench, point);
    restoredBytes = await databaseSize(bench.cluster, appDb);
    return run;
  });
  let tableBytes = 0;
  const table = variant(`pgvault restore of one table (${oneTable})`, async () => {
    const run = await runApp(bench, point, oneTable);
    tableBytes = await databaseSize(bench.cluster, tableDb);
    return run;
  });
  await alternate(bench.options.runs, [baseline, app, table]);

  const base = fastest(baseline).seconds;
  const best = fastest(app);
  const oneTableBest = fastest(table);
  printTable(`pgvault restore benchmark: ${versions}, database ${mib(dbBytes)} (pg_database_size)`, [baseline, app, table], [
    "variant",
    "time",
    "of database",
    "input",
    "baseline time / time",
    "app peak RSS (Node + zstd)",
  ], [
    [baseline.name, `${base.toFixed(1)} s`, rate(dbBytes, base), mib(dumped.outputBytes ?? 0), "1.00x", "-"],
    [app.name, `${best.seconds.toFixed(1)} s`, rate(dbBytes, best.seconds), mib(point.sizeBytes), times(base / best.seconds), rssCell(app)],
    [table.name, `${oneTableBest.seconds.toFixed(1)} s`, rate(dbBytes, oneTableBest.seconds), mib(point.sizeBytes), times(base / oneTableBest.seconds), rssCell(table)],
  ]);
  // The whole stored archive is still read (a pipe cannot skip), but only one table is written, indexed and checked.
  console.log(
    `one table: ${oneTableBest.seconds.toFixed(1)} s against ${best.seconds.toFixed(1)} s for the whole database (${Math.round((100 * oneTableBest.seconds) / best.seconds)}% of the time); restored ${mib(tableBytes)} of ${mib(restoredBytes)}`,
  );
  console.log(`restored database: ${mib(restoredBytes)}; app Node CPU ${best.cpuSeconds.toFixed(1)} s (zstd and pg_restore not included)`);
  const fastEnough = base / best.seconds >= targets.ratio;
  const small = peakRssMiB(app) < targets.peakRssMiB;
  console.log(`\ntargets: pgvault ${times(base / best.seconds)} of pg_restore's speed (>= ${targets.ratio.toFixed(1)}x): ${verdict(fastEnough)}; app peak RSS < ${targets.peakRssMiB} MiB: ${verdict(small)}`);
  console.log(fastEnough && small ? "All targets hold." : "TARGETS MISSED (see MISSED above).");
});
