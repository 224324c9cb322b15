/**
 * The app's settings, read and validated once (SPEC section 10). A missing or malformed setting stops the app
 * at start-up with a message naming it, instead of failing the first backup hours later.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { isHost, isHostPattern } from "./network/hostNames";
import { sslModes, type SslMode } from "./secrets/credentialsFormat";

export type VaultConnection =
  | { kind: "connectionString"; connectionString: string }
  | {
      kind: "identity";
      blobServiceUri: string;
      tableServiceUri: string;
      /** `managedidentity` selects ManagedIdentityCredential; anything else DefaultAzureCredential. */
      credential?: string;
      clientId?: string;
    };

/** The Functions runtime's storage (task hub), as far as the app needs it: to keep exports out of it. */
export type RuntimeStorage = { connectionString: string } | { blobServiceUri: string };

export interface AppConfig {
  vault: VaultConnection;
  /** Absent when neither `AzureWebJobsStorage` nor `AzureWebJobsStorage__blobServiceUri` is set (tests of parts). */
  runtimeStorage?: RuntimeStorage;
  /** Directory holding pg_dump and pg_restore; empty means "find them on PATH". */
  pgBinDir: string;
  /** NCRONTAB (six fields, UTC) of the scheduler timer. */
  schedulerSchedule: string;
  /** Azure Resource Manager origin (`https://management.azure.com`, or a sovereign cloud's). */
  armEndpoint: string;
  /** How long a Flexible Server long-term-retention backup may run before the job gives up on it. */
  flexBackupTimeoutMs: number;
  /** Application Insights connection string; absent when unset, and then no telemetry is exported. */
  applicationInsightsConnectionString?: string;
  /**
   * `appServiceRoles` when AUTH_MODE says the app runs behind App Service authentication and routes check the
   * caller's roles (shared/auth); absent for the default `functionKeys` (function keys only).
   */
  authMode?: Exclude<AuthMode, "functionKeys">;
  /** Time-based immutability policy put on every backup blob until its recovery point expires (`off`: none). */
  vaultImmutability: VaultImmutability;
  /** Days a deleted recovery point stays `SoftDeleted` (restorable, undeletable) before its data is purged. */
  softDeleteRetentionDays: number;
  /** pg_dump processes one worker process runs at a time; a dump beyond it waits on a durable timer (shared/backup/dumpSlots.ts). */
  maxConcurrentDumps: number;
  /** The weakest sslmode any database connection uses; a secret's own mode is raised to it. */
  minSslMode: SslMode;
  /** Hosts besides Azure Database for PostgreSQL's domains that Microsoft Entra sign-in may go to: exact names or `*.suffix`. */
  entraSignInHosts: string[];
  /** The only Key Vault hosts references may name; absent when KEY_VAULT_HOSTS is unset (any Key Vault host). */
  keyVaultHosts?: string[];
  /** The CA certificates (PEM file) verify-ca and verify-full check servers against; absent when none was found. */
  pgSslRootCert?: string;
  /** The Event Grid topic's publish URL (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`); absent: no events are published. */
  eventGridTopicEndpoint?: string;
}

export type VaultImmutability = "off" | "unlocked" | "locked";

export const authModes = ["functionKeys", "appServiceRoles"] as const;
export type AuthMode = (typeof authModes)[number];

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function readUrl(name: string, setting: string | undefined): string {
  const value = setting?.trim();
  if (!value) throw new ConfigError(`App setting ${name} is required when VaultStorage is not a connection string.`);
  try {
    const url = new URL(value);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("not http(s)");
  } catch {
    throw new ConfigError(`App setting ${name} must be an http(s) URL, got '${value}'.`);
  }
  return value;
}

function readVault(env: Env): VaultConnection {
  const connectionString = env.VaultStorage?.trim();
  if (connectionString) {
    const isDevStore = /^UseDevelopmentStorage=true;?$/i.test(connectionString);
    if (!isDevStore && !/(AccountName|BlobEndpoint|SharedAccessSignature)=/i.test(connectionString)) {
      throw new ConfigError("App setting VaultStorage is not a storage connection string (no AccountName or BlobEndpoint).");
    }
    return { kind: "connectionString", connectionString };
  }
  if (env.VaultStorage__blobServiceUri || env.VaultStorage__tableServiceUri) {
    return {
      kind: "identity",
      blobServiceUri: readUrl("VaultStorage__blobServiceUri", env.VaultStorage__blobServiceUri),
      tableServiceUri: readUrl("VaultStorage__tableServiceUri", env.VaultStorage__tableServiceUri),
      credential: env.VaultStorage__credential?.trim() || undefined,
      clientId: env.VaultStorage__clientId?.trim() || undefined,
    };
  }
  throw new ConfigError(
    "App setting VaultStorage is missing: set a storage connection string, or VaultStorage__blobServiceUri and " +
      "VaultStorage__tableServiceUri for an identity-based connection.",
  );
}

function readRuntimeStorage(env: Env): RuntimeStorage | undefined {
  const connectionString = env.AzureWebJobsStorage?.trim();
  if (connectionString) return { connectionString };
  const blobServiceUri = env.AzureWebJobsStorage__blobServiceUri?.trim();
  return blobServiceUri ? { blobServiceUri: readUrl("AzureWebJobsStorage__blobServiceUri", blobServiceUri) } : undefined;
}

/** Newest PostgreSQL client in the Debian/Ubuntu layout, so one image can dump every supported server version. */
function defaultPgBinDir(): string {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return "";
  const newest = readdirSync(root)
    .filter((entry) => /^\d+$/.test(entry) && existsSync(path.join(root, entry, "bin", "pg_dump")))
    .sort((a, b) => Number(b) - Number(a))[0];
  return newest ? path.join(root, newest, "bin") : "";
}

function readPgBinDir(env: Env): string {
  const configured = env.PG_BIN_DIR?.trim();
  if (!configured) return defaultPgBinDir();
  if (!existsSync(path.join(configured, "pg_dump"))) {
    throw new ConfigError(`App setting PG_BIN_DIR='${configured}' does not contain pg_dump.`);
  }
  return configured;
}

const defaultSchedulerSchedule = "0 */5 * * * *";

function readSchedulerSchedule(env: Env): string {
  const value = env.SCHEDULER_SCHEDULE?.trim() || defaultSchedulerSchedule;
  if (!/^(\S+\s+){5}\S+$/.test(value) || !/^[0-9*\/,\-A-Za-z\s]+$/.test(value)) {
    throw new ConfigError(`App setting SCHEDULER_SCHEDULE='${value}' is not a six-field NCRONTAB expression (e.g. '${defaultSchedulerSchedule}').`);
  }
  return value;
}

const defaultArmEndpoint = "https://management.azure.com";

function readArmEndpoint(env: Env): string {
  const value = env.ARM_ENDPOINT?.trim() || defaultArmEndpoint;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`App setting ARM_ENDPOINT='${value}' is not a URL (e.g. '${defaultArmEndpoint}').`);
  }
  // The SDK sends bearer tokens over HTTPS only; a path would be dropped from every request URL.
  if (url.protocol !== "https:" || (url.pathname !== "/" && url.pathname !== "") || url.search) {
    throw new ConfigError(`App setting ARM_ENDPOINT='${value}' must be an https origin such as '${defaultArmEndpoint}'.`);
  }
  return url.origin;
}

const defaultFlexBackupTimeout = "PT6H";
const timeoutBoundsMs = { min: 10 * 60_000, max: 24 * 3600_000 };

/** `PT<h>H<m>M` between PT10M and PT24H: long enough for a large server, short enough to notice a stuck one. */
function readFlexBackupTimeout(env: Env): number {
  const value = env.FLEX_BACKUP_TIMEOUT?.trim() || defaultFlexBackupTimeout;
  const match = /^PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?$/.exec(value);
  const ms = match ? (Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0)) * 60_000 : Number.NaN;
  if (!(ms >= timeoutBoundsMs.min && ms <= timeoutBoundsMs.max)) {
    throw new ConfigError(`App setting FLEX_BACKUP_TIMEOUT='${value}' must be an ISO 8601 duration from PT10M to PT24H (e.g. '${defaultFlexBackupTimeout}').`);
  }
  return ms;
}

const applicationInsightsSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The standard Functions setting (`InstrumentationKey=<guid>;IngestionEndpoint=https://...;...`), which the host
 * reads for its own telemetry too. Returned normalized for the Azure Monitor exporter, which is stricter than the
 * host: parts trimmed and empty ones dropped (it flags a string with a trailing `;` invalid and skips cleaning up
 * its endpoint), and the key in lower case (it refuses an upper-case GUID, which would stop the worker at start).
 * The value is never quoted back.
 */
function readApplicationInsights(env: Env): string | undefined {
  const value = env[applicationInsightsSetting]?.trim();
  if (!value) return undefined;
  const fields: [string, string][] = [];
  for (const part of value.split(";").map((text) => text.trim()).filter(Boolean)) {
    const [key, fieldValue, ...rest] = part.split("=").map((text) => text.trim());
    if (!key || fieldValue === undefined || rest.length > 0) {
      throw new ConfigError(`App setting ${applicationInsightsSetting} is not a connection string of Key=Value parts separated by ';'.`);
    }
    fields.push([key, fieldValue]);
  }
  const field = (name: string) => fields.find(([key]) => key.toLowerCase() === name.toLowerCase());
  const instrumentationKey = field("InstrumentationKey");
  if (!instrumentationKey) {
    throw new ConfigError(`App setting ${applicationInsightsSetting} is not an Application Insights connection string (no InstrumentationKey=).`);
  }
  if (!guidPattern.test(instrumentationKey[1])) {
    throw new ConfigError(`App setting ${applicationInsightsSetting} has an InstrumentationKey that is not a GUID.`);
  }
  instrumentationKey[1] = instrumentationKey[1].toLowerCase();
  const endpoint = field("IngestionEndpoint")?.[1];
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/i.test(endpoint)) {
    throw new ConfigError(`App setting ${applicationInsightsSetting} has an IngestionEndpoint that is not an http(s) URL.`);
  }
  return fields.map(([key, fieldValue]) => `${key}=${fieldValue}`).join(";");
}

/**
 * AUTH_MODE: `functionKeys` (default: the host's function keys are the only gate, and the client-principal header
 * is ignored, as a caller could forge it) or `appServiceRoles` (App Service authentication injects the caller's
 * principal and routes check its roles). On App Service the latter also needs App Service authentication to be
 * on (the platform sets WEBSITE_AUTH_ENABLED): without it nothing strips a forged header.
 */
function readAuthMode(env: Env): AuthMode {
  const value = env.AUTH_MODE?.trim() || "functionKeys";
  const mode = authModes.find((candidate) => candidate.toLowerCase() === value.toLowerCase());
  if (!mode) throw new ConfigError(`App setting AUTH_MODE='${value}' must be one of ${authModes.join(", ")}.`);
  const onAppService = Boolean(env.WEBSITE_SITE_NAME?.trim());
  if (mode === "appServiceRoles" && onAppService && env.WEBSITE_AUTH_ENABLED?.trim().toLowerCase() !== "true") {
    throw new ConfigError(
      "App setting AUTH_MODE=appServiceRoles needs App Service authentication to be enabled on the app (WEBSITE_AUTH_ENABLED is not True): " +
        "without it, callers could forge the x-ms-client-principal header.",
    );
  }
  return mode;
}

const vaultImmutabilityValues: readonly VaultImmutability[] = ["off", "unlocked", "locked"];
const defaultVaultImmutability: VaultImmutability = "unlocked";

/**
 * `unlocked` by default: where the vault has version-level immutability every point is protected until it expires;
 * where it has not (Azurite, a vault created without it) backups carry on and the app says so.
 */
function readVaultImmutability(env: Env): VaultImmutability {
  const value = env.VAULT_IMMUTABILITY?.trim() || defaultVaultImmutability;
  const mode = vaultImmutabilityValues.find((candidate) => candidate === value.toLowerCase());
  if (!mode) {
    throw new ConfigError(`App setting VAULT_IMMUTABILITY='${value}' must be one of ${vaultImmutabilityValues.join(", ")} (default '${defaultVaultImmutability}').`);
  }
  return mode;
}

const softDeleteDays = { default: 14, min: 1, max: 180 };

/** Whole days, 1 to 180 (the range Azure Backup's soft delete allows at most); soft delete cannot be switched off. */
function readSoftDeleteRetentionDays(env: Env): number {
  const value = env.SOFT_DELETE_RETENTION_DAYS?.trim() || String(softDeleteDays.default);
  const days = /^\d{1,3}$/.test(value) ? Number(value) : Number.NaN;
  if (!(days >= softDeleteDays.min && days <= softDeleteDays.max)) {
    throw new ConfigError(
      `App setting SOFT_DELETE_RETENTION_DAYS='${value}' must be a whole number of days from ${softDeleteDays.min} to ${softDeleteDays.max} (default ${softDeleteDays.default}).`,
    );
  }
  return days;
}

const concurrentDumps = { default: 2, min: 1, max: 64 };

/** Whole number, 1 to 64: each dump holds a child process, up to 64 MiB of blocks in flight and a share of the network. */
function readMaxConcurrentDumps(env: Env): number {
  const value = env.MAX_CONCURRENT_DUMPS?.trim() || String(concurrentDumps.default);
  const dumps = /^\d{1,2}$/.test(value) ? Number(value) : Number.NaN;
  if (!(dumps >= concurrentDumps.min && dumps <= concurrentDumps.max)) {
    throw new ConfigError(
      `App setting MAX_CONCURRENT_DUMPS='${value}' must be a whole number from ${concurrentDumps.min} to ${concurrentDumps.max} (default ${concurrentDumps.default}).`,
    );
  }
  return dumps;
}

const defaultMinSslMode: SslMode = "require";

/** Default `require`: never a credential in the clear. `verify-full` (docs/security.md) also proves the server's name. */
function readMinSslMode(env: Env): SslMode {
  const value = env.MIN_SSL_MODE?.trim() || defaultMinSslMode;
  const mode = sslModes.find((candidate) => candidate === value.toLowerCase());
  if (!mode) throw new ConfigError(`App setting MIN_SSL_MODE='${value}' must be one of ${sslModes.join(", ")} (default '${defaultMinSslMode}').`);
  return mode;
}

/** A comma-separated list of hosts (`*.suffix` too when `patterns`); empty entries are dropped. */
function readHostList(name: string, value: string | undefined, patterns: boolean): string[] | undefined {
  const entries = (value ?? "").split(",").map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) return undefined;
  const wrong = entries.find((entry) => !(patterns ? isHostPattern(entry) : isHost(entry)));
  if (wrong !== undefined) {
    throw new ConfigError(`App setting ${name} lists '${wrong}', which is not a host name${patterns ? " or *.suffix" : ""}; separate entries with commas.`);
  }
  return entries;
}

/**
 * Where the system's CA certificates are (the image's ca-certificates package): Debian and Ubuntu, then RHEL and
 * Fedora, then Alpine and macOS. libpq needs one file for verify-ca and verify-full (sslrootcert), and node-pg
 * checks against the same file, so both trust exactly the same roots.
 */
const systemCaBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

function readPgSslRootCert(env: Env): string | undefined {
  const configured = env.PG_SSL_ROOT_CERT?.trim();
  if (!configured) return systemCaBundles.find((file) => existsSync(file));
  if (!existsSync(configured)) throw new ConfigError(`App setting PG_SSL_ROOT_CERT='${configured}' is not a file.`);
  return configured;
}

/**
 * EVENT_GRID_TOPIC_ENDPOINT: the topic's full publish URL, `/api/events` included (the SDK appends nothing but the
 * api-version). https only: the app signs in with its identity, and the SDK sends bearer tokens over TLS only.
 */
function readEventGridTopicEndpoint(env: Env): string | undefined {
  const value = env.EVENT_GRID_TOPIC_ENDPOINT?.trim();
  if (!value) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== "https:" || url.search || url.hash || url.username || url.password) {
    throw new ConfigError(
      "App setting EVENT_GRID_TOPIC_ENDPOINT must be an Event Grid topic's https publish URL without query, such as " +
        "'https://<topic>.<region>-1.eventgrid.azure.net/api/events' (the topic's endpoint property).",
    );
  }
  return url.href;
}

export function loadConfig(env: Env = process.env): AppConfig {
  const config: AppConfig = {
    vault: readVault(env),
    pgBinDir: readPgBinDir(env),
    schedulerSchedule: readSchedulerSchedule(env),
    armEndpoint: readArmEndpoint(env),
    flexBackupTimeoutMs: readFlexBackupTimeout(env),
    vaultImmutability: readVaultImmutability(env),
    softDeleteRetentionDays: readSoftDeleteRetentionDays(env),
    maxConcurrentDumps: readMaxConcurrentDumps(env),
    minSslMode: readMinSslMode(env),
    entraSignInHosts: readHostList("ENTRA_SIGN_IN_HOSTS", env.ENTRA_SIGN_IN_HOSTS, true) ?? [],
  };
  const keyVaultHosts = readHostList("KEY_VAULT_HOSTS", env.KEY_VAULT_HOSTS, false);
  if (keyVaultHosts) config.keyVaultHosts = keyVaultHosts;
  const pgSslRootCert = readPgSslRootCert(env);
  if (pgSslRootCert) config.pgSslRootCert = pgSslRootCert;
  else if (config.minSslMode.startsWith("verify")) {
    throw new ConfigError(`App setting MIN_SSL_MODE=${config.minSslMode} needs CA certificates: install ca-certificates or set PG_SSL_ROOT_CERT.`);
  }
  const applicationInsightsConnectionString = readApplicationInsights(env);
  if (applicationInsightsConnectionString) config.applicationInsightsConnectionString = applicationInsightsConnectionString;
  const authMode = readAuthMode(env);
  if (authMode !== "functionKeys") config.authMode = authMode;
  const runtimeStorage = readRuntimeStorage(env);
  if (runtimeStorage) config.runtimeStorage = runtimeStorage;
  const eventGridTopicEndpoint = readEventGridTopicEndpoint(env);
  if (eventGridTopicEndpoint) config.eventGridTopicEndpoint = eventGridTopicEndpoint;
  return config;
}

let cached: AppConfig | undefined;

/** The process-wide configuration, read on first use. */
export function getConfig(): AppConfig {
  cached ??= loadConfig();
  return cached;
}
