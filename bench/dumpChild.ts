/**
 * One run of the app's backup path, alone in its own Node process so its peak RSS is the app's: `dumpToVault`
 * streams pg_dump into the vault. Started by bench/backup.ts as `node --import tsx bench/dumpChild.ts <expectedBytes>
 * <recoveryPointId>` with VaultStorage and PG_BIN_DIR set and the database's credentials in the libpq environment
 * (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD). Prints one JSON line: ChildResult.
 */
import { dumpToVault } from "../shared/backup/dumpToVault";
import type { ConnectionParams } from "../shared/postgres/connection";

export interface ChildResult {
  blobPath: string;
  sizeBytes: number;
  sha256: string;
  seconds: number;
  /** process.resourceUsage().maxRSS (KiB) before the dump: Node and the app's modules. */
  startRssKiB: number;
  /** process.resourceUsage().maxRSS (KiB) at the end: the process's peak resident set size. */
  maxRssKiB: number;
  /** CPU seconds (user + system) the Node process spent during the dump; pg_dump's own CPU is not included. */
  cpuSeconds: number;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const [expectedBytes, recoveryPointId] = process.argv.slice(2);
  if (!expectedBytes || !recoveryPointId) throw new Error("usage: dumpChild.ts <expectedBytes> <recoveryPointId>");
  const params: ConnectionParams = {
    host: required("PGHOST"),
    port: Number(required("PGPORT")),
    database: required("PGDATABASE"),
    user: required("PGUSER"),
    password: required("PGPASSWORD"),
    sslMode: "disable",
  };
  const startRssKiB = process.resourceUsage().maxRSS;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const stored = await dumpToVault(params, { instanceName: "bench", recoveryPointId, expectedBytes: Number(expectedBytes) });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const result: ChildResult = { ...stored, seconds, startRssKiB, maxRssKiB: process.resourceUsage().maxRSS, cpuSeconds };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
