/**
 * The local host as tests use it: the compiled JavaScript (as `npm start` runs it), loaded natively so the app's
 * `require("@azure/functions-core")` reaches the host's implementation; or a separate host process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { inject } from "vitest";
import type * as HostModule from "../../local-host/host";
import { freePort } from "../../local-host/embedded/ports";

const requireNative = createRequire(__filename);
export const repoRoot = path.resolve(__dirname, "..", "..");

export function compiledHost(): typeof HostModule {
  return requireNative(path.join(repoRoot, "dist", "local-host", "host.js")) as typeof HostModule;
}

export interface HostProcess {
  origin: string;
  /** The host's process id (its pg_dump and pg_restore processes are its children). */
  pid: number;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface HostProcessOptions {
  port?: number;
  /**
   * Run the host on a virtual clock (test/support/virtualClock.cjs, preloaded with `--require`, not through
   * NODE_OPTIONS, so no process the host starts inherits it), set over an IPC channel.
   */
  virtualClock?: boolean;
  /** With `virtualClock`: how far ahead the clock is from the host's first instant (default 0). */
  clockOffsetMs?: number;
}

/** A host on a virtual clock: its `Date` runs `ms` ahead of real time once `setClockOffset(ms)` resolved. */
export interface VirtualClockHost extends HostProcess {
  setClockOffset(ms: number): Promise<void>;
}

const virtualClockPreload = path.join(__dirname, "virtualClock.cjs");

/**
 * `node dist/local-host/main.js` in `cwd` (the app root), with the given extra environment. Terminations are
 * queued as in Azure (PGVAULT_LOCAL_TERMINATE=queued): a terminated job may still run one more episode.
 */
export function startHostProcess(cwd: string, env: Record<string, string>, options: HostProcessOptions & { virtualClock: true }): Promise<VirtualClockHost>;
export function startHostProcess(cwd: string, env: Record<string, string>, options?: HostProcessOptions): Promise<HostProcess>;
export async function startHostProcess(cwd: string, env: Record<string, string>, options: HostProcessOptions = {}): Promise<HostProcess | VirtualClockHost> {
  const chosen = options.port ?? (await freePort());
  const preload = options.virtualClock ? ["--require", virtualClockPreload] : [];
  const clock = options.virtualClock ? { PGVAULT_TEST_CLOCK_OFFSET_MS: String(options.clockOffsetMs ?? 0) } : {};
  const child: ChildProcess = spawn(process.execPath, [...preload, path.join(repoRoot, "dist", "local-host", "main.js")], {
    cwd,
    env: { ...process.env, PORT: String(chosen), PGVAULT_DEMO: "off", PGVAULT_LOCAL_TERMINATE: "queued", ...clock, ...env },
    stdio: ["ignore", "pipe", "pipe", ...(options.virtualClock ? (["ipc"] as const) : [])],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const origin = `http://127.0.0.1:${chosen}`;
  const deadline = Date.now() + 30_000;
  while (!output.includes("is serving")) {
    if (child.exitCode !== null) throw new Error(`host exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`host did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const host: HostProcess = {
    origin,
    pid: child.pid!,
    output: () => output,
    kill: (signal = "SIGKILL") =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
  };
  return options.virtualClock ? { ...host, setClockOffset: (ms) => setClockOffset(child, ms) } : host;
}

/** Sends the offset to the host's virtual clock; resolves on its acknowledgement (the offset is then in effect). */
function setClockOffset(child: ChildProcess, offsetMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const acknowledged = (message: unknown) => {
      const answer = message as { type?: string; offsetMs?: number } | null;
      if (answer?.type !== "clockOffsetSet" || answer.offsetMs !== offsetMs) return;
      settle();
      resolve();
    };
    const exited = () => {
      settle();
      reject(new Error("the host exited before it acknowledged the clock offset"));
    };
    const settle = () => {
      child.off("message", acknowledged);
      child.off("exit", exited);
    };
    child.on("message", acknowledged);
    child.once("exit", exited);
    child.send({ type: "setClockOffset", offsetMs }, (err) => {
      if (!err) return;
      settle();
      reject(err);
    });
  });
}

/**
 * The app on a host process as the suite runs it: task hub and vault in the suite's Azurite, pg_dump and pg_restore
 * of its PostgreSQL cluster, plus `settings` (the secrets its instances name).
 */
export function startAppHost(settings: Record<string, string>): Promise<HostProcess> {
  const storage = inject("vaultConnectionString");
  return startHostProcess(repoRoot, { AzureWebJobsStorage: storage, VaultStorage: storage, PG_BIN_DIR: inject("postgres").binDir, ...settings });
}

export async function waitUntil<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface HostAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown> | undefined;
}

/** Calls a route of a running host with a JSON body (a string body is sent as it is, malformed or not). */
export async function callHost(origin: string, method: string, route: string, body?: unknown): Promise<HostAnswer> {
  const response = await fetch(`${origin}${route}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

/** A daily policy and a `database` instance of it on the test cluster, through the API; both must be created. */
export async function configureHostedDatabase(
  origin: string,
  names: { policyName: string; instanceName: string },
  datasource: { host: string; port: number; database: string; secretRef: string },
): Promise<void> {
  const policy = { datasourceType: "database", schedule: { repeatingIntervals: ["R/2026-01-01T03:00:00Z/P1D"], timeZone: "UTC" }, retention: { default: { duration: "P7D" } } };
  const created = await callHost(origin, "PUT", `/api/backupPolicies/${names.policyName}`, policy);
  if (created.status !== 201) throw new Error(`policy not created: ${created.status} ${JSON.stringify(created.json)}`);
  const instance = await callHost(origin, "PUT", `/api/backupInstances/${names.instanceName}`, { policyName: names.policyName, datasource: { type: "database", ...datasource } });
  if (instance.status !== 201) throw new Error(`instance not created: ${instance.status} ${JSON.stringify(instance.json)}`);
}
