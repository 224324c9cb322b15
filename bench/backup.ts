/**
 * Backup throughput benchmark (not a test): how fast is the app's backup path (pg_dump streamed into a block
 * blob by `dumpToVault`), unencrypted and encrypted (an `env:` key: AES-256-GCM segments under a data key wrapped
 * with AES key wrap), compared with plain `pg_dump -Fc > /dev/null`, and how much memory does it need?
 *
 *   npm run bench:backup -- [--size 1GB|5GB|200MB] [--keep] [--pg-bin-dir /usr/lib/postgresql/15/bin] [--runs 3]
 *
 * Starts a throwaway PostgreSQL cluster and Azurite on free loopback ports, builds a database of the requested
 * size (bench/dataset.ts), then alternates baseline, app and encrypted-app runs (three each by default, baseline
 * first) and prints the best of each. `--keep` keeps the generated cluster under .bench/ and reuses it on the next run of
 * that size. The exit code is 0 whether or not the targets hold: this is a measurement.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { backupContainer } from "../shared/domain";
import type { ConnectionParams } from "../shared/postgres/connection";
import { childEnv, compare, dumpIntoVault, exited, log, mib, printTable, runBenchmark, verdict, type Bench } from "./common";
import type { ChildResult } from "./dumpChild";

const targets = { ratio: 0.9, peakRssMiB: 200 };

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

/** One `dumpToVault` into Azurite in a child process (bench/dumpChild.ts); the blob is deleted afterwards. */
async function runApp(bench: Bench, encrypt = false): Promise<ChildResult> {
  const result = await dumpIntoVault(bench, encrypt);
  const blobName = result.blobPath.slice(backupContainer.length + 1);
  await BlobServiceClient.fromConnectionString(bench.azurite.connectionString).getContainerClient(backupContainer).getBlobClient(blobName).delete();
  return result;
}

function printResults({ dbBytes, versions }: Bench, baseline: number[], app: ChildResult[], encrypted: ChildResult[]): void {
  const { best, bestApp, ratio, peakRssMiB, startRssMiB, rate } = compare(dbBytes, baseline, app);
  const sealed = compare(dbBytes, baseline, encrypted);
  const costOfEncryption = bestApp.seconds / sealed.bestApp.seconds;
  const runs = { baseline, app: app.map((r) => r.seconds), encrypted: encrypted.map((r) => r.seconds) };
  printTable(`pgvault backup benchmark: ${versions}`, runs, [
    ["database size (pg_database_size)", mib(dbBytes), ""],
    ["dump output size (custom format)", mib(bestApp.sizeBytes), `${((100 * bestApp.sizeBytes) / dbBytes).toFixed(0)}% of database`],
    ["baseline: pg_dump -Fc > /dev/null", `${best.toFixed(1)} s`, rate(best)],
    ["app: dumpToVault -> Azurite", `${bestApp.seconds.toFixed(1)} s`, rate(bestApp.seconds)],
    ["ratio baseline time / app time", ratio.toFixed(2), `target >= ${targets.ratio}: ${verdict(ratio >= targets.ratio)}`],
    ["app peak RSS (child process)", `${peakRssMiB.toFixed(0)} MiB`, `target < ${targets.peakRssMiB} MiB: ${verdict(peakRssMiB < targets.peakRssMiB)}`],
    ["  of which before the dump started", `${startRssMiB.toFixed(0)} MiB`, "node + app modules"],
    ["app CPU (Node process, not pg_dump)", `${bestApp.cpuSeconds.toFixed(1)} s`, `${((100 * bestApp.cpuSeconds) / bestApp.seconds).toFixed(0)}% of one core`],
    ["encrypted: dumpToVault + AES-256-GCM", `${sealed.bestApp.seconds.toFixed(1)} s`, rate(sealed.bestApp.seconds)],
    ["  stored size (ciphertext)", mib(sealed.bestApp.sizeBytes), `+${sealed.bestApp.sizeBytes - bestApp.sizeBytes} bytes vs unencrypted`],
    ["ratio baseline time / encrypted time", sealed.ratio.toFixed(2), `target >= ${targets.ratio}: ${verdict(sealed.ratio >= targets.ratio)}`],
    ["ratio app time / encrypted time", costOfEncryption.toFixed(2), "throughput kept with encryption (same run)"],
    ["encrypted peak RSS (child process)", `${sealed.peakRssMiB.toFixed(0)} MiB`, `target < ${targets.peakRssMiB} MiB: ${verdict(sealed.peakRssMiB < targets.peakRssMiB)}`],
    ["encrypted CPU (Node process)", `${sealed.bestApp.cpuSeconds.toFixed(1)} s`, `${((100 * sealed.bestApp.cpuSeconds) / sealed.bestApp.seconds).toFixed(0)}% of one core`],
  ]);
  const allOk = ratio >= targets.ratio && peakRssMiB < targets.peakRssMiB && sealed.peakRssMiB < targets.peakRssMiB;
  console.log(allOk ? "\nAll targets hold." : "\nTARGETS MISSED (see MISSED above).");
}

runBenchmark(async (bench) => {
  const baseline: number[] = [];
  const app: ChildResult[] = [];
  const encrypted: ChildResult[] = [];
  for (let run = 1; run <= bench.options.runs; run++) {
    baseline.push(await runBaseline(bench.params, bench.options.pgBinDir));
    log(`run ${run}: baseline ${baseline.at(-1)?.toFixed(1)} s`);
    app.push(await runApp(bench));
    log(`run ${run}: app ${app.at(-1)?.seconds.toFixed(1)} s, peak RSS ${((app.at(-1)?.maxRssKiB ?? 0) / 1024).toFixed(0)} MiB`);
    encrypted.push(await runApp(bench, true));
    log(`run ${run}: encrypted ${encrypted.at(-1)?.seconds.toFixed(1)} s, peak RSS ${((encrypted.at(-1)?.maxRssKiB ?? 0) / 1024).toFixed(0)} MiB`);
  }
  printResults(bench, baseline, app, encrypted);
});
