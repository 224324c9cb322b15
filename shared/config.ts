/**
 * The app's settings, read and validated once (SPEC section 10). A missing or malformed setting stops the app
 * at start-up with a message naming it, instead of failing the first backup hours later.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";

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

export interface AppConfig {
  vault: VaultConnection;
  /** Directory holding pg_dump and pg_restore; empty means "find them on PATH". */
  pgBinDir: string;
  /** NCRONTAB (six fields, UTC) of the scheduler timer. */
  schedulerSchedule: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function readUrl(env: Env, name: string): string {
  const value = env[name]?.trim();
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
      blobServiceUri: readUrl(env, "VaultStorage__blobServiceUri"),
      tableServiceUri: readUrl(env, "VaultStorage__tableServiceUri"),
      credential: env.VaultStorage__credential?.trim() || undefined,
      clientId: env.VaultStorage__clientId?.trim() || undefined,
    };
  }
  throw new ConfigError(
    "App setting VaultStorage is missing: set a storage connection string, or VaultStorage__blobServiceUri and " +
      "VaultStorage__tableServiceUri for an identity-based connection.",
  );
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

export function loadConfig(env: Env = process.env): AppConfig {
  return { vault: readVault(env), pgBinDir: readPgBinDir(env), schedulerSchedule: readSchedulerSchedule(env) };
}

let cached: AppConfig | undefined;

/** The process-wide configuration, read on first use. */
export function getConfig(): AppConfig {
  cached ??= loadConfig();
  return cached;
}
