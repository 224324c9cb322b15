/**
 * Key Vault answering 503 (through the real SecretClient against the protocol test server): a short outage is
 * retried by the orchestration and the backup succeeds; a long one exhausts the retry policy and fails the job
 * with a spec code, after exactly the configured number of attempts.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { jobRetry as backupRetry } from "../../orchestrators/jobSteps";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { databaseSource, protect, runBackup } from "../support/backupFixture";
import { useKeyVaultStandIn, type KeyVaultTestServer } from "../support/keyVaultServer";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

/** The SDK's own attempts per read on 503 with Retry-After: 0 (see docs/platform-facts.md). */
const sdkAttemptsPerRead = 4;
let kv: KeyVaultTestServer;
let secretRef: string;
let database: string;

beforeAll(async () => {
  kv = await useKeyVaultStandIn(inject("tls"));
  database = uniqueName("kvoutage");
  const role = uniqueName("kv_user");
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-kv");
  kv.setSecret("outage-db", `postgres://${role}:pw-kv@${cluster().host}:${cluster().port}/x?sslmode=disable`);
  secretRef = `${kv.vaultUrl}/secrets/outage-db`;
});
afterAll(() => kv.close());

test("when Key Vault answers 503 for one activity attempt, then the retry succeeds and so does the backup", async () => {
  const instance = await protect(uniqueName("kvblip").replaceAll("_", "-"), databaseSource(database, secretRef));
  kv.failNext(sdkAttemptsPerRead);

  const run = await runBackup(instance);

  const resolves = run.attempts.filter((a) => a.name === "resolveSecret");
  expect(resolves.map((a) => Boolean(a.error))).toEqual([true, false]);
  expect(resolves[0]!.error).toContain("Key Vault did not answer");
  expect((await getJob(run.jobId))?.status).toBe("Succeeded");
  expect(await listRecoveryPoints(instance.name)).toHaveLength(1);
});

test("when Key Vault stays unavailable, then the job fails with SystemErrorUnexpected after every retry", async () => {
  const instance = await protect(uniqueName("kvdown").replaceAll("_", "-"), databaseSource(database, secretRef));
  kv.failNext(sdkAttemptsPerRead * backupRetry.maxNumberOfAttempts);

  const run = await runBackup(instance);

  expect(run.attempts.filter((a) => a.name === "resolveSecret")).toHaveLength(backupRetry.maxNumberOfAttempts);
  const job = await getJob(run.jobId);
  expect(job?.status).toBe("Failed");
  expect(job?.error).toMatchObject({ code: "SystemErrorUnexpected" });
  expect(job?.error?.message).toContain("Key Vault did not answer");
  expect(run.state.error).toContain("SystemErrorUnexpected");
  expect(await listRecoveryPoints(instance.name)).toEqual([]);
});
