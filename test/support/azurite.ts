/** Azurite (the real local Azure Storage) on free loopback ports, in memory. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort, waitForPort } from "./ports";

export const devAccount = "devstoreaccount1";
export const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteInstance {
  blobPort: number;
  queuePort: number;
  tablePort: number;
  connectionString: string;
  stop(): Promise<void>;
}

export function azuriteConnectionString(blobPort: number, queuePort: number, tablePort: number): string {
  return [
    "DefaultEndpointsProtocol=http",
    `AccountName=${devAccount}`,
    `AccountKey=${devKey}`,
    `BlobEndpoint=http://127.0.0.1:${blobPort}/${devAccount}`,
    `QueueEndpoint=http://127.0.0.1:${queuePort}/${devAccount}`,
    `TableEndpoint=http://127.0.0.1:${tablePort}/${devAccount}`,
  ].join(";");
}

export async function startAzurite(): Promise<AzuriteInstance> {
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const bin = path.join(process.cwd(), "node_modules", "azurite", "dist", "src", "azurite.js");
  const child: ChildProcess = spawn(
    process.execPath,
    [
      bin, "--silent", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck",
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
    connectionString: azuriteConnectionString(blobPort, queuePort, tablePort),
    async stop() {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}
