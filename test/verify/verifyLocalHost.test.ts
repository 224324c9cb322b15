/**
 * The restore drill end to end on the local host, as `npm start` runs it: HTTP calls only, as a user with curl
 * would make them, against the compiled app with real PostgreSQL and Azurite.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import type { DumpRecoveryPoint, Job } from "../../shared/domain";
import { callHost, configureHostedDatabase, repoRoot, startHostProcess, waitUntil, type HostProcess } from "../support/localHost";
import { scratchExists } from "../support/verifyFixture";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName, withAdmin } from "../support/testDatabase";

const database = uniqueName("hosted_drill");
const role = uniqueName("hosted_drill_user");
const secretSetting = `PGVAULT_SECRET_${role.toUpperCase()}`;
const names = { policyName: uniqueName("drillpol").replaceAll("_", "-"), instanceName: uniqueName("drillinst").replaceAll("_", "-") };
let host: HostProcess;

beforeAll(async () => {
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-hosted-drill");
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${role} CREATEDB`));
  const storage = inject("vaultConnectionString");
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: storage,
    VaultStorage: storage,
    PG_BIN_DIR: cluster().binDir,
    [secretSetting]: `postgres://${role}:pw-hosted-drill@${cluster().host}:${cluster().port}/x?sslmode=disable`,
  });
});
afterAll(() => host?.kill("SIGTERM"));

const call = (method: string, route: string, body?: unknown) => callHost(host.origin, method, route, body);

const finished = (jobId: string) =>
  waitUntil(async () => {
    const job = (await call("GET", `/api/jobs/${jobId}`)).json as unknown as Job | undefined;
    return job && ["Succeeded", "Failed", "Cancelled"].includes(job.status) ? job : undefined;
  }, 90_000, `job ${jobId} finished`);

test("when a backed-up instance is verified over HTTP, then 202 with a Location, the job succeeds, and the recovery point shows the verification", async () => {
  await configureHostedDatabase(host.origin, names, { host: cluster().host, port: cluster().port, database, secretRef: `env:${secretSetting}` });
  const backup = await call("POST", `/api/backupInstances/${names.instanceName}/backup`);
  const backupJob = await finished((backup.json as { jobId: string }).jobId);
  expect(backupJob.status).toBe("Succeeded");

  // curl -i -X POST .../backupInstances/<name>/verify
  const accepted = await call("POST", `/api/backupInstances/${names.instanceName}/verify`);
  expect(accepted.status).toBe(202);
  const jobId = (accepted.json as { jobId: string }).jobId;
  expect(accepted.headers.get("location")).toBe(`/api/jobs/${jobId}`);
  const job = await finished(jobId);
  expect(job).toMatchObject({ operation: "Verify", trigger: "OnDemand", status: "Succeeded", recoveryPointId: backupJob.recoveryPointId });

  const rp = (await call("GET", `/api/backupInstances/${names.instanceName}/recoveryPoints/${backupJob.recoveryPointId}`)).json as unknown as DumpRecoveryPoint;
  expect(rp.contents?.blobPath).toMatch(new RegExp(`^backups/${names.instanceName}/${rp.id}/contents-[0-9a-f]{16}\\.json$`));
  expect(rp.verification).toMatchObject({ outcome: "Succeeded", jobId, tablesChecked: 3, rowsChecked: 2502, rowCountsRecorded: true });
  expect(await scratchExists(jobId)).toBe(false);
  const listed = (await call("GET", `/api/jobs?instanceName=${names.instanceName}&operation=Verify`)).json as unknown as { value: Job[] };
  expect(listed.value.map((j) => j.id)).toEqual([jobId]);
});
