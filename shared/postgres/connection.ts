/**
 * How pgvault reaches a PostgreSQL database: the instance's address plus the secret's credentials, as a node-pg
 * client (access checks) or as libpq environment variables (pg_dump, pg_restore; never on a command line, where
 * any local user could read the password from the process list).
 */
import pg from "pg";
import type { ConnectionOptions } from "node:tls";
import { ensureError, PgVaultError } from "../errors";
import type { DatabaseCredentials } from "../secrets/credentialsFormat";
import { entraRoleAction } from "./entraSignIn";

export interface DatabaseAddress {
  host: string;
  port: number;
  database: string;
}

export type ConnectionParams = DatabaseAddress & DatabaseCredentials;

const connectTimeoutSeconds = 15;
const applicationName = "pgvault";

export function libpqEnvironment(params: ConnectionParams): Record<string, string> {
  return {
    PGHOST: params.host,
    PGPORT: String(params.port),
    PGDATABASE: params.database,
    PGUSER: params.user,
    PGPASSWORD: params.password,
    PGSSLMODE: params.sslMode,
    PGCONNECT_TIMEOUT: String(connectTimeoutSeconds),
    PGAPPNAME: applicationName,
  };
}

function tlsOptions(params: ConnectionParams): ConnectionOptions | false {
  switch (params.sslMode) {
    case "disable":
    case "allow":
      return false;
    case "prefer":
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { rejectUnauthorized: true, servername: params.host };
  }
}

/** Where the failure is, in words that never include the password. */
function describe(params: ConnectionParams): string {
  return `database '${params.database}' on ${params.host}:${params.port} as user '${params.user}'`;
}

const unreachableErrnos = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"]);

/**
 * The server refused the sign-in. With a password, the secret or pg_hba is wrong; with an Entra token, the role
 * is missing or not mapped to the app's identity (or the token was refused), which an admin fixes on the server.
 */
export function authenticationFailure(params: ConnectionParams): PgVaultError {
  const where = describe(params);
  if (params.signIn === "entra") {
    return new PgVaultError(
      "UserErrorDBUserAuthFailed",
      `The server refused the app's Microsoft Entra token for ${where}: the role does not exist, is not mapped to the app's identity, or the token was refused (expired, or for another tenant).`,
      { recommendedAction: entraRoleAction(params.user) },
    );
  }
  return new PgVaultError("UserErrorDBUserAuthFailed", `Authentication failed for ${where}.`);
}

/** Maps a connection failure to its spec code (SPEC section 9). */
export function connectionFailure(err: unknown, params: ConnectionParams): PgVaultError {
  const error = ensureError(err);
  const sqlState = (error as { code?: string }).code ?? "";
  const where = describe(params);
  if (sqlState === "28P01" || sqlState === "28000") return authenticationFailure(params);
  if (sqlState === "3D000") {
    return new PgVaultError("UserErrorDBNotFound", `Database '${params.database}' does not exist on ${params.host}:${params.port}.`);
  }
  if (sqlState === "42501") {
    return new PgVaultError("UserErrorMissingDBPermissions", `User '${params.user}' lacks CONNECT on database '${params.database}'.`);
  }
  if (unreachableErrnos.has(sqlState) || /timeout|terminated unexpectedly|does not support SSL/i.test(error.message)) {
    return new PgVaultError("UserErrorServerUnreachable", `Could not reach ${params.host}:${params.port} (${sqlState || error.message}).`);
  }
  if (sqlState === "57P03") {
    return new PgVaultError("UserErrorServerUnreachable", `${params.host}:${params.port} is starting up or shutting down.`, { transient: true });
  }
  return new PgVaultError("SystemErrorUnexpected", `Connecting to ${where} failed (${sqlState || error.name}).`);
}

async function tryConnect(params: ConnectionParams, ssl: ConnectionOptions | false): Promise<pg.Client> {
  const client = new pg.Client({
    host: params.host,
    port: params.port,
    database: params.database,
    user: params.user,
    password: params.password,
    ssl,
    application_name: applicationName,
    connectionTimeoutMillis: connectTimeoutSeconds * 1000,
  });
  // A connection dropped later (server restart) must reject the running query, not crash the process.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** Opens a node-pg client, honouring sslmode `prefer` (TLS first, plain if the server has none) like libpq. */
export async function connect(params: ConnectionParams): Promise<pg.Client> {
  try {
    try {
      return await tryConnect(params, tlsOptions(params));
    } catch (err) {
      if (params.sslMode === "prefer" && /does not support SSL/i.test(ensureError(err).message)) {
        return await tryConnect(params, false);
      }
      throw err;
    }
  } catch (err) {
    throw connectionFailure(err, params);
  }
}

export async function withConnection<T>(params: ConnectionParams, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(params);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
