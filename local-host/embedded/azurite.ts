/**
 * Azurite (the real local Azure Storage) on loopback: in memory on free ports for tests, or persisted in a
 * folder on the usual ports (10000-10002, when free) for the local host.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { freePort, isPortFree, waitForPort } from "./ports";
import { endProcess, findProcesses, hasOption } from "./processes";

export const devAccount = "devstoreaccount1";
export const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteInstance {
  blobPort: number;
  queuePort: number;
  tablePort: number;
  connectionString: string;
  /** Its process (the catalog benchmark signals it: bench/azuriteSeedMode.ts). */
  pid: number;
  stop(): Promise<void>;
}

export function azuriteConnectionString(blobPort: number, queuePort: number, tablePort: number, protocol: "http" | "https" = "http"): string {
  return [
    `DefaultEndpointsProtocol=${protocol}`,
    `AccountName=${devAccount}`,
    `AccountKey=${devKey}`,
    `BlobEndpoint=${protocol}://127.0.0.1:${blobPort}/${devAccount}`,
    `QueueEndpoint=${protocol}://127.0.0.1:${queuePort}/${devAccount}`,
    `TableEndpoint=${protocol}://127.0.0.1:${tablePort}/${devAccount}`,
  ].join(";");
}

export interface AzuriteOptions {
  /** Persist data in this folder; default in memory. */
  location?: string;
  /** Ports to use when they are free (otherwise free ones are picked). */
  preferredPorts?: [number, number, number];
  /** Serve HTTPS with this certificate and accept Entra bearer tokens (Azurite's `--oauth basic`). */
  tls?: { certFile: string; keyFile: string };
}

async function pickPort(preferred: number | undefined): Promise<number> {
  return preferred !== undefined && (await isPortFree(preferred)) ? preferred : freePort();
}

/** Resolved when needed: Azurite is a dev dependency, and the module loads without it. */
function azuriteBin(): string {
  return createRequire(__filename).resolve("azurite/dist/src/azurite.js");
}

/**
 * Stops an Azurite this module started on `location` that outlived the process that started it. Killing a
 * process does not signal its children (a terminal's Ctrl-C signals the whole group, `kill -9 <pid>` only the pid),
 * so Azurite keeps running, holding its ports and its files. Azurite takes no lock on its folder: a second one on the
 * same files would keep its own copy of the metadata in memory and each would overwrite the other's saves. SIGTERM
 * lets it close its servers and save (azurite/dist/src/azurite.js, shutdown()). The caller makes sure no live
 * process of its own still uses the folder (the local host claims its data folder first: dataDirClaim.ts).
 */
async function stopLeftoverAzurite(location: string): Promise<void> {
  const bin = azuriteBin();
  const leftovers = findProcesses((argv) => argv.includes(bin) && hasOption(argv, "--location", location));
  for (const pid of leftovers) {
    console.log(`Azurite (embedded): stopping the one a previous run left on ${location} (pid ${pid})`);
    await endProcess(pid, "SIGTERM", 15_000);
  }
}

/** Starts tried before giving up when Azurite exits before it listens. */
const startAttempts = 3;

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteInstance> {
  // Absolute, so a later start finds this one by its arguments whatever its working directory.
  const location = options.location && path.resolve(options.location);
  if (location) await stopLeftoverAzurite(location);
  const persistence = location ? ["--location", location] : ["--inMemoryPersistence"];
  const tls = options.tls ? ["--cert", options.tls.certFile, "--key", options.tls.keyFile, "--oauth", "basic"] : [];
  for (let attempt = 1; ; attempt++) {
    // A free port is free when picked, not when Azurite binds it: a process started beside this one (the test
    // setup starts two Azurites and PostgreSQL at once) may take it in between, and Azurite then exits at once
    // (EADDRINUSE). Fresh ports on the next attempt; the preferred ones only on the first.
    const preferred = attempt === 1 ? options.preferredPorts : undefined;
    const [blobPort, queuePort, tablePort] = [await pickPort(preferred?.[0]), await pickPort(preferred?.[1]), await pickPort(preferred?.[2])];
    const child: ChildProcess = spawn(
      process.execPath,
      [
        azuriteBin(), "--silent", ...persistence, ...tls, "--disableTelemetry", "--skipApiVersionCheck",
        "--blobHost", "127.0.0.1", "--blobPort", String(blobPort),
        "--queueHost", "127.0.0.1", "--queuePort", String(queuePort),
        "--tableHost", "127.0.0.1", "--tablePort", String(tablePort),
      ],
      { stdio: "ignore" },
    );
    const exited = new Promise<"exited">((resolve) => child.once("exit", () => resolve("exited")));
    const listening = Promise.all([waitForPort(blobPort), waitForPort(queuePort), waitForPort(tablePort)]).then(() => "listening" as const);
    listening.catch(() => undefined); // still polling when Azurite exited first: its timeout is not an error then
    if ((await Promise.race([listening, exited])) === "exited") {
      if (attempt < startAttempts) continue;
      throw new Error(`Azurite exited before it listened on ports ${blobPort}, ${queuePort} and ${tablePort} (${startAttempts} attempts)`);
    }
    return runningAzurite(child, blobPort, queuePort, tablePort, options);
  }
}

function runningAzurite(child: ChildProcess, blobPort: number, queuePort: number, tablePort: number, options: AzuriteOptions): AzuriteInstance {
  return {
    blobPort,
    queuePort,
    tablePort,
    connectionString: azuriteConnectionString(blobPort, queuePort, tablePort, options.tls ? "https" : "http"),
    pid: child.pid!,
    async stop() {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}
