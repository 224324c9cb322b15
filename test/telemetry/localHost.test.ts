/**
 * The compiled app on the local host (as `npm start` runs it) with APPLICATIONINSIGHTS_CONNECTION_STRING set: it
 * starts, serves, backs up, and the backup's metrics reach the ingestion stand-in when the host shuts down (the
 * worker's appTerminate hook exports what is pending; the 60 s interval has not come round by then).
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { Job } from "../../shared/domain";
import { metricsIn, startIngestionStandIn, type IngestionStandIn } from "../support/appInsightsIngestion";
import { callHost, configureHostedDatabase, type HostProcess, repoRoot, startHostProcess, waitUntil } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, uniqueName } from "../support/testDatabase";

const database = uniqueName("telemetry");
const role = uniqueName("telemetry_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const policyName = uniqueName("telpol").replaceAll("_", "-");
const instanceName = uniqueName("telinst").replaceAll("_", "-");
let ingestion: IngestionStandIn;
let host: HostProcess | undefined;

beforeAll(async () => {
  await createDatabase(database);
  await createBackupRole(database, role, "pw-telemetry");
  ingestion = await startIngestionStandIn(inject("tls"));
  const storage = inject("vaultConnectionString");
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: storage,
    VaultStorage: storage,
    PG_BIN_DIR: cluster().binDir,
    [secretSetting]: `postgres://${role}:pw-telemetry@${cluster().host}:${cluster().port}/x?sslmode=disable`,
    APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString,
    APPLICATION_INSIGHTS_NO_STATSBEAT: "true",
  });
});

afterAll(async () => {
  await host?.kill("SIGKILL");
  await ingestion?.close();
});

const call = (method: string, route: string, body?: unknown) => callHost(host!.origin, method, route, body);

test("when a backup runs on the host with the connection string set, then its metrics are exported by the time the host stops", async () => {
  await configureHostedDatabase(host!.origin, { policyName, instanceName }, { host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` });
  const accepted = await call("POST", `/api/backupInstances/${instanceName}/backup`);
  expect(accepted.status).toBe(202);
  const jobId = (accepted.json as { jobId: string }).jobId;
  // The orchestration's end, not only the row's: the activity that finished the job has returned by then.
  await waitUntil(async () => {
    const status = await call("GET", `/runtime/webhooks/durabletask/instances/${jobId}`);
    return (status.json as { runtimeStatus?: string } | undefined)?.runtimeStatus === "Completed" ? true : undefined;
  }, 60_000, `orchestration ${jobId} Completed`);
  const job = (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job;
  expect(job).toMatchObject({ status: "Succeeded", trigger: "OnDemand" });
  expect(metricsIn(ingestion.envelopes)).toEqual([]);

  await host!.kill("SIGTERM");
  host = undefined;

  // The host's scheduler also backs up instances other test files left in the shared vault: pick this job's series.
  const metrics = metricsIn(ingestion.envelopes);
  expect(metrics.find((m) => m.name === "pgvault.backup.bytes" && m.properties.instance === instanceName)).toMatchObject({
    value: job.bytes,
    count: 1,
    properties: { instance: instanceName, trigger: "OnDemand" },
  });
  expect(job.bytes).toBeGreaterThan(0);
  expect(metrics.find((m) => m.name === "pgvault.job.duration" && m.properties.trigger === "OnDemand")).toMatchObject({
    count: 1,
    properties: { operation: "Backup", status: "Succeeded", trigger: "OnDemand" },
  });
  expect(new Set(ingestion.envelopes.map((envelope) => envelope.data.baseType))).toEqual(new Set(["MetricData"]));
});
