/**
 * A protocol-level Azure Resource Manager stand-in for the Flexible Server API (api-version 2025-08-01), so tests
 * drive the real `PostgreSQLManagementFlexibleServerClient` and `DefaultAzureCredential` end to end: a
 * managed-identity token for the ARM audience, the servers GET, the long-term-retention (LTR) backup operations
 * with ARM's asynchronous-operation protocol, and ARM's error bodies and headers.
 *
 * - HTTPS with the harness's test certificate: the SDK sends bearer tokens over HTTPS only.
 * - Accepts only tokens the shared identity endpoint issued for this server's own origin, which is the audience
 *   the app asks for when ARM_ENDPOINT points here (scope `<ARM_ENDPOINT>/.default`).
 * - An LTR backup writes real blobs through the SAS URIs it was given (as the service does), when a status poll
 *   completes it, so a test can check what landed in storage and that a SAS without write permission fails it.
 *   Given a PostgreSQL cluster, it writes what Microsoft documents, made by pg_dump and pg_dumpall themselves
 *   (ltrLogicalBackup.ts); without one, placeholder files under the documented names.
 * - Error codes are those Microsoft's troubleshooting page documents (`backup-azure-database-postgresql-flex-
 *   troubleshoot.md`): `PostgreSQLFlexOperationFailedUserError` with the inner code in ARM's `details`. The REST
 *   reference (azure-rest-api-specs, PostgreSQL/stable/2025-08-01) gives errors only as `default` ErrorResponse,
 *   so the statuses are ARM's conventions, as docs/platform-facts.md records.
 * - One backup per server per week (support matrix, "Limitation": "Only one weekly backup is currently supported.
 *   If multiple vaulted backups are scheduled in a week, only the first backup operation of the week is executed,
 *   and the subsequent backup jobs in the same week fail."), on by default (`weeklyLimit`), on the stand-in's own
 *   clock, which a test can move on (`advanceClock`).
 *
 * The request log records shapes only (method, path, status, whether a bearer token came, which operation):
 * never a token or a SAS, so tests can print it freely.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type http from "node:http";
import https from "node:https";
import { AnonymousCredential, ContainerClient } from "@azure/storage-blob";
import type { ClusterInfo } from "../../local-host/embedded/postgres";
import { listen, sendJson, shutDown, startIdentityEndpoint, type IdentityEndpoint } from "./identityEndpoint";
import { logicalBackupFiles, placeholderFiles } from "./ltrLogicalBackup";

export const armApiVersion = "2025-08-01";

export interface FlexServerSetup {
  /** A UUID: the SDK refuses anything else. */
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** Default "westeurope". */
  location?: string;
  /** The server's properties.state; default "Ready" (others: "Stopped", "Updating", "Starting", ...). */
  state?: string;
  /** Default "16". */
  version?: string;
  /** `properties.storage.storageSizeGB` in servers.get (the 2025-08-01 Storage model); default 128. */
  storageSizeGB?: number;
  /**
   * How startLtrBackup answers when it accepts: "async" (default) 202 with Azure-AsyncOperation and Location, as
   * ARM's asynchronous-operation protocol does; "sync" 200 with the finished operation's body, which the REST
   * reference also lists for the start (responses 200, 201, 202, 204).
   */
  startAnswer?: "async" | "sync";
  /**
   * After an accepted start, this many reads of `ltrBackupOperations/{name}` answer 404 ResourceNotFound (ARM reads
   * can lag an asynchronous create; the REST reference does not say when the resource appears). Counted in reads,
   * not seconds, because the replay driver's timers are virtual: a few real seconds would pass the deadline. Default 0.
   */
  operationHiddenForReads?: number;
  /**
   * The app identity's roles on the server, default both. Without `reader`, GET of the server answers 403; without
   * `ltrBackup`, ltrPreBackup, startLtrBackup and ltrBackupOperations answer 403.
   */
  roles?: { reader?: boolean; ltrBackup?: boolean };
  /** What ltrPreBackup answers; startLtrBackup wants exactly this many SAS URIs. Default 2. */
  numberOfContainers?: number;
  /**
   * The support matrix's "only one weekly backup": a start within 7 days (rolling, on the stand-in's clock) of the
   * last backup the server executed fails with UserErrorMaxConcurrentOperationLimitReached, the code the
   * troubleshooting page gives for the backup limit. Neither where nor with which status is documented
   * (docs/platform-facts.md): "start" (default) refuses the start with 409; "operation" accepts it and the
   * operation ends Failed at its first status poll, having executed nothing; "off" has no weekly limit.
   */
  weeklyLimit?: "start" | "operation" | "off";
  /**
   * When the server last ran a long-term-retention backup for another client (an Azure Backup vault protecting the
   * same server, say): listed as a Succeeded operation `earlier-backup` and counted by the weekly limit.
   */
  earlierBackupAt?: Date;
  /** How LTR backups on this server go; read at every status poll, so a test may change it mid-operation. */
  backup?: {
    /**
     * "Running" never finishes (until updateServer changes it). "Cancelled" is one of the operation's statuses in
     * the REST reference (ExecutionStatus: Running, Cancelled, Failed, Succeeded).
     */
    outcome: "Succeeded" | "Failed" | "Cancelled" | "Running";
    /** Status polls answered InProgress before the outcome; default 2. */
    pollsUntilDone?: number;
    /** Written into every container on success; default placeholderFiles() (the documented names). */
    filesPerContainer?: { name: string; bytes: number }[];
    /**
     * The PostgreSQL cluster "behind" the server: on success the backup is made from it (pg_dump per user
     * database, the roles, tablespace and schema files), spread over the containers in turn; `databases` narrows
     * to those (a shared test cluster holds every test's databases). Wins over `filesPerContainer`.
     */
    cluster?: { server: ClusterInfo; databases?: string[] };
    /** For "Failed"; default "LtrBackupFailed" and a generic message. */
    errorCode?: string;
    errorMessage?: string;
  };
}

export interface LtrOperationRecord {
  backupName: string;
  status: "Running" | "Succeeded" | "Failed" | "Cancelled";
  /** SAS URIs the accepted start carried. */
  sasUriCount: number;
  /**
   * Names of the containers the backup wrote any blob into (a partial file included), in order of first write; a
   * cleanup test checks these are gone.
   */
  containersWritten: string[];
  /** startLtrBackup requests that named this backup and reached the server checks (the accepted one included). */
  startRequests: number;
}

export type ArmOperation =
  | "getServer"
  | "ltrPreBackup"
  | "startLtrBackup"
  | "asyncOperation"
  | "operationResult"
  | "getLtrOperation"
  | "listLtrOperations"
  | "unknown";

export interface ArmLoggedRequest {
  method: string;
  /** Path without the query (which holds only api-version). */
  path: string;
  status: number;
  /** An `Authorization: Bearer ...` header was present (valid or not). */
  bearer: boolean;
  operation: ArmOperation;
}

export interface ArmTestServer {
  /** `https://127.0.0.1:<port>`: the value for ARM_ENDPOINT, and the token audience the server accepts. */
  endpoint: string;
  /** Returns the canonical resource id /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}. */
  addServer(setup: FlexServerSetup): string;
  /** Changes a server; `roles` and `backup` are merged into what is there. Throws for an unknown id. */
  updateServer(resourceId: string, change: Partial<Omit<FlexServerSetup, "subscriptionId" | "resourceGroup" | "name">>): void;
  /** The next `count` authorized requests answer 429 TooManyRequests with Retry-After (default 1 s). */
  throttleNext(count: number, retryAfterSeconds?: number): void;
  /** The next `count` authorized requests answer 500 (default) or 503 (with Retry-After: 1). */
  failNext(count: number, status?: 500 | 503): void;
  /**
   * Deletes the server; its resource group stays. Requests under it answer 404 ResourceNotFound; a backup it was
   * running ends Failed at its next status poll (its Azure-AsyncOperation URL is under the subscription and location,
   * not the server, so it still answers; docs/platform-facts.md).
   */
  deleteServer(resourceId: string): void;
  /** Deletes the resource group and every server in it, as deleteServer does, with 404 ResourceGroupNotFound. */
  deleteResourceGroup(subscriptionId: string, resourceGroup: string): void;
  /**
   * Runs `then` right after the next successful (2xx) answer to `operation` on this server, before any later request
   * is handled: how a test makes something change between two of the app's calls (a server that starts an update
   * just after its GET said Ready, a role removed just after the pre-check passed).
   */
  afterNextAnswer(resourceId: string, operation: ArmOperation, then: () => void): void;
  /** Moves the stand-in's clock (operation times, the weekly limit) by `ms`, back when negative; it starts at the real time. */
  advanceClock(ms: number): void;
  /** The server's LTR operations, oldest first (snapshots). */
  operations(resourceId: string): LtrOperationRecord[];
  /** Every request, in order; a live array, so tests mark a length and slice after it. */
  requests: readonly ArmLoggedRequest[];
  close(): Promise<void>;
}

type BackupSetup = NonNullable<FlexServerSetup["backup"]>;
type OperationStatus = LtrOperationRecord["status"];

interface ServerConfig {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  state: string;
  version: string;
  storageSizeGB: number;
  startAnswer: "async" | "sync";
  operationHiddenForReads: number;
  roles: { reader: boolean; ltrBackup: boolean };
  numberOfContainers: number;
  weeklyLimit: "start" | "operation" | "off";
  backup: BackupSetup;
}

interface ServerEntry {
  id: string;
  config: ServerConfig;
  operations: LtrOperation[];
  /** startLtrBackup requests per backup name, rejected ones included. */
  startRequests: Map<string, number>;
  /** Set once the server (or its group) was deleted: the troubleshooting page's inner code its running backup fails with. */
  deletedAs?: "ResourceNotFound" | "ResourceGroupNotFound";
}

interface LtrOperation {
  opId: string;
  server: ServerEntry;
  backupName: string;
  /** Held only to write through; never logged or answered. */
  sasUris: string[];
  status: OperationStatus;
  startTime: Date;
  endTime?: Date;
  polls: number;
  /** Reads of the operation resource answered 404 so far (operationHiddenForReads). */
  hiddenReads: number;
  partialWritten: boolean;
  containersWritten: string[];
  bytesWritten: number;
  errorCode?: string;
  errorMessage?: string;
  /** Accepted over the weekly limit (weeklyLimit "operation"): ends Failed with this at its first poll, executing nothing. */
  refusal?: { code: string; message: string };
  /** Status polls run one after another, so concurrent pollers never write twice. */
  queue: Promise<void>;
}

const provider = "Microsoft.DBforPostgreSQL";
const serverType = `${provider}/flexibleServers`;
const ltrOperationType = `${serverType}/ltrBackupOperations`;
const defaultFiles = placeholderFiles();

/** ARM's error body shape; `inner` goes into `details`, where the troubleshooting page's "inner error code" is. */
function armError(code: string, message: string, inner?: string) {
  return { error: { code, message, ...(inner ? { details: [{ code: inner, message }] } : {}) } };
}

/** The outer code of every documented LTR user error (troubleshooting page). */
const flexUserError = "PostgreSQLFlexOperationFailedUserError";
/** The troubleshooting page's code for the backup limit, as outer and inner code. */
const maxConcurrentCode = "UserErrorMaxConcurrentOperationLimitReached";
const weekMs = 7 * 24 * 3600_000;

/** A parsed JSON value's property, without trusting its shape. */
function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** ARM names locations in lower case without spaces ("West Europe" -> "westeurope"). */
function locationName(location: string): string {
  return location.replaceAll(" ", "").toLowerCase();
}

function serverKey(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers/${serverType}/${name}`.toLowerCase();
}

function errorStatus(error: unknown): string {
  const status = field(error, "statusCode");
  const code = field(error, "code");
  if (typeof status === "number") return `HTTP ${status}${typeof code === "string" ? ` (${code})` : ""}`;
  // No HTTP answer at all (refused, reset): name the socket error, never the URL.
  return `no HTTP response${typeof code === "string" ? ` (${code})` : ""}`;
}

const serverPattern = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([^/]+)(?:\/(.*))?$/i;
const asyncPattern = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.DBforPostgreSQL\/locations\/([^/]+)\/(azureAsyncOperation|operationResults)\/([^/]+)$/i;

type Route =
  | { operation: "getServer" | "ltrPreBackup" | "startLtrBackup" | "listLtrOperations"; sub: string; rg: string; name: string }
  | { operation: "getLtrOperation"; sub: string; rg: string; name: string; backupName: string }
  | { operation: "asyncOperation" | "operationResult"; sub: string; location: string; opId: string }
  | { operation: "unknown"; childType?: string };

function route(method: string, pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  const decode = (segment: string | undefined) => decodeURIComponent(segment ?? "");
  const server = serverPattern.exec(path);
  if (server) {
    const [sub, rg, name] = [decode(server[1]), decode(server[2]), decode(server[3])];
    const child = server[4];
    const lower = child?.toLowerCase();
    if (child === undefined && method === "GET") return { operation: "getServer", sub, rg, name };
    if (lower === "ltrprebackup" && method === "POST") return { operation: "ltrPreBackup", sub, rg, name };
    if (lower === "startltrbackup" && method === "POST") return { operation: "startLtrBackup", sub, rg, name };
    if (lower === "ltrbackupoperations" && method === "GET") return { operation: "listLtrOperations", sub, rg, name };
    const operation = /^ltrBackupOperations\/([^/]+)$/i.exec(child ?? "");
    if (operation && method === "GET") return { operation: "getLtrOperation", sub, rg, name, backupName: decode(operation[1]) };
    return { operation: "unknown", childType: child?.split("/")[0] };
  }
  const async = asyncPattern.exec(path);
  if (async && method === "GET") {
    return {
      operation: async[3]!.toLowerCase() === "azureasyncoperation" ? "asyncOperation" : "operationResult",
      sub: decode(async[1]),
      location: decode(async[2]),
      opId: decode(async[4]),
    };
  }
  return { operation: "unknown" };
}

export async function startArmServer(tls: { certFile: string; keyFile: string }, identity: IdentityEndpoint): Promise<ArmTestServer> {
  const tenantId = randomUUID();
  const servers = new Map<string, ServerEntry>();
  /** Deleted servers, whose operations' status URLs still answer. */
  const deleted: ServerEntry[] = [];
  /** Lower-case `sub` and `sub/rg` keys: a group outlives its servers until it is deleted itself. */
  const subscriptions = new Set<string>();
  const resourceGroups = new Set<string>();
  const groupKey = (sub: string, rg: string) => `${sub}/${rg}`.toLowerCase();
  const hooks: { key: string; operation: ArmOperation; then: () => void }[] = [];
  let clockOffsetMs = 0;
  const now = () => new Date(Date.now() + clockOffsetMs);
  const requests: ArmLoggedRequest[] = [];
  let throttlesLeft = 0;
  let throttleSeconds = 1;
  let failuresLeft = 0;
  let failureStatus: 500 | 503 = 500;
  let origin = "";

  const findServer = (resourceId: string): ServerEntry => {
    const match = serverPattern.exec(resourceId.replace(/\/+$/, ""));
    const key = match && !match[4] ? serverKey(match[1]!, match[2]!, match[3]!) : undefined;
    // A deleted server is still found, so a test can read what became of its operations.
    const entry = key === undefined ? undefined : (servers.get(key) ?? deleted.findLast((e) => e.id.toLowerCase() === key));
    if (!entry) throw new Error(`The ARM stand-in has no server '${resourceId}'.`);
    return entry;
  };

  const asyncUrls = (op: LtrOperation) => {
    const base = `/subscriptions/${op.server.config.subscriptionId}/providers/${provider}/locations/${locationName(op.server.config.location)}`;
    return {
      asyncOperationPath: `${base}/azureAsyncOperation/${op.opId}`,
      azureAsyncOperation: `${origin}${base}/azureAsyncOperation/${op.opId}?api-version=${armApiVersion}`,
      location: `${origin}${base}/operationResults/${op.opId}?api-version=${armApiVersion}`,
    };
  };

  const filesOf = (backup: BackupSetup) => backup.filesPerContainer ?? defaultFiles;

  /** Writes `files` through one SAS URI, as the service writes a backup; throws what storage answered. */
  const writeFiles = async (op: LtrOperation, sasUri: string, files: ({ name: string; bytes: number } | { name: string; content: Buffer })[]) => {
    // One try: a 403 is final, and a test should not wait through storage retries.
    const container = new ContainerClient(sasUri, new AnonymousCredential(), { retryOptions: { maxTries: 1 } });
    for (const file of files) {
      const data = "content" in file ? file.content : randomBytes(file.bytes);
      await container.getBlockBlobClient(file.name).uploadData(data);
      op.bytesWritten += data.length;
      if (!op.containersWritten.includes(container.containerName)) op.containersWritten.push(container.containerName);
    }
  };

  const finish = (op: LtrOperation, status: "Succeeded" | "Failed" | "Cancelled", error?: { code: string; message: string }) => {
    op.status = status;
    op.endTime = now();
    op.errorCode = error?.code;
    op.errorMessage = error?.message;
  };

  /** Writes the partial file a running or failed backup leaves behind (half the first file, into the first container). */
  const writePartial = async (op: LtrOperation, backup: BackupSetup): Promise<boolean> => {
    op.partialWritten = true;
    const first = filesOf(backup)[0];
    const sasUri = op.sasUris[0];
    if (!first || !sasUri) return true;
    try {
      await writeFiles(op, sasUri, [{ name: `${first.name}.partial`, bytes: Math.floor(first.bytes / 2) }]);
      return true;
    } catch (error) {
      storageFailed(op, sasUri, error);
      return false;
    }
  };

  const storageFailed = (op: LtrOperation, sasUri: string, error: unknown) => {
    const container = new ContainerClient(sasUri).containerName;
    finish(op, "Failed", {
      code: "StorageAccessFailed",
      message: `Writing the backup to container '${container}' through the given SAS URI failed: ${errorStatus(error)}.`,
    });
  };

  /** One status poll: moves the operation on, writing through the SAS URIs when it completes. */
  const poll = (op: LtrOperation): Promise<void> => {
    const step = async () => {
      if (op.status !== "Running") return;
      const { backup, state, name } = op.server.config;
      op.polls += 1;
      if (op.refusal) {
        finish(op, "Failed", op.refusal);
        return;
      }
      if (op.server.deletedAs) {
        // Troubleshooting page: ResourceNotFound / ResourceGroupNotFound, inside the outer code as for a server not Ready.
        const what = op.server.deletedAs === "ResourceNotFound" ? `server '${name}'` : `resource group '${op.server.config.resourceGroup}'`;
        finish(op, "Failed", { code: flexUserError, message: `${op.server.deletedAs}: the ${what} was deleted during the long term retention backup '${op.backupName}'.` });
        return;
      }
      if (state !== "Ready") {
        // The troubleshooting page's ServerNotReadyForLongTermBackup, for a server that left Ready (stopped, updating)
        // while its backup ran. The operation resource has only `errorCode` and `errorMessage`; that the outer code
        // takes `errorCode` and the inner one is only named in the message is the stand-in's choice, the form that
        // hides the inner code best (docs/platform-facts.md).
        if (!(await writePartial(op, backup))) return;
        finish(op, "Failed", {
          code: flexUserError,
          message: `ServerNotReadyForLongTermBackup: the server '${name}' went into state '${state}' during the long term retention backup '${op.backupName}'.`,
        });
        return;
      }
      if (backup.outcome === "Running") {
        if (!op.partialWritten) await writePartial(op, backup);
        return;
      }
      if (op.polls <= (backup.pollsUntilDone ?? 2)) return;
      if (backup.outcome === "Cancelled") {
        if (await writePartial(op, backup)) finish(op, "Cancelled");
        return;
      }
      if (backup.outcome === "Failed") {
        if (!(await writePartial(op, backup))) return;
        finish(op, "Failed", {
          code: backup.errorCode ?? "LtrBackupFailed",
          message: backup.errorMessage ?? `The long term retention backup '${op.backupName}' of server '${op.server.config.name}' failed.`,
        });
        return;
      }
      await writeBackup(op, backup);
    };
    op.queue = op.queue.then(step, step);
    return op.queue;
  };

  /** The whole backup: from the cluster when there is one (files spread over the containers in turn), else the set files into each. */
  const writeBackup = async (op: LtrOperation, backup: BackupSetup) => {
    const logical = backup.cluster ? await logicalBackupFiles(backup.cluster.server, backup.cluster.databases) : undefined;
    for (const [index, sasUri] of op.sasUris.entries()) {
      const files = logical ? logical.filter((_, i) => i % op.sasUris.length === index) : filesOf(backup);
      try {
        await writeFiles(op, sasUri, files);
      } catch (error) {
        storageFailed(op, sasUri, error);
        return;
      }
    }
    finish(op, "Succeeded");
  };

  const percentComplete = (op: LtrOperation) => {
    if (op.status === "Succeeded") return 100;
    const backup = op.server.config.backup;
    const total = backup.outcome === "Running" ? 10 : (backup.pollsUntilDone ?? 2) + 1;
    return Math.min(95, Math.round((100 * op.polls) / total));
  };

  const ltrProperties = (op: LtrOperation) => {
    const { config } = op.server;
    const planned = filesOf(config.backup).reduce((sum, file) => sum + file.bytes, 0) * op.sasUris.length;
    return {
      datasourceSizeInBytes: planned * 3,
      dataTransferredInBytes: op.bytesWritten,
      backupName: op.backupName,
      // The REST reference types backupMetadata as a string and documents no content; the stand-in names its format.
      backupMetadata: JSON.stringify({ dataFormat: "pg_dump", serverVersion: config.version }),
      status: op.status,
      startTime: op.startTime.toISOString(),
      ...(op.endTime ? { endTime: op.endTime.toISOString() } : {}),
      percentComplete: percentComplete(op),
      ...(op.errorCode ? { errorCode: op.errorCode, errorMessage: op.errorMessage } : {}),
    };
  };

  const ltrOperationResource = (op: LtrOperation) => ({
    id: `${op.server.id}/ltrBackupOperations/${op.backupName}`,
    name: op.backupName,
    type: ltrOperationType,
    properties: ltrProperties(op),
  });

  const serverResource = (entry: ServerEntry) => {
    const { config } = entry;
    return {
      id: entry.id,
      name: config.name,
      type: serverType,
      location: config.location,
      tags: {},
      sku: { name: "Standard_D2ds_v5", tier: "GeneralPurpose" },
      properties: {
        administratorLogin: "pgadmin",
        version: config.version,
        minorVersion: "4",
        state: config.state,
        fullyQualifiedDomainName: `${config.name}.postgres.database.azure.com`,
        storage: { storageSizeGB: config.storageSizeGB, autoGrow: "Disabled", tier: "P10" },
        authConfig: { activeDirectoryAuth: "Enabled", passwordAuth: "Enabled" },
        backup: { backupRetentionDays: 7, geoRedundantBackup: "Disabled" },
        network: { publicNetworkAccess: "Enabled" },
        highAvailability: { mode: "Disabled", state: "NotEnabled" },
        availabilityZone: "1",
        replicationRole: "Primary",
        replicaCapacity: 5,
      },
    };
  };

  type Answer = { status: number; body?: unknown; headers?: http.OutgoingHttpHeaders };
  const fail = (status: number, code: string, message: string, headers?: http.OutgoingHttpHeaders, inner?: string): Answer => ({
    status,
    body: armError(code, message, inner),
    headers,
  });
  const forbidden = (action: string, scope: string) =>
    fail(
      403,
      "AuthorizationFailed",
      `The client '${identity.clientId}' with object id '${identity.principalId}' does not have authorization to perform action ` +
        `'${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );

  /** The server a route names, or ARM's 404 for the first level that does not exist. */
  const lookUp = (sub: string, rg: string, name: string): ServerEntry | Answer => {
    const entry = servers.get(serverKey(sub, rg, name));
    if (entry) return entry;
    if (!subscriptions.has(sub.toLowerCase())) return fail(404, "SubscriptionNotFound", `The subscription '${sub}' could not be found.`);
    if (!resourceGroups.has(groupKey(sub, rg))) return fail(404, "ResourceGroupNotFound", `Resource group '${rg}' could not be found.`);
    return fail(
      404,
      "ResourceNotFound",
      `The Resource '${serverType}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    );
  };

  const findOperation = (sub: string, location: string, opId: string): LtrOperation | undefined => {
    for (const entry of [...servers.values(), ...deleted]) {
      const { subscriptionId, location: serverLocation } = entry.config;
      if (subscriptionId.toLowerCase() !== sub.toLowerCase() || locationName(serverLocation) !== location.toLowerCase()) continue;
      const op = entry.operations.find((o) => o.opId.toLowerCase() === opId.toLowerCase());
      if (op) return op;
    }
    return undefined;
  };

  const handle = async (r: Exclude<Route, { operation: "unknown" }>, body: unknown): Promise<Answer> => {
    if ("opId" in r) {
      const op = findOperation(r.sub, r.location, r.opId);
      if (!op) return fail(404, "NotFound", `The operation '${r.opId}' was not found.`);
      await poll(op);
      const urls = asyncUrls(op);
      if (r.operation === "asyncOperation") {
        return {
          status: 200,
          body: {
            id: urls.asyncOperationPath,
            name: op.opId,
            // ARM's asynchronous-operation protocol spells the cancelled state "Canceled" (Azure/azure-resource-manager-rpc, async-api-reference.md).
            status: op.status === "Running" ? "InProgress" : op.status === "Cancelled" ? "Canceled" : op.status,
            startTime: op.startTime.toISOString(),
            ...(op.endTime ? { endTime: op.endTime.toISOString() } : {}),
            percentComplete: percentComplete(op),
            ...(op.errorCode ? { error: { code: op.errorCode, message: op.errorMessage } } : {}),
          },
          // ARM tells pollers when to come back; 0 keeps tests fast (the SDK's default interval is 2 s).
          headers: op.status === "Running" ? { "retry-after": "0" } : {},
        };
      }
      if (op.status === "Running") return { status: 202, headers: { location: urls.location, "retry-after": "0" } };
      return { status: 200, body: { properties: ltrProperties(op) } };
    }

    const found = lookUp(r.sub, r.rg, r.name);
    if (!("config" in found)) return found;
    const entry = found;
    const { config } = entry;

    switch (r.operation) {
      case "getServer":
        if (!config.roles.reader) return forbidden(`${serverType}/read`, entry.id);
        return { status: 200, body: serverResource(entry) };

      case "listLtrOperations":
        if (!config.roles.ltrBackup) return forbidden(`${serverType}/ltrBackupOperations/read`, entry.id);
        return { status: 200, body: { value: entry.operations.map(ltrOperationResource) } };

      case "getLtrOperation": {
        if (!config.roles.ltrBackup) return forbidden(`${serverType}/ltrBackupOperations/read`, `${entry.id}/ltrBackupOperations/${r.backupName}`);
        const op = entry.operations.find((o) => o.backupName === r.backupName);
        const hidden = op !== undefined && op.hiddenReads < config.operationHiddenForReads;
        if (op && hidden) op.hiddenReads += 1;
        if (!op || hidden) {
          return fail(
            404,
            "ResourceNotFound",
            `The Resource '${ltrOperationType}/${r.backupName}' under resource group '${config.resourceGroup}' was not found.`,
          );
        }
        await poll(op);
        return { status: 200, body: ltrOperationResource(op) };
      }

      case "ltrPreBackup":
      case "startLtrBackup": {
        const action = `${serverType}/${r.operation === "ltrPreBackup" ? "ltrPreBackup" : "startLtrBackup"}/action`;
        if (!config.roles.ltrBackup) return forbidden(action, entry.id);
        const backupName = field(field(body, "backupSettings"), "backupName");
        if (typeof backupName !== "string" || backupName === "") {
          return fail(400, "InvalidParameter", "The parameter 'backupSettings.backupName' is required.");
        }
        if (r.operation === "startLtrBackup") entry.startRequests.set(backupName, (entry.startRequests.get(backupName) ?? 0) + 1);
        if (config.state !== "Ready") {
          // Troubleshooting page: ServerNotReadyForLongTermBackup when the resource JSON does not show "state": "Ready".
          return fail(
            409,
            flexUserError,
            `The server '${config.name}' is in state '${config.state}'; a long term retention backup needs the server in state 'Ready'.`,
            undefined,
            "ServerNotReadyForLongTermBackup",
          );
        }
        if (r.operation === "ltrPreBackup") return { status: 200, body: { properties: { numberOfContainers: config.numberOfContainers } } };

        const sasUriList = field(field(body, "targetDetails"), "sasUriList");
        if (!Array.isArray(sasUriList) || sasUriList.length !== config.numberOfContainers) {
          const count = Array.isArray(sasUriList) ? sasUriList.length : 0;
          return fail(
            400,
            "InvalidParameter",
            `The parameter 'targetDetails.sasUriList' has ${count} entries; server '${config.name}' needs ${config.numberOfContainers} (see ltrPreBackup).`,
          );
        }
        const badIndex = sasUriList.findIndex((uri) => !isHttpUrl(uri));
        if (badIndex >= 0) {
          return fail(400, "InvalidParameter", `The parameter 'targetDetails.sasUriList[${badIndex}]' is not an absolute http(s) URL.`);
        }
        if (entry.operations.some((o) => o.backupName === backupName)) {
          return fail(409, "BackupNameAlreadyExists", `A long term retention backup named '${backupName}' already exists on server '${config.name}'.`);
        }
        const running = entry.operations.find((o) => o.status === "Running");
        if (running) {
          // Troubleshooting page: UserErrorMaxConcurrentOperationLimitReached, outer and inner code alike.
          return fail(
            409,
            maxConcurrentCode,
            `The long term retention backup '${running.backupName}' is in progress on server '${config.name}'; wait for it to finish.`,
            undefined,
            maxConcurrentCode,
          );
        }
        const lastExecuted = entry.operations.filter((o) => !o.refusal).at(-1);
        const overWeeklyLimit = config.weeklyLimit !== "off" && lastExecuted !== undefined && now().getTime() - lastExecuted.startTime.getTime() < weekMs;
        const weeklyRefusal = overWeeklyLimit
          ? {
              // Support matrix ("only the first backup operation of the week is executed"); the code is the troubleshooting
              // page's for the backup limit, outer and inner alike.
              code: maxConcurrentCode,
              message:
                `Only one long term retention backup per week is supported; server '${config.name}' was backed up at ` +
                `${lastExecuted.startTime.toISOString()}, the next can start from ${new Date(lastExecuted.startTime.getTime() + weekMs).toISOString()}.`,
            }
          : undefined;
        if (weeklyRefusal && config.weeklyLimit === "start") return fail(409, weeklyRefusal.code, weeklyRefusal.message, undefined, weeklyRefusal.code);
        const op: LtrOperation = {
          opId: randomUUID(),
          server: entry,
          backupName,
          sasUris: sasUriList as string[],
          status: "Running",
          startTime: now(),
          polls: 0,
          hiddenReads: 0,
          partialWritten: false,
          containersWritten: [],
          bytesWritten: 0,
          ...(weeklyRefusal ? { refusal: weeklyRefusal } : {}),
          queue: Promise.resolve(),
        };
        entry.operations.push(op);
        if (config.startAnswer === "sync") {
          // Synchronous 200: the operation is done when the answer goes (REST reference: 200 BackupsLongTermRetentionResponse).
          op.polls = Number.MAX_SAFE_INTEGER;
          await poll(op);
          return { status: 200, body: { properties: ltrProperties(op) } };
        }
        const urls = asyncUrls(op);
        return { status: 202, headers: { "azure-asyncoperation": urls.azureAsyncOperation, location: urls.location, "retry-after": "0" } };
      }
    }
  };

  const armServer = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const method = req.method ?? "";
    const url = new URL(req.url ?? "/", origin);
    const authorization = req.headers.authorization ?? "";
    const bearer = /^Bearer\s+\S/i.test(authorization);
    const r = route(method, url.pathname);
    const answer = ({ status, body, headers = {} }: Answer) => {
      requests.push({ method, path: url.pathname, status, bearer, operation: r.operation });
      const code = field(field(body, "error"), "code");
      const common = { "x-ms-request-id": randomUUID(), ...(typeof code === "string" ? { "x-ms-error-code": code } : {}), ...headers };
      if (body === undefined) {
        res.writeHead(status, { ...common, "content-length": 0 });
        res.end();
      } else {
        sendJson(res, status, body, common);
      }
    };

    const respond = async (text: string): Promise<Answer> => {
      const token = bearer ? authorization.replace(/^Bearer\s+/i, "") : undefined;
      const resource = token ? identity.resourceOf(token) : undefined;
      if (!token || resource === undefined || resource.replace(/\/+$/, "") !== origin) {
        const [code, message] = !token
          ? ["AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."]
          : resource === undefined
            ? ["InvalidAuthenticationToken", "The access token is invalid."]
            : [
                "InvalidAuthenticationToken",
                `The access token has been obtained for wrong audience or resource '${resource}'. It should exactly match one of the allowed audiences '${origin}', '${origin}/'.`,
              ];
        return fail(401, code, message, {
          "www-authenticate": `Bearer authorization_uri="https://login.microsoftonline.com/${tenantId}", error="invalid_token", error_description="${message.replaceAll('"', "'")}"`,
        });
      }
      if (throttlesLeft > 0) {
        throttlesLeft -= 1;
        return fail(429, "TooManyRequests", "The request is being throttled; retry after the time in the Retry-After header.", {
          "retry-after": String(throttleSeconds),
        });
      }
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        return failureStatus === 503
          ? fail(503, "ServiceUnavailable", "The service is temporarily unavailable.", { "retry-after": "1" })
          : fail(500, "InternalServerError", "An internal server error occurred.");
      }
      const apiVersion = url.searchParams.get("api-version");
      if (apiVersion === null) {
        return fail(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
      }
      if (apiVersion !== armApiVersion) {
        return fail(
          400,
          "InvalidApiVersionParameter",
          `The api-version '${apiVersion}' is invalid. The supported versions are '${armApiVersion}' (this stand-in serves only that one).`,
        );
      }
      if (r.operation === "unknown") {
        return r.childType
          ? fail(404, "InvalidResourceType", `The resource type '${r.childType}' could not be found in the namespace '${provider}' for api version '${armApiVersion}'.`)
          : fail(404, "NotFound", `No HTTP resource was found that matches the request URI '${url.pathname}'.`);
      }
      let body: unknown;
      if (text.trim() !== "") {
        try {
          body = JSON.parse(text);
        } catch {
          return fail(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
        }
      }
      const handled = await handle(r, body);
      const addressed = "opId" in r ? findOperation(r.sub, r.location, r.opId)?.server.config : { subscriptionId: r.sub, resourceGroup: r.rg, name: r.name };
      if (addressed && handled.status < 300) {
        const key = serverKey(addressed.subscriptionId, addressed.resourceGroup, addressed.name);
        const due = hooks.findIndex((h) => h.key === key && h.operation === r.operation);
        if (due >= 0) hooks.splice(due, 1)[0]!.then();
      }
      return handled;
    };

    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void respond(Buffer.concat(chunks).toString("utf8")).then(answer, (error: unknown) => {
        answer(fail(500, "InternalServerError", `The ARM stand-in failed: ${error instanceof Error ? error.message : String(error)}`));
      });
    });
  });

  origin = `https://127.0.0.1:${await listen(armServer)}`;

  const remove = (entry: ServerEntry, as: NonNullable<ServerEntry["deletedAs"]>) => {
    const { config } = entry;
    servers.delete(serverKey(config.subscriptionId, config.resourceGroup, config.name));
    entry.deletedAs = as;
    deleted.push(entry);
  };

  return {
    endpoint: origin,
    addServer(setup) {
      const key = serverKey(setup.subscriptionId, setup.resourceGroup, setup.name);
      if (servers.has(key)) throw new Error(`The ARM stand-in already has server '${setup.name}'.`);
      const id = `/subscriptions/${setup.subscriptionId}/resourceGroups/${setup.resourceGroup}/providers/${serverType}/${setup.name}`;
      subscriptions.add(setup.subscriptionId.toLowerCase());
      resourceGroups.add(groupKey(setup.subscriptionId, setup.resourceGroup));
      const entry: ServerEntry = {
        id,
        config: {
          subscriptionId: setup.subscriptionId,
          resourceGroup: setup.resourceGroup,
          name: setup.name,
          location: setup.location ?? "westeurope",
          state: setup.state ?? "Ready",
          version: setup.version ?? "16",
          storageSizeGB: setup.storageSizeGB ?? 128,
          startAnswer: setup.startAnswer ?? "async",
          operationHiddenForReads: setup.operationHiddenForReads ?? 0,
          roles: { reader: setup.roles?.reader ?? true, ltrBackup: setup.roles?.ltrBackup ?? true },
          numberOfContainers: setup.numberOfContainers ?? 2,
          weeklyLimit: setup.weeklyLimit ?? "start",
          backup: setup.backup ?? { outcome: "Succeeded" },
        },
        operations: [],
        startRequests: new Map(),
      };
      servers.set(key, entry);
      if (setup.earlierBackupAt) {
        const at = setup.earlierBackupAt;
        entry.operations.push({
          ...{ opId: randomUUID(), server: entry, backupName: "earlier-backup", sasUris: [], status: "Succeeded", startTime: at, endTime: at },
          ...{ polls: 0, hiddenReads: 0, partialWritten: false, containersWritten: [], bytesWritten: 0, queue: Promise.resolve() },
        });
      }
      return id;
    },
    updateServer(resourceId, change) {
      const entry = findServer(resourceId);
      const { config } = entry;
      entry.config = {
        ...config,
        location: change.location ?? config.location,
        state: change.state ?? config.state,
        version: change.version ?? config.version,
        storageSizeGB: change.storageSizeGB ?? config.storageSizeGB,
        startAnswer: change.startAnswer ?? config.startAnswer,
        operationHiddenForReads: change.operationHiddenForReads ?? config.operationHiddenForReads,
        numberOfContainers: change.numberOfContainers ?? config.numberOfContainers,
        weeklyLimit: change.weeklyLimit ?? config.weeklyLimit,
        roles: { reader: change.roles?.reader ?? config.roles.reader, ltrBackup: change.roles?.ltrBackup ?? config.roles.ltrBackup },
        backup: { ...config.backup, ...change.backup },
      };
    },
    deleteServer(resourceId) {
      remove(findServer(resourceId), "ResourceNotFound");
    },
    deleteResourceGroup(subscriptionId, resourceGroup) {
      if (!resourceGroups.delete(groupKey(subscriptionId, resourceGroup))) throw new Error(`The ARM stand-in has no resource group '${resourceGroup}'.`);
      for (const entry of [...servers.values()]) {
        if (groupKey(entry.config.subscriptionId, entry.config.resourceGroup) === groupKey(subscriptionId, resourceGroup)) remove(entry, "ResourceGroupNotFound");
      }
    },
    afterNextAnswer(resourceId, operation, then) {
      const { config } = findServer(resourceId);
      hooks.push({ key: serverKey(config.subscriptionId, config.resourceGroup, config.name), operation, then });
    },
    advanceClock(ms) {
      clockOffsetMs += ms;
    },
    throttleNext(count, retryAfterSeconds = 1) {
      throttlesLeft = count;
      throttleSeconds = retryAfterSeconds;
    },
    failNext(count, status = 500) {
      failuresLeft = count;
      failureStatus = status;
    },
    operations(resourceId) {
      const entry = findServer(resourceId);
      return entry.operations.map((op) => ({
        backupName: op.backupName,
        status: op.status,
        sasUriCount: op.sasUris.length,
        containersWritten: [...op.containersWritten],
        startRequests: entry.startRequests.get(op.backupName) ?? 0,
      }));
    },
    requests,
    close: () => shutDown(armServer),
  };
}

/**
 * Starts the ARM stand-in and points this process at it: IDENTITY_ENDPOINT / IDENTITY_HEADER for
 * DefaultAzureCredential (created once per process, so call this before the app's first Azure call in a test file)
 * and ARM_ENDPOINT for the app's config. Without `identity` it starts one, which `arm.close()` then closes too;
 * pass the one a Key Vault stand-in uses so both accept the same credential.
 */
export async function useArmStandIn(
  tls: { certFile: string; keyFile: string },
  identity?: IdentityEndpoint,
): Promise<{ arm: ArmTestServer; identity: IdentityEndpoint }> {
  const tokens = identity ?? (await startIdentityEndpoint());
  const started = await startArmServer(tls, tokens);
  const arm: ArmTestServer =
    identity === undefined ? { ...started, close: async () => void (await Promise.all([started.close(), tokens.close()])) } : started;
  process.env.IDENTITY_ENDPOINT = tokens.endpoint;
  process.env.IDENTITY_HEADER = tokens.header;
  process.env.ARM_ENDPOINT = arm.endpoint;
  return { arm, identity: tokens };
}
