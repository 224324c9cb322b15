/**
 * Azurite (the real local Azure Storage) on loopback: in memory on free ports for tests, or persisted in a
 * folder on the usual ports (10000-10002, when free) for the local host.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { freePort, isPortFree, waitForPort } from "./ports";

export const devAccount = "devstoreaccount1";
export const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteInstance {
  blobPort: number;
  queuePort: number;
  tablePort: number;
  connectionString: string;
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

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteInstance> {
  const preferred = options.preferredPorts;
  const [blobPort, queuePort, tablePort] = [await pickPort(preferred?.[0]), await pickPort(preferred?.[1]), await pickPort(preferred?.[2])];
  const persistence = options.location ? ["--location", options.location] : ["--inMemoryPersistence"];
  const tls = options.tls ? ["--cert", options.tls.certFile, "--key", options.tls.keyFile, "--oauth", "basic"] : [];
  const bin = createRequire(__filename).resolve("azurite/dist/src/azurite.js");
  const child: ChildProcess = spawn(
    process.execPath,
    [
      bin, "--silent", ...persistence, ...tls, "--disableTelemetry", "--skipApiVersionCheck",
      "--blobHost", "127.0.0.1", "--blobPort", String(blobPort),
      "--queueHost", "127.0.0.1", "--queuePort", String(queuePort),
      "--tableHost", "127.0.0.1", "--tablePort", String(tablePort),
    ],
    { stdio: "ignore" },
  );
  await Promise.all([waitForPort(blobPort), waitForPort(queuePort), waitForPort(tablePort)]);
  return {
    blobPort,
    queuePort,
    tablePort,
    connectionString: azuriteConnectionString(blobPort, queuePort, tablePort, options.tls ? "https" : "http"),
    async stop() {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}
