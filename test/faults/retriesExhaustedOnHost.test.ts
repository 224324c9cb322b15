/**
 * On the local host, as `npm start` runs the app: the catalog refuses the recovery point's row through every
 * attempt the retry policy allows (a proxy in front of this file's own Azurite answers those writes 503 at once).
 * The job must end Failed, the orchestration must reach a final runtime status (it goes on after the exhausted
 * retry: job row, lock release, which is where ids drifted before the engine replayed as the extension does), and
 * the instance's lock must be free at once: the next on-demand backup is accepted and succeeds.
 *
 * About 80 s: the retry policy's intervals (10, 20, 40 s) are real durable timers here.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import type { Job } from "../../shared/domain";
import { startFailingTableProxy, tableEndpointOf, withTableEndpoint, type FailingTableProxy } from "../support/failingTableProxy";
import { callHost, configureHostedDatabase, repoRoot, startHostProcess, waitUntil, type HostProcess } from "../support/localHost";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

const database = uniqueName("exhausted");
const role = uniqueName("exhausted_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const policyName = uniqueName("expol").replaceAll("_", "-");
const instanceName = uniqueName("exinst").replaceAll("_", "-");
let azurite: AzuriteInstance;
let tables: FailingTableProxy;
let host: HostProcess;

beforeAll(async () => {
  azurite = await startAzurite();
  tables = await startFailingTableProxy(tableEndpointOf(azurite.connectionString));
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-exhausted");
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: azurite.connectionString,
    VaultStorage: withTableEndpoint(azurite.connectionString, tables.tableEndpoint),
    PG_BIN_DIR: cluster().binDir,
    [secretSetting]: `postgres://${role}:pw-exhausted@${cluster().host}:${cluster().port}/x?sslmode=disable`,
  });
  await configureHostedDatabase(host.origin, { policyName, instanceName }, { host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` });
});
afterAll(async () => {
  await host?.kill("SIGTERM");
  await tables?.close();
  await azurite?.stop();
});

const call = (method: string, route: string, body?: unknown) => callHost(host.origin, method, route, body);

async function finishedJob(jobId: string, timeoutMs: number): Promise<Job> {
  return waitUntil(async () => {
    const job = (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job;
    return ["Succeeded", "Failed", "Cancelled"].includes(job.status) ? job : undefined;
  }, timeoutMs, `job ${jobId} finished`);
}

test("when the catalog stays down through every retry, then the job fails, the orchestration ends Failed, and the next backup is accepted at once", { timeout: 200_000 }, async () => {
  tables.failWritesOf = "recoveryPoints";
  const accepted = await call("POST", `/api/backupInstances/${instanceName}/backup`);
  expect(accepted.status).toBe(202);
  const jobId = (accepted.json as { jobId: string }).jobId;

  const failed = await finishedJob(jobId, 150_000);
  expect(failed).toMatchObject({ status: "Failed", error: { code: "SystemErrorStorageUnavailable" } });
  // Four attempts of the row write, each refused.
  expect(tables.refused.length).toBeGreaterThanOrEqual(4);

  const orchestration = await waitUntil(async () => {
    const answer = await call("GET", `/runtime/webhooks/durabletask/instances/${jobId}`);
    return answer.json?.runtimeStatus === "Failed" ? answer.json : undefined;
  }, 10_000, "the orchestration's final status");
  expect(String(orchestration.output)).toMatch(/^Orchestrator function 'backup' failed: SystemErrorStorageUnavailable: /);

  tables.failWritesOf = undefined;
  const next = await call("POST", `/api/backupInstances/${instanceName}/backup`);
  expect(next.status).toBe(202); // not 409: the failed job gave its lock back
  expect(await finishedJob((next.json as { jobId: string }).jobId, 60_000)).toMatchObject({ status: "Succeeded" });
});
