/**
 * An Azurite persisted in a folder, which a test can stop (as a storage outage) and start again on the same ports
 * with the same data. Free of app imports, so a test that loads the compiled app into its own process can use it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";

export interface RestartableAzurite {
  connectionString: string;
  /** Stops the process (SIGTERM, as a service stop); its data stays in the folder. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and folder. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRestartableAzurite(): Promise<RestartableAzurite> {
  const folder = mkdtempSync(path.join(tmpdir(), "pgvault-fault-azurite-"));
  let running: AzuriteInstance | undefined = await startAzurite({ location: folder });
  const ports: [number, number, number] = [running.blobPort, running.queuePort, running.tablePort];
  const connectionString = running.connectionString;
  return {
    connectionString,
    async stop() {
      await running?.stop();
      running = undefined;
    },
    async start() {
      const started = await startAzurite({ location: folder, preferredPorts: ports });
      running = started;
      if (started.connectionString !== connectionString) {
        throw new Error(`Azurite came back on other ports (${started.blobPort}, ${started.queuePort}, ${started.tablePort}) than ${ports.join(", ")}`);
      }
    },
    async destroy() {
      await running?.stop();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
