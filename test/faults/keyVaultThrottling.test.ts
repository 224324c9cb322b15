/**
 * Key Vault throttling (429 with Retry-After) and failing (5xx), then answering again, through the real
 * SecretClient against the protocol stand-in. A short burst is absorbed by the SDK's own retries, which wait as
 * long as Retry-After says; a longer one fails the activity attempt, and the orchestration's retry succeeds.
 * keyVaultOutage.test.ts has the 503s and the outage that outlasts every retry.
 */
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { getJob } from "../../shared/catalog/jobRows";
import { databaseSource, protect, runBackup } from "../support/backupFixture";
import { useKeyVaultStandIn, type KeyVaultTestServer } from "../support/keyVaultServer";
import { cluster, createBackupRole, createDatabase, seedRichDatabase, uniqueName } from "../support/testDatabase";

let kv: KeyVaultTestServer;
let database: string;
let role: string;

beforeAll(async () => {
  kv = await useKeyVaultStandIn(inject("tls"));
  database = uniqueName("kvthrottle");
  role = uniqueName("kvt_user");
  await createDatabase(database);
  await seedRichDatabase(database);
  await createBackupRole(database, role, "pw-kvt");
});
afterAll(() => kv.close());

/** A secret of its own per test, so the vault's log can be read per secret. */
function secretFor(name: string): string {
  kv.setSecret(name, `postgres://${role}:pw-kvt@${cluster().host}:${cluster().port}/x?sslmode=disable`);
  return `${kv.vaultUrl}/secrets/${name}`;
}

const answersFor = (name: string) => kv.requests.filter((r) => r.server === "vault" && r.bearer && r.path.startsWith(`/secrets/${name}/`));

test("when Key Vault answers 429 with Retry-After and then 500, then the SDK waits as told, retries, and the backup succeeds in one attempt", async () => {
  const instance = await protect(uniqueName("kvthrottle").replaceAll("_", "-"), databaseSource(database, secretFor("throttled-db")));
  kv.failNextWith([{ status: 429, retryAfterSeconds: 1 }, { status: 500 }]);

  const run = await runBackup(instance);

  expect(run.state.error).toBeUndefined();
  expect(run.attempts.filter((a) => a.name === "resolveSecret")).toEqual([{ name: "resolveSecret", attempt: 1 }]);
  const answers = answersFor("throttled-db");
  // resolveSecret: 429, 500, 200; then checkBackupAccess and dumpDatabase read the pinned version once each.
  expect(answers.map((a) => a.status)).toEqual([429, 500, 200, 200, 200]);
  expect(answers[1]!.at! - answers[0]!.at!).toBeGreaterThanOrEqual(1000);
  expect((await getJob(run.jobId))?.status).toBe("Succeeded");
  expect(await listRecoveryPoints(instance.name)).toHaveLength(1);
});

test("when Key Vault throttles longer than the SDK retries, then the activity attempt fails, the orchestration's retry succeeds, and so does the backup", async () => {
  const instance = await protect(uniqueName("kvlong").replaceAll("_", "-"), databaseSource(database, secretFor("throttled-long-db")));
  // One SDK read makes four attempts; all of the first read's are throttled or failing.
  kv.failNextWith([{ status: 429, retryAfterSeconds: 0 }, { status: 502 }, { status: 429, retryAfterSeconds: 0 }, { status: 503, retryAfterSeconds: 0 }]);

  const run = await runBackup(instance);

  const resolves = run.attempts.filter((a) => a.name === "resolveSecret");
  expect(resolves.map((a) => a.error?.split(":")[0] ?? "ok")).toEqual(["SystemErrorUnexpected", "ok"]);
  expect(resolves[0]!.error).toMatch(/Key Vault did not answer for .* \(HTTP 503\)/);
  expect(answersFor("throttled-long-db").map((a) => a.status)).toEqual([429, 502, 429, 503, 200, 200, 200]);
  expect((await getJob(run.jobId))?.status).toBe("Succeeded");
  expect(await listRecoveryPoints(instance.name)).toHaveLength(1);
});
