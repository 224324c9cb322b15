/**
 * How pgvault reaches a PostgreSQL database: the instance's address plus the secret's credentials, as a node-pg
 * client (access checks) or as libpq environment variables (pg_dump, pg_restore; never on a command line, where
 * any local user could read the password from the process list). Under verify-ca and verify-full both check the
 * server against the same CA certificates (PG_SSL_ROOT_CERT, by default the system's), before the password goes.
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { checkServerIdentity, type ConnectionOptions } from "node:tls";
import { getConfig } from "../config";
import { ensureError, PgVaultError } from "../errors";
import { canonicalHost } from "../network/hostNames";
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

const verifiesServer = (params: ConnectionParams) => params.sslMode === "verify-ca" || params.sslMode === "verify-full";

/** The CA bundle file verify modes trust; a clear failure when the image has none. */
function rootCertFile(): string {
  const file = getConfig().pgSslRootCert;
  if (!file) {
    throw new PgVaultError("SystemErrorUnexpected", "No CA certificates to verify the server with: install ca-certificates in the image or set PG_SSL_ROOT_CERT.");
  }
  return file;
}

let rootCerts: Buffer | undefined;

export function libpqEnvironment(params: ConnectionParams): Record<string, string> {
  return {
    PGHOST: params.host,
    PGPORT: String(params.port),
    PGDATABASE: params.database,
    PGUSER: params.user,
    PGPASSWORD: params.password,
    PGSSLMODE: params.sslMode,
    // Only for the verify modes: libpq makes `require` verify the CA too whenever a root file is named.
    ...(verifiesServer(params) ? { PGSSLROOTCERT: rootCertFile() } : {}),
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
    case "verify-full":
      rootCerts ??= readFileSync(rootCertFile());
      return {
        rejectUnauthorized: true,
        // The system's roots replace Node's built-in list, so node-pg and libpq trust exactly the same CAs.
        ca: rootCerts,
        // Checked against the host pgvault meant, not whichever name node-pg hands Node's TLS (none for IP hosts).
        checkServerIdentity: params.sslMode === "verify-ca" ? () => undefined : (_name, cert) => checkServerIdentity(canonicalHost(params.host), cert),
      };
  }
}

/** Where the failure is, in words that never include the password. */
function describe(params: ConnectionParams): string {
  return `database '${params.database}' on ${params.host}:${params.port} as user '${params.user}'`;
}

const unreachableErrnos = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET"]);

/** OpenSSL's verification results as Node reports them (`err.code`), besides a wrong name. */
const untrustedCertificateCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_UNTRUSTED", "CERT_REVOKED", "CERT_SIGNATURE_FAILURE",
]);

/**
 * The server could not prove it is the server meant (verify-ca, verify-full): nothing was sent to it. The same
 * code as a secret used for another server, since the credential would otherwise go to whoever answered.
 */
export function serverNotVerified(params: ConnectionParams, reason: "name" | "issuer"): PgVaultError {
  const what = reason === "name" ? `its TLS certificate is not for ${params.host}` : "its TLS certificate is not issued by a CA the app trusts (or has expired)";
  return new PgVaultError(
    "UserErrorSecretServerMismatch",
    `The server at ${params.host}:${params.port} did not prove it is ${params.host} (sslmode ${params.sslMode}): ${what}. No credentials were sent.`,
    {
      recommendedAction:
        `Connect by the name the server's certificate is for (an Azure Database for PostgreSQL server: <server>.postgres.database.azure.com), ` +
        "and check that its certificate chains to a root in the app's CA store (PG_SSL_ROOT_CERT, by default the system's). " +
        "If someone else answered in the server's place, this refusal kept the credentials from them.",
    },
  );
}

/** libpq's words for the same two failures (fe-secure-openssl.c), as pg_dump and pg_restore print them. */
export function serverNotVerifiedInOutput(stderr: string, params: ConnectionParams): PgVaultError | undefined {
  if (/server certificate for .* does not match host name/i.test(stderr)) return serverNotVerified(params, "name");
  if (/certificate verify failed|root certificate file .* does not exist/i.test(stderr)) return serverNotVerified(params, "issuer");
  return undefined;
}

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
  if (err instanceof PgVaultError) return err;
  const error = ensureError(err);
  const sqlState = (error as { code?: string }).code ?? "";
  const where = describe(params);
  if (sqlState === "28P01" || sqlState === "28000") return authenticationFailure(params);
  if (sqlState === "ERR_TLS_CERT_ALTNAME_INVALID") return serverNotVerified(params, "name");
  if (untrustedCertificateCodes.has(sqlState)) return serverNotVerified(params, "issuer");
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
    // node-pg takes an unset `options` from the app's PGOPTIONS (pg/lib/connection-parameters.js, val()), which
    // would give the app's sessions other defaults than pg_dump's (toolProcess.ts passes no PGOPTIONS): a blank
    // value is sent instead, and the server reads no options from it. Only then: a pooler such as PgBouncer may
    // refuse an `options` parameter it does not know.
    ...(process.env.PGOPTIONS ? { options: " " } : {}),
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
