/**
 * The local Functions host: loads the app's registrations, then serves its HTTP triggers, runs its timers and
 * its durable orchestrations. `startHost` is what `npm start` and the end-to-end tests run.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { LogLevel } from "./coreTypes";
import { DurableEngine, type TerminateDelivery } from "./durable/engine";
import { enabledFunctions } from "./disabledFunctions";
import { createManagementApi, durableClientPayload, webhookPrefix } from "./durable/managementApi";
import { DurableStore } from "./durable/store";
import { registry } from "./functionsCore";
import { createHttpFront } from "./httpServer";
import { runAppStartHooks, runAppTerminateHooks } from "./invoke";
import { loadApp } from "./loadApp";
import { resolveSettingReferences } from "./ncrontab";
import { startTimers } from "./timers";

export interface HostOptions {
  appRoot: string;
  port: number;
  settings: Record<string, string>;
  log?: (level: LogLevel, source: string, message: string) => void;
}

export interface RunningHost {
  origin: string;
  functionNames: string[];
  stop(): Promise<void>;
}

interface HostJson {
  extensions?: { durableTask?: { hubName?: string; maxConcurrentActivityFunctions?: number } };
}

const defaultLog = (level: LogLevel, source: string, message: string) => {
  const line = `${new Date().toISOString()} [${level}] ${source}: ${message}`;
  if (level === "error" || level === "critical" || level === "warning") console.error(line);
  else console.log(line);
};

/** Shorter keys are refused: the key is the only thing between a local process or web page and the API. */
const minApiKeyLength = 16;

/** PGVAULT_API_KEY: the key function-level routes and the Durable webhooks then need (docs/local-host.md). */
export function apiKeyOf(settings: Record<string, string>): string | undefined {
  const key = settings.PGVAULT_API_KEY?.trim();
  if (!key) return undefined;
  if (key.length < minApiKeyLength || /[\s\u0000-\u001f]/.test(key)) {
    throw new Error(`Setting PGVAULT_API_KEY must be at least ${minApiKeyLength} characters without spaces or control characters.`);
  }
  return key;
}

/** PGVAULT_LOCAL_TERMINATE: how a terminate takes effect (docs/local-host.md); tests use `queued`, Azure's order. */
export function terminateDeliveryOf(settings: Record<string, string>): TerminateDelivery {
  const value = settings.PGVAULT_LOCAL_TERMINATE?.trim() || "immediate";
  if (value !== "immediate" && value !== "queued" && value !== "late") {
    throw new Error("Setting PGVAULT_LOCAL_TERMINATE must be 'immediate', 'queued' or 'late'.");
  }
  return value;
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const log = options.log ?? defaultLog;
  const storage = options.settings.AzureWebJobsStorage;
  if (!storage) throw new Error("App setting AzureWebJobsStorage is required (the durable task hub lives there).");
  const apiKey = apiKeyOf(options.settings);
  // With a key, the public webhook needs it; the app's own durable client calls an unguessable path instead.
  const rpcPrefix = apiKey ? `/runtime/rpc-${randomBytes(16).toString("hex")}/durabletask/` : webhookPrefix;
  const hostJson = JSON.parse(readFileSync(path.join(options.appRoot, "host.json"), "utf8")) as HostJson;
  const durableSettings = hostJson.extensions?.durableTask ?? {};
  // Like the Functions host, hubName may reference an app setting (%NAME%).
  const hubName = resolveSettingReferences(durableSettings.hubName ?? "TestHubName", options.settings);

  registry.logSink = (level, category, message) => log(level, category, message);
  const { functions } = loadApp(options.appRoot);
  await runAppStartHooks(options.appRoot);

  let origin = "";
  const clientPayload = () => durableClientPayload(origin, hubName, `${origin}${rpcPrefix}`);
  const store = new DurableStore(storage, hubName);
  const engine = new DurableEngine(store, functions, {
    maxConcurrentActivities: durableSettings.maxConcurrentActivityFunctions ?? 10,
    terminate: terminateDeliveryOf(options.settings),
    durableClientPayload: clientPayload,
    log,
  });
  await engine.start();
  // The durable engine runs every orchestration and activity; triggers from outside honour the Disabled settings.
  const triggered = enabledFunctions(functions, options.settings, log);
  const server = createHttpFront({
    functions: triggered,
    management: createManagementApi(engine, store),
    durableClientPayload: clientPayload,
    log,
    apiKey,
    rpcPrefix,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // durable-functions rewrites status URLs to localhost:7071 unless WEBSITE_HOSTNAME names the real origin.
  process.env.WEBSITE_HOSTNAME ??= origin.replace("http://", "");
  const timers = await startTimers({
    functions: triggered,
    settings: options.settings,
    connectionString: storage,
    hubName,
    durableClientPayload: clientPayload,
    log,
  });
  return {
    origin,
    functionNames: [...functions.keys()].sort(),
    async stop() {
      timers.stop();
      engine.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runAppTerminateHooks();
    },
  };
}
