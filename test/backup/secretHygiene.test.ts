/**
 * Secrets stay secret: a backup whose credentials come from Key Vault (through the real SecretClient and the
 * protocol-level Key Vault stand-in), a failed backup after the password was rotated to a wrong one, and the
 * configure-protection call. Afterwards the durable history, orchestration inputs and outputs, custom statuses,
 * job rows, recovery points, HTTP answers and every captured log line are searched for the password and the
 * secret value.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { putBackupInstance } from "../../functions/backupInstances";
import { putBackupPolicy } from "../../functions/backupPolicies";
import { startOnDemandBackup } from "../../functions/onDemandBackup";
import { backupOrchestrationName, backupOrchestrator } from "../../orchestrators/backup";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { handled } from "../../shared/http";
import { backupActivities } from "../support/backupFixture";
import { startDurableClientStandIn, type DurableClientStandIn } from "../support/durableClientStandIn";
import { bodyOf, invocation, request } from "../support/http";
import { useKeyVaultStandIn, type KeyVaultTestServer } from "../support/keyVaultServer";
import { runOrchestration, type OrchestrationRun } from "../support/replayDriver";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

let kv: KeyVaultTestServer;
let durable: DurableClientStandIn;

beforeAll(async () => {
  kv = await useKeyVaultStandIn(inject("tls"));
  durable = await startDurableClientStandIn();
});
afterAll(async () => {
  await Promise.all([kv.close(), durable.close()]);
});

test("when backups run with Key Vault credentials, then no password or secret value appears in history, jobs, RPs, answers or logs", async () => {
  const database = uniqueName("hygiene");
  const role = uniqueName("hygiene_user");
  const password = `Pw-${uniqueName("s3cr3t")}`;
  const wrongPassword = `Wrong-${uniqueName("s3cr3t")}`;
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, password);
  const secretValue = `Server=${cluster().host};Database=ignored;Port=${cluster().port};User Id=${role};Password=${password};Ssl Mode=Disable;`;
  kv.setSecret("hygiene-db", secretValue);
  const secretRef = `${kv.vaultUrl}/secrets/hygiene-db`;

  const logs: string[] = [];
  const answers: unknown[] = [];
  const runs: OrchestrationRun[] = [];
  const policyName = uniqueName("hygpol").replaceAll("_", "-");
  const instanceName = uniqueName("hyginst").replaceAll("_", "-");
  const policy = { datasourceType: "database", schedule: { repeatingIntervals: ["R/2026-01-01T01:00:00Z/P1D"], timeZone: "UTC" }, retention: { default: { duration: "P7D" } } };
  answers.push(bodyOf(await handled(putBackupPolicy)(request("PUT", "", { body: policy, params: { name: policyName } }), invocation("putBackupPolicy", logs))));
  const datasource = { type: "database", host: cluster().host, port: cluster().port, database, secretRef };
  const configured = await handled(putBackupInstance)(request("PUT", "", { body: { policyName, datasource }, params: { name: instanceName } }), invocation("putBackupInstance", logs));
  expect(configured.status).toBe(201);
  answers.push(bodyOf(configured));

  const backup = async () => {
    const { client, context } = durable.client("startOnDemandBackup", logs);
    const accepted = await startOnDemandBackup(request("POST", "", { params: { name: instanceName } }), client, context);
    answers.push(bodyOf(accepted), accepted.headers);
    const { jobId } = bodyOf<{ jobId: string }>(accepted);
    const start = durable.started.find((s) => s.instanceId === jobId)!;
    const run = await runOrchestration(backupOrchestrator, { name: backupOrchestrationName, instanceId: jobId, input: start.input, activities: backupActivities });
    runs.push(run);
    return getJob(jobId);
  };

  expect((await backup())?.status).toBe("Succeeded");
  // Rotation to a wrong password: the next backup fails, and its error must not quote the new value either.
  kv.setSecret("hygiene-db", secretValue.replace(password, wrongPassword));
  const failed = await backup();
  expect(failed?.error?.code).toBe("UserErrorDBUserAuthFailed");

  const jobs = await Promise.all(durable.started.map((start) => getJob(start.instanceId)));
  const recorded = JSON.stringify({
    histories: runs.map((run) => run.history),
    states: runs.map((run) => run.state),
    statuses: runs.map((run) => run.customStatuses),
    activityLogs: runs.flatMap((run) => run.logs),
    started: durable.started,
    jobs: [jobs, failed],
    recoveryPoints: await listRecoveryPoints(instanceName),
    answers,
    logs,
  });
  expect(recorded).toContain(instanceName); // the search really covers the records
  expect(recorded).toContain("UserErrorDBUserAuthFailed");
  expect(recorded).toContain("stored backups/"); // activity log lines were captured
  for (const secret of [password, wrongPassword, secretValue, `Password=`, encodeURIComponent(password)]) {
    expect(recorded).not.toContain(secret);
  }
  // The Key Vault stand-in's log holds request shapes only; it never saw a value leave either.
  expect(JSON.stringify(kv.requests)).not.toContain(password);
});
