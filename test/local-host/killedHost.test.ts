/**
 * A host killed with SIGKILL (a user's `kill -9`) leaves its demo PostgreSQL and its Azurite running: pg_ctl runs
 * the server in its own session, and killing a process does not signal its children. The next `npm start` in the
 * same data folder stops both and comes up; a start while a host still runs there is refused; a clean stop leaves
 * nothing running. Also: a demo cluster whose stale lock file names a pid now used by another process starts.
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, expect, test } from "vitest";
import type { Job } from "../../shared/domain";
import { startPostgresCluster, systemPgBinDir } from "../../local-host/embedded/postgres";
import { commandLine, endProcess, findProcesses } from "../../local-host/embedded/processes";
import { callHost, repoRoot, startHostProcess, waitUntil, type HostProcess } from "../support/localHost";

const dataDir = mkdtempSync(path.join(tmpdir(), "pgvault-killed-host-"));
// Reachable by the postgres OS user, so the demo cluster stays inside it (and goes with it).
chmodSync(dataDir, 0o755);
const embeddedDefaults = { AzureWebJobsStorage: "", VaultStorage: "", PGVAULT_DEMO: "on", PGVAULT_LOCAL_DATA: dataDir };

/** Processes started on the folder: the demo's postmaster (`-D <dir>/postgres/data`) and Azurite (`--location`). */
function processesOn(folder: string): number[] {
  return findProcesses((argv) => argv.some((arg) => arg.startsWith(folder)));
}

afterAll(async () => {
  // Whatever a failed run left behind.
  await Promise.all(processesOn(dataDir).map((pid) => endProcess(pid, "SIGTERM", 10_000)));
  rmSync(dataDir, { recursive: true, force: true });
});

async function startWithDemo(): Promise<{ host: HostProcess; demoPort: number }> {
  const host = await startHostProcess(repoRoot, embeddedDefaults);
  const demoLine = await waitUntil(async () => {
    if (host.output().includes("start failed:")) throw new Error("the host's start failed");
    return /demo: PostgreSQL on 127\.0\.0\.1:(\d+)/.exec(host.output()) ?? undefined;
  }, 60_000, "demo started").catch(async (err: unknown) => {
    await host.kill("SIGINT");
    throw new Error(`${String(err)}\n${host.output()}`);
  });
  return { host, demoPort: Number(demoLine[1]) };
}

async function succeededJob(origin: string, jobId: string): Promise<Job> {
  return waitUntil(async () => {
    const job = (await callHost(origin, "GET", `/api/jobs/${jobId}`)).json as Job | undefined;
    if (job?.status === "Failed") throw new Error(`job ${jobId} failed: ${JSON.stringify(job)}`);
    return job?.status === "Succeeded" ? job : undefined;
  }, 60_000, `job ${jobId} succeeded`);
}

test("when a host was killed with SIGKILL, then the next start in its data folder stops what it left running, comes up and serves, and a clean stop leaves nothing", async () => {
  const first = await startWithDemo();
  const firstJobId = /first backup job (\S+)/.exec(first.host.output())?.[1];
  expect(firstJobId).toBeDefined();
  // No job of the first host runs across the kill, so the later backup is not refused as one in progress.
  await succeededJob(first.host.origin, firstJobId!);
  const leftovers = processesOn(dataDir).map((pid) => ({ pid, argv: commandLine(pid)! }));
  expect(leftovers.map(({ argv }) => argv.join(" "))).toEqual(
    expect.arrayContaining([expect.stringContaining("azurite.js"), expect.stringMatching(/\/postgres -D /)]),
  );

  await first.host.kill("SIGKILL");
  // What makes this test necessary: both outlive the host.
  for (const { pid } of leftovers) expect(commandLine(pid)).toBeDefined();

  const second = await startWithDemo();
  try {
    for (const { pid, argv } of leftovers) expect(commandLine(pid)?.join(" ")).not.toBe(argv.join(" "));
    expect(second.host.output()).toMatch(/Azurite \(embedded\): stopping the one a previous run left/);
    expect(second.host.output()).toMatch(/PostgreSQL: stopping the server a previous run left/);
    expect((await callHost(second.host.origin, "GET", "/api/health")).status).toBe(200);
    const instance = await callHost(second.host.origin, "GET", "/api/backupInstances/demo-sales");
    expect(instance.status).toBe(200);
    expect((instance.json?.datasource as { port: number }).port).toBe(second.demoPort);
    // The restarted cluster and Azurite carry a whole backup.
    const backup = await callHost(second.host.origin, "POST", "/api/backupInstances/demo-sales/backup");
    expect(backup.status).toBe(202);
    await succeededJob(second.host.origin, backup.json?.jobId as string);

    // While a host runs on the folder, a second one is refused and stops nothing of it.
    await expect(startHostProcess(repoRoot, embeddedDefaults)).rejects.toThrow(/another local host \(pid \d+\) is using/);
    expect((await callHost(second.host.origin, "GET", "/api/backupInstances/demo-sales")).status).toBe(200);
  } finally {
    await second.host.kill("SIGINT");
  }
  expect(processesOn(dataDir)).toEqual([]);
  expect(existsSync(path.join(dataDir, "host.pid"))).toBe(false);
}, 240_000);

interface Occupant {
  pid: number;
  stop(): void;
}

/** A process of the server's OS user (the postgres user, as root) that is no PostgreSQL server. */
function otherProgramOf(owner: { uid: number; gid: number }): Occupant {
  const child = spawn("sleep", ["120"], { stdio: "ignore", ...(userInfo().uid === 0 ? owner : {}) });
  return { pid: child.pid!, stop: () => child.kill("SIGKILL") };
}

/** Above any pid the kernel hands out (pid_max is at most 2^22, proc(5)). */
function endedProcess(): Occupant {
  return { pid: 4_194_304, stop: () => undefined };
}

test.each([
  ["has ended", endedProcess],
  ["now runs another program of the postgres OS user", otherProgramOf],
])("when the demo cluster's stale postmaster.pid names a pid that %s, then it starts", async (_what, occupant) => {
  const keepIn = mkdtempSync(path.join(tmpdir(), "pgvault-stale-lock-"));
  chmodSync(keepIn, 0o755);
  const first = await startPostgresCluster(systemPgBinDir, {}, keepIn);
  const lockFile = path.join(first.dataDir, "postmaster.pid");
  const lock = readFileSync(lockFile, "utf8");
  await first.stop();
  const owner = statSync(first.dataDir);
  const { pid, stop } = occupant(owner);
  try {
    // As a killed host's server leaves it when it dies too (say, at a reboot), and its pid goes to another process.
    writeFileSync(lockFile, lock.replace(/^\d+/, String(pid)), { mode: 0o600 });
    chownSync(lockFile, owner.uid, owner.gid);
    const second = await startPostgresCluster(systemPgBinDir, {}, keepIn);
    try {
      const client = new pg.Client({ host: second.host, port: second.port, user: second.user, password: second.password, database: "postgres" });
      await client.connect();
      expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      await client.end();
    } finally {
      await second.destroy();
    }
  } finally {
    stop();
    rmSync(keepIn, { recursive: true, force: true });
  }
});
