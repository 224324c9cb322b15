/**
 * Every failure code Microsoft documents for Flexible Server long-term-retention backups, driven once through the
 * HTTP API of the app running as a real process on the local host (its ARM_ENDPOINT is the ARM stand-in, its
 * managed identity the stand-in's token endpoint), and ended in the spec code (SPEC section 9).
 *
 * Source: MicrosoftDocs/azure-docs `articles/backup/backup-azure-database-postgresql-flex-troubleshoot.md` ("Common
 * errors for the backup and restore operations"): `PostgreSQLFlexOperationFailedUserError` with the inner codes
 * ServerNotReadyForLongTermBackup, ResourceGroupNotFound, ResourceNotFound and AuthorizationFailed;
 * UserErrorMaxConcurrentOperationLimitReached and UserErrorMSIMissingPermissions as their own outer and inner codes.
 * The page does not say which call answers them, so each is driven where the stand-in's causes put it:
 * - configure protection (PUT): the server GET and the pre-check (`ltrPreBackup`) refuse;
 * - the start: what the pre-check passed has changed by the time `startLtrBackup` is sent;
 * - the operation: the start was accepted, and the backup then fails (the server stopped or was deleted, the role
 *   was removed, the operation ended Failed with the code). Those jobs end at the orchestration's first status
 *   read, 30 s after the start, so all backup cases run at once.
 * The concurrency limit is not refused at configure time: the pre-check passes while a backup runs (stand-in's
 * choice, docs/platform-facts.md), and a second instance of the server is configured then.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../local-host/embedded/azurite";
import type { ErrorCode } from "../../shared/errors";
import type { Job } from "../../shared/domain";
import { useArmStandIn, type ArmTestServer, type FlexServerSetup } from "../support/armServer";
import { callHost, repoRoot, startHostProcess, waitUntil, type HostProcess } from "../support/localHost";
import { uniqueName } from "../support/testDatabase";

const subscriptionId = "5d1c7e2a-8b3f-4c6d-9e0a-2b4c6d8e0f1a";
const firstPollMs = 30_000;

let arm: ArmTestServer;
let vault: AzuriteInstance;
let host: HostProcess;
const policyName = uniqueName("flex-codes").replaceAll("_", "-");

beforeAll(async () => {
  // Before the host starts: it inherits ARM_ENDPOINT, IDENTITY_ENDPOINT and IDENTITY_HEADER, and NODE_EXTRA_CA_CERTS
  // (the suite's test certificate, which the stand-in serves HTTPS with) from this process.
  ({ arm } = await useArmStandIn(inject("tls")));
  // A task hub and vault of this file's own, so no other host test's worker picks up these jobs.
  vault = await startAzurite();
  host = await startHostProcess(repoRoot, {
    AzureWebJobsStorage: vault.connectionString,
    VaultStorage: vault.connectionString,
    PG_BIN_DIR: inject("postgres").binDir,
    // No scheduled backup during the test: only the jobs the test asks for.
    SCHEDULER_SCHEDULE: "0 0 0 1 1 *",
  });
  const policy = {
    datasourceType: "flexibleServer",
    schedule: { repeatingIntervals: ["R/2026-01-04T03:00:00+00:00/P1W"], timeZone: "UTC" },
    retention: { default: { duration: "P12W" } },
  };
  const created = await callHost(host.origin, "PUT", `/api/backupPolicies/${policyName}`, policy);
  expect(created.status, JSON.stringify(created.json)).toBe(201);
});
afterAll(async () => {
  await host?.kill("SIGTERM");
  await Promise.all([vault?.stop(), arm?.close()]);
});

interface ApiError {
  code: string;
  message: string;
  recommendedAction?: string;
}
type JobView = Job & { durationSeconds: number };

/** The recommended action each spec code gets for a documented Azure code (shared/flexServer/ltrErrorCodes.ts). */
const documentedAction: Partial<Record<ErrorCode, RegExp>> = {
  UserErrorFlexServerNotReady: /"state": "Ready"/,
  UserErrorMSIMissingPermissions: /PostgreSQL Flexible Server Long Term Retention Backup Role/,
  UserErrorOperationInProgress: /one long-term-retention backup per server per week/,
};
const notFoundAction = { ResourceGroupNotFound: /resource group no longer exists/, ResourceNotFound: /server no longer exists/ };

function actionFor(code: ErrorCode, azureCode: string): RegExp {
  if (code === "UserErrorFlexServerNotFound") return notFoundAction[azureCode as keyof typeof notFoundAction];
  return documentedAction[code]!;
}

const newName = (prefix: string) => uniqueName(prefix).replaceAll("_", "-");

/** A server of its own resource group, so deleting the group touches no other case. */
function newServer(setup: Partial<FlexServerSetup> = {}) {
  const resourceGroup = newName("rg");
  const id = arm.addServer({ subscriptionId, resourceGroup, name: newName("pg"), ...setup });
  return { id, resourceGroup };
}

const configure = (name: string, resourceId: string) =>
  callHost(host.origin, "PUT", `/api/backupInstances/${name}`, { policyName, datasource: { type: "flexibleServer", resourceId } });

async function protect(resourceId: string): Promise<string> {
  const name = newName("flex");
  const answer = await configure(name, resourceId);
  expect(answer.status, JSON.stringify(answer.json)).toBe(201);
  return name;
}

async function backUp(instanceName: string): Promise<string> {
  const answer = await callHost(host.origin, "POST", `/api/backupInstances/${instanceName}/backup`);
  expect(answer.status, JSON.stringify(answer.json)).toBe(202);
  return (answer.json as { jobId: string }).jobId;
}

const jobOf = async (jobId: string) => (await callHost(host.origin, "GET", `/api/jobs/${jobId}`)).json as unknown as JobView;

const jobEnds = (jobId: string) =>
  waitUntil(async () => {
    const job = await jobOf(jobId);
    return ["Succeeded", "Failed", "Cancelled"].includes(job.status) ? job : undefined;
  }, 80_000, `job ${jobId} ended`);

describe("configuring protection (PUT /api/backupInstances/{name})", () => {
  test.each([
    {
      azureCode: "ServerNotReadyForLongTermBackup",
      code: "UserErrorFlexServerNotReady",
      // Not pgvault's own state check, which reads the GET: the pre-check refuses.
      how: "an update starts just after the server's GET said Ready",
      server: () => {
        const { id } = newServer();
        arm.afterNextAnswer(id, "getServer", () => arm.updateServer(id, { state: "Updating" }));
        return id;
      },
    },
    {
      azureCode: "ResourceGroupNotFound",
      code: "UserErrorFlexServerNotFound",
      how: "the resource group does not exist",
      server: () => `/subscriptions/${subscriptionId}/resourceGroups/${newName("rg-none")}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg1`,
    },
    {
      azureCode: "ResourceNotFound",
      code: "UserErrorFlexServerNotFound",
      how: "the server does not exist",
      server: () => `${newServer().id.replace(/\/flexibleServers\/.*$/, "")}/flexibleServers/${newName("pg-none")}`,
    },
    {
      azureCode: "AuthorizationFailed",
      code: "UserErrorMSIMissingPermissions",
      how: "the identity lacks the LTR role (the pre-check)",
      server: () => newServer({ roles: { ltrBackup: false } }).id,
    },
    {
      azureCode: "AuthorizationFailed",
      code: "UserErrorMSIMissingPermissions",
      how: "the identity lacks Reader (the server's GET)",
      server: () => newServer({ roles: { reader: false } }).id,
    },
  ] satisfies { azureCode: string; code: ErrorCode; how: string; server: () => string }[])(
    "when Azure answers $azureCode because $how, then 422 $code with the documented action, naming Azure's code, and nothing is stored",
    async ({ azureCode, code, server }) => {
      const name = newName("flex");
      const answer = await configure(name, server());
      expect(answer.status, JSON.stringify(answer.json)).toBe(422);
      const error = (answer.json as { error: ApiError }).error;
      expect(error.code).toBe(code);
      expect(error.message).toContain(azureCode);
      expect(error.recommendedAction).toMatch(actionFor(code, azureCode));
      expect((await callHost(host.origin, "GET", `/api/backupInstances/${name}`)).status).toBe(404);
    },
  );
});

interface BackupCase {
  azureCode: string;
  code: ErrorCode;
  path: "start" | "operation";
  how: string;
  setup?: Partial<FlexServerSetup>;
  /** Called once the instance is configured, before its backup is asked for. */
  arrange?: (server: { id: string; resourceGroup: string }) => void;
}

const twoDaysAgo = () => new Date(Date.now() - 2 * 24 * 3600_000);

const backupCases: BackupCase[] = [
  // The start: something the pre-check passed changed before startLtrBackup.
  {
    azureCode: "ServerNotReadyForLongTermBackup",
    code: "UserErrorFlexServerNotReady",
    path: "start",
    how: "the server stops between the pre-check and the start",
    arrange: ({ id }) => arm.afterNextAnswer(id, "ltrPreBackup", () => arm.updateServer(id, { state: "Stopped" })),
  },
  {
    azureCode: "ResourceGroupNotFound",
    code: "UserErrorFlexServerNotFound",
    path: "start",
    how: "the resource group is deleted between the pre-check and the start",
    arrange: ({ id, resourceGroup }) => arm.afterNextAnswer(id, "ltrPreBackup", () => arm.deleteResourceGroup(subscriptionId, resourceGroup)),
  },
  {
    azureCode: "ResourceNotFound",
    code: "UserErrorFlexServerNotFound",
    path: "start",
    how: "the server is deleted between the pre-check and the start",
    arrange: ({ id }) => arm.afterNextAnswer(id, "ltrPreBackup", () => arm.deleteServer(id)),
  },
  {
    azureCode: "AuthorizationFailed",
    code: "UserErrorMSIMissingPermissions",
    path: "start",
    how: "the LTR role is removed between the pre-check and the start",
    arrange: ({ id }) => arm.afterNextAnswer(id, "ltrPreBackup", () => arm.updateServer(id, { roles: { ltrBackup: false } })),
  },
  {
    azureCode: "UserErrorMaxConcurrentOperationLimitReached",
    code: "UserErrorOperationInProgress",
    path: "start",
    how: "the server ran a backup for another client two days ago (the weekly limit, refused at the start)",
    setup: { earlierBackupAt: twoDaysAgo() },
  },
  // The operation: the start was accepted; the first status read (30 s later) finds the failure.
  {
    azureCode: "ServerNotReadyForLongTermBackup",
    code: "UserErrorFlexServerNotReady",
    path: "operation",
    how: "the server stops while its backup runs (outer code in errorCode, inner code in errorMessage)",
    arrange: ({ id }) => arm.afterNextAnswer(id, "asyncOperation", () => arm.updateServer(id, { state: "Stopped" })),
  },
  {
    azureCode: "ResourceGroupNotFound",
    code: "UserErrorFlexServerNotFound",
    path: "operation",
    how: "the resource group is deleted while the backup runs (the operation resource 404s with it)",
    arrange: ({ id, resourceGroup }) => arm.afterNextAnswer(id, "asyncOperation", () => arm.deleteResourceGroup(subscriptionId, resourceGroup)),
  },
  {
    azureCode: "ResourceNotFound",
    code: "UserErrorFlexServerNotFound",
    path: "operation",
    how: "the server is deleted while the backup runs (the operation resource 404s with it)",
    arrange: ({ id }) => arm.afterNextAnswer(id, "asyncOperation", () => arm.deleteServer(id)),
  },
  {
    azureCode: "AuthorizationFailed",
    code: "UserErrorMSIMissingPermissions",
    path: "operation",
    how: "the LTR role is removed while the backup runs (reading the operation is refused)",
    arrange: ({ id }) => arm.afterNextAnswer(id, "asyncOperation", () => arm.updateServer(id, { roles: { ltrBackup: false } })),
  },
  {
    azureCode: "AuthorizationFailed",
    code: "UserErrorMSIMissingPermissions",
    path: "operation",
    how: "the operation ends Failed with errorCode AuthorizationFailed",
    setup: { backup: { outcome: "Failed", pollsUntilDone: 1, errorCode: "AuthorizationFailed", errorMessage: "The backup is not authorized." } },
  },
  {
    azureCode: "UserErrorMaxConcurrentOperationLimitReached",
    code: "UserErrorOperationInProgress",
    path: "operation",
    how: "the server ran a backup two days ago (the weekly limit, the operation ends Failed)",
    setup: { earlierBackupAt: twoDaysAgo(), weeklyLimit: "operation" },
  },
  {
    // Documented for the restore operation; pgvault never asks Azure to restore, so only as an operation's end.
    azureCode: "UserErrorMSIMissingPermissions",
    code: "UserErrorMSIMissingPermissions",
    path: "operation",
    how: "the operation ends Failed with errorCode UserErrorMSIMissingPermissions",
    setup: { backup: { outcome: "Failed", pollsUntilDone: 1, errorCode: "UserErrorMSIMissingPermissions", errorMessage: "The identity lacks permissions." } },
  },
];

const concurrencyCase: BackupCase = {
  azureCode: "UserErrorMaxConcurrentOperationLimitReached",
  code: "UserErrorOperationInProgress",
  path: "start",
  how: "another backup of the server is running",
};

describe("backing up (POST /api/backupInstances/{name}/backup, then GET /api/jobs/{id})", () => {
  test(
    "when Azure answers each documented code at the start or in the operation, then the job ends Failed with the spec code, the documented action and Azure's code named",
    async () => {
      const runs = await Promise.all(
        backupCases.map(async (c) => {
          const server = newServer(c.setup);
          const instanceName = await protect(server.id);
          c.arrange?.(server);
          return { c, server, instanceName, jobId: await backUp(instanceName) };
        }),
      );
      // The concurrency limit proper: a second instance of a server whose backup is still running.
      const busy = newServer({ backup: { outcome: "Running" } });
      const first = await backUp(await protect(busy.id));
      await waitUntil(async () => (arm.operations(busy.id).length === 1 ? true : undefined), 20_000, "the first backup started");
      // Configured while that backup runs: the pre-check does not refuse it.
      const instanceName = await protect(busy.id);
      runs.push({ c: concurrencyCase, server: busy, instanceName, jobId: await backUp(instanceName) });

      const ended = await Promise.all(runs.map(async (run) => ({ ...run, job: await jobEnds(run.jobId) })));

      for (const { c, server, instanceName, job } of ended) {
        const what = `${c.azureCode} when ${c.how}`;
        expect(job, what).toMatchObject({ status: "Failed", error: { code: c.code } });
        expect(job.error?.message, what).toContain(c.azureCode);
        expect(job.error?.recommendedAction, what).toMatch(actionFor(c.code, c.azureCode));
        const points = await callHost(host.origin, "GET", `/api/backupInstances/${instanceName}/recoveryPoints`);
        expect((points.json as { value: unknown[] }).value, what).toEqual([]);
        // Where it failed: an accepted start shows as an operation of the server, and its job waited for the first poll.
        const ownOperations = arm.operations(server.id).filter((op) => job.recoveryPointId && op.backupName === `pgvault-${job.recoveryPointId.toLowerCase()}`);
        const lastedMs = Date.parse(job.endTime!) - Date.parse(job.startTime);
        if (c.path === "start") {
          expect(ownOperations, what).toEqual([]);
          expect(lastedMs, what).toBeLessThan(firstPollMs);
        } else {
          expect(ownOperations, what).toHaveLength(1);
          expect(lastedMs, what).toBeGreaterThanOrEqual(firstPollMs);
        }
      }
      expect((await jobOf(first)).status).toBe("InProgress");
    },
    90_000,
  );
});
