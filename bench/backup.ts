/**
 * Backup throughput benchmark (not a test): how fast is the app's backup path (`dumpToVault`: pg_dump without
 * compression, through the app for the table digests, compressed by the `zstd` program, framed in checked segments
 * and streamed into a block blob; also measured without the digests, to show what they cost) compared
 * with plain `pg_dump -Fc` (gzip level 6 inside pg_dump) and with the reading ceiling `pg_dump -Fc -Z0`, how large
 * is its output, and how much memory does it need?
 *
 *   npm run bench:backup -- [--size 1GB|5GB|200MB] [--keep] [--pg-bin-dir /usr/lib/postgresql/15/bin] [--runs 3]
 *
 * Starts a throwaway PostgreSQL cluster and Azurite on free loopback ports, builds a database of the requested
 * size (bench/dataset.ts), then alternates the variants below (three rounds by default) and prints the best run of
 * each. `--keep` keeps the generated cluster under .bench/ and reuses it on the next run of that size. The exit
 * code is 0 whether or not the targets hold: this is a measurement.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { effectiveCompression } from "../shared/compression/compressionSettings";
import { backupContainer } from "../shared/domain";
import type { ChildResult } from "./dumpChild";
import {
  alternate,
  dumpIntoVault,
  fastest,
  mib,
  peakRssMiB,
  printTable,
  rate,
  runBenchmark,
  rssCell,
  runPgTool,
  times,
  variant,
  verdict,
  type AppRun,
  type Bench,
  type ToolRun,
  type Variant,
} from "./common";

/**
 * Issue 11: pgvault's backup at least twice as fast as pg_dump -Fc, near the reading ceiling, no larger, bounded
 * memory. Issue 24: the table digests cost under 5% of the backup's time.
 */
const targets = { speedUp: 2.0, ofCeiling: 1.3, sizeRatio: 1.0, peakRssMiB: 200, digestCost: 0.05 };

/** One `dumpToVault` into Azurite in a child process (bench/dumpChild.ts); the blob is deleted afterwards. */
async function runApp(bench: Bench, options: { compression?: string; encrypt?: boolean; tableDigests?: boolean } = {}): Promise<AppRun<ChildResult>> {
  const result = await dumpIntoVault(bench, options);
  const blobName = result.blobPath.slice(backupContainer.length + 1);
  // Azurite keeps blobs in memory: 3 variants x runs of a 5 GB database's dump would crowd the machine.
  await BlobServiceClient.fromConnectionString(bench.azurite.connectionString).getContainerClient(backupContainer).getBlobClient(blobName).delete();
  return result;
}

/** What the table digests cost: the default variant's best time against the same without digests. */
function printDigestCost(withDigests: Variant<AppRun<ChildResult>>, without: Variant<AppRun<ChildResult>>): boolean {
  const cost = fastest(withDigests).seconds / fastest(without).seconds - 1;
  const ok = cost < targets.digestCost;
  // The Node process's CPU seconds depend far less on other load than times do: the work the digests add.
  const cpu = (variant: Variant<AppRun<ChildResult>>) => Math.min(...variant.results.map((run) => run.cpuSeconds));
  console.log(
    `table digests: ${fastest(withDigests).seconds.toFixed(1)} s with, ${fastest(without).seconds.toFixed(1)} s without: ` +
      `${(cost * 100).toFixed(1)}% of the backup's time (target < ${targets.digestCost * 100}%) ${verdict(ok)}; ` +
      `Node CPU ${cpu(withDigests).toFixed(1)} s with, ${cpu(without).toFixed(1)} s without (least of the runs)`,
  );
  return ok;
}

function printResults(bench: Bench, baseline: Variant<ToolRun>, ceiling: Variant<ToolRun>, apps: Variant<AppRun<ChildResult>>[]): void {
  const { dbBytes, versions } = bench;
  const base = fastest(baseline);
  const roof = fastest(ceiling);
  const baseBytes = base.outputBytes ?? 0;
  const row = (name: string, seconds: number, outputBytes: number | undefined, rss: string): string[] => [
    name,
    `${seconds.toFixed(1)} s`,
    rate(dbBytes, seconds),
    outputBytes === undefined ? "-" : mib(outputBytes),
    outputBytes === undefined ? "-" : times(outputBytes / baseBytes),
    times(base.seconds / seconds),
    times(seconds / roof.seconds),
    rss,
  ];
  const all = [baseline, ceiling, ...apps];
  printTable(`pgvault backup benchmark: ${versions}, database ${mib(dbBytes)} (pg_database_size)`, all, [
    "variant",
    "time",
    "of database",
    "output",
    "size / -Fc",
    "speed-up vs -Fc",
    "time / -Z0",
    "app peak RSS (Node + zstd)",
  ], [
    row(baseline.name, base.seconds, baseBytes, "-"),
    row(ceiling.name, roof.seconds, undefined, "-"),
    ...apps.map((app) => {
      const best = fastest(app);
      return row(app.name, best.seconds, best.sizeBytes, rssCell(app));
    }),
  ]);

  // Targets per pgvault variant, so the default level can be chosen from one run.
  console.log(`\ntargets: speed-up >= ${targets.speedUp}x, time <= ${targets.ofCeiling}x the -Z0 time, output <= pg_dump -Fc's, app peak RSS < ${targets.peakRssMiB} MiB`);
  let allOk = true;
  for (const app of apps) {
    const best = fastest(app);
    const checks: [string, boolean][] = [
      [`speed-up ${times(base.seconds / best.seconds)}`, base.seconds / best.seconds >= targets.speedUp],
      [`ceiling ${times(best.seconds / roof.seconds)}`, best.seconds / roof.seconds <= targets.ofCeiling],
      [`size ${times(best.sizeBytes / baseBytes)}`, best.sizeBytes / baseBytes <= targets.sizeRatio],
      [`RSS ${peakRssMiB(app).toFixed(0)} MiB`, peakRssMiB(app) < targets.peakRssMiB],
    ];
    allOk &&= checks.every(([, ok]) => ok);
    console.log(`${app.name}: ${checks.map(([what, ok]) => `${what} ${verdict(ok)}`).join(", ")}`);
  }
  const [withDigests, , , without] = apps;
  if (withDigests && without) allOk = printDigestCost(withDigests, without) && allOk;
  console.log(allOk ? "\nAll targets hold." : "\nTARGETS MISSED (see MISSED above).");
}

runBenchmark(async (bench) => {
  const dir = mkdtempSync(path.join(tmpdir(), "pgvault-bench-backup-"));
  bench.onCleanUp(async () => rmSync(dir, { recursive: true, force: true }));
  // To a file rather than /dev/null, to know its size: writing ~15% of the database to the page cache costs little.
  const baseline = variant("pg_dump -Fc > file", () => runPgTool(bench, "pg_dump", ["--format=custom"], path.join(dir, "baseline.pgdump")));
  // Reading and archiving without compressing: the floor of any pg_dump-based backup on this machine.
  const ceiling = variant("pg_dump -Fc -Z0 > /dev/null", () => runPgTool(bench, "pg_dump", ["--format=custom", "--compress=0"]));
  const level = effectiveCompression(undefined).level;
  const apps = [
    variant(`pgvault zstd -${level} (default)`, () => runApp(bench)),
    variant("pgvault zstd -3", () => runApp(bench, { compression: "zstd:3" })),
    variant(`pgvault zstd -${level} + AES-256-GCM`, () => runApp(bench, { encrypt: true })),
    // The default without table digests: pg_dump straight into zstd, the archive never through Node (issue 24's cost).
    variant(`pgvault zstd -${level}, no table digests`, () => runApp(bench, { tableDigests: false })),
  ];
  await alternate(bench.options.runs, [baseline, ceiling, ...apps]);
  printResults(bench, baseline, ceiling, apps);
});
