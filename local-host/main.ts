/**
 * `npm start`: the app on http://127.0.0.1:${PORT:-7071}/api without Azure Functions Core Tools. With no storage
 * configured it starts Azurite (data in `.local-host/azurite`); with no database of yours configured it starts
 * the demo (demo.ts). Ctrl-C stops everything it started.
 */
import path from "node:path";
import { startAzurite, type AzuriteInstance } from "./embedded/azurite";
import { claimDataDir, type DataDirClaim } from "./embedded/dataDirClaim";
import type { PostgresCluster } from "./embedded/postgres";
import { demoInstance, hasOwnInstances, startDemo } from "./demo";
import { startHost, type RunningHost } from "./host";
import { applySettings, loadSettings } from "./settings";

async function main(): Promise<void> {
  const appRoot = process.cwd();
  const settings = loadSettings(appRoot);
  // Where embedded Azurite and the demo cluster keep their data (git-ignored by default). Absolute: a later start
  // recognises what this one left running by the folder in its command line.
  const dataDir = path.resolve(appRoot, settings.PGVAULT_LOCAL_DATA || ".local-host");
  // Claimed before an embedded service starts in it: a start stops what it finds running there, which must be a
  // killed host's leftovers, never a running host's (embedded/dataDirClaim.ts).
  let claim: DataDirClaim | undefined;
  const claimData = () => (claim ??= claimDataDir(dataDir));
  let azurite: AzuriteInstance | undefined;
  let host: RunningHost | undefined;
  let demoCluster: PostgresCluster | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping...");
    await host?.stop().catch(() => undefined);
    await demoCluster?.stop().catch(() => undefined);
    await azurite?.stop().catch(() => undefined);
    claim?.release();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  try {
    if (!settings.AzureWebJobsStorage && !settings.VaultStorage) {
      claimData();
      azurite = await startAzurite({ location: path.join(dataDir, "azurite"), preferredPorts: [10000, 10001, 10002] });
      settings.AzureWebJobsStorage = azurite.connectionString;
      settings.VaultStorage = azurite.connectionString;
      console.log(`Azurite (embedded): blob ${azurite.blobPort}, queue ${azurite.queuePort}, table ${azurite.tablePort}`);
    }
    applySettings(settings);
    host = await startHost({ appRoot, port: Number(settings.PORT ?? 7071), settings });
    console.log(`pgvault is serving ${host.origin}/api (${host.functionNames.length} functions)`);

    // Under appServiceRoles nothing here could sign the demo's calls in (docs/local-host.md): no demo then.
    const rolesMode = settings.AUTH_MODE?.trim().toLowerCase() === "appserviceroles";
    if (rolesMode && settings.PGVAULT_DEMO !== "off") console.log("demo: skipped (AUTH_MODE=appServiceRoles)");
    if (!rolesMode && settings.PGVAULT_DEMO !== "off" && !(await hasOwnInstances(host.origin))) {
      claimData();
      const demo = await startDemo(dataDir, host.origin);
      demoCluster = demo.cluster;
      console.log(`demo: PostgreSQL on 127.0.0.1:${demo.cluster.port}, instance '${demoInstance}'${demo.jobId ? `, first backup job ${demo.jobId}` : ""}`);
    }
    // The key itself is not printed: terminals and CI logs keep what they show.
    const key = settings.PGVAULT_API_KEY?.trim() ? " -H 'x-functions-key: <PGVAULT_API_KEY>'" : "";
    console.log(`
try:
  curl ${host.origin}/api/health
  curl${key} ${host.origin}/api/backupInstances
  curl${key} -X POST ${host.origin}/api/backupInstances/${demoInstance}/backup
  curl${key} ${host.origin}/api/jobs
  curl${key} ${host.origin}/api/backupInstances/${demoInstance}/recoveryPoints
Ctrl-C stops everything started here.`);
  } catch (err) {
    console.error(`start failed: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
}

void main();
