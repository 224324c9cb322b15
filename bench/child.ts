/**
 * What the benchmark child processes (bench/dumpChild.ts, bench/restoreChild.ts) share. Kept free of heavy
 * imports: whatever this module loads counts towards the child's peak RSS.
 */
import type { ConnectionParams } from "../shared/postgres/connection";

export interface Measurement {
  seconds: number;
  /** process.resourceUsage().maxRSS (KiB) before the work: Node and the app's modules. */
  startRssKiB: number;
  /** process.resourceUsage().maxRSS (KiB) at the end: the process's peak resident set size. */
  maxRssKiB: number;
  /** CPU seconds (user + system) of the Node process during the work; pg_dump's or pg_restore's own CPU is not included. */
  cpuSeconds: number;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The database the parent passed in the libpq environment (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD). */
export function paramsFromEnv(): ConnectionParams {
  return {
    host: required("PGHOST"),
    port: Number(required("PGPORT")),
    database: required("PGDATABASE"),
    user: required("PGUSER"),
    password: required("PGPASSWORD"),
    sslMode: "disable",
  };
}

/** Runs `work`, measures it and prints its result with the measurement as one JSON line on stdout. */
export function measureAndPrint<T extends object>(work: () => Promise<T>): void {
  const run = async (): Promise<void> => {
    const startRssKiB = process.resourceUsage().maxRSS;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const result = await work();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const measurement: Measurement = { seconds, startRssKiB, maxRssKiB: process.resourceUsage().maxRSS, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    process.stdout.write(`${JSON.stringify({ ...result, ...measurement })}\n`);
  };
  run().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
