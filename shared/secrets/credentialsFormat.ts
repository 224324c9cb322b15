/**
 * The secret value holds database credentials either as a libpq URI or as an ADO.NET-style string (the format
 * Azure Backup uses). User, password and SSL mode are taken from it, and the server it names (host and port): the
 * secret decides where it may be used (shared/postgres/serverBinding.ts). The request names the database. Errors
 * never quote the value.
 */
import { PgVaultError } from "../errors";
import { isHost } from "../network/hostNames";

/** In order of strength: each mode does what the ones before it do, and more (libpq, "Protection Provided in Different Modes"). */
export const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof sslModes)[number];

/** The stronger of two modes: how MIN_SSL_MODE raises a secret's own. */
export function strongerSslMode(a: SslMode, b: SslMode): SslMode {
  return sslModes.indexOf(a) >= sslModes.indexOf(b) ? a : b;
}

export interface DatabaseCredentials {
  user: string;
  /** The secret's password, or a Microsoft Entra access token (`signIn: "entra"`). */
  password: string;
  sslMode: SslMode;
  /** Present when the password is an Entra token (shared/postgres/entraSignIn.ts): failures then explain the role mapping. */
  signIn?: "entra";
}

/** The server a secret names. Not secret: it is what the secret may be used for, and errors say so. */
export interface SecretServer {
  host: string;
  /** 5432 when the secret names none: libpq's and Npgsql's default. */
  port: number;
}

export interface SecretValue {
  credentials: DatabaseCredentials;
  /** Absent when the value names no host: such a secret is refused before any connection. */
  server?: SecretServer;
}

export const defaultPort = 5432;

function unsupported(reason: string): PgVaultError {
  return new PgVaultError("UserErrorSecretValueInUnsupportedFormat", `The secret value ${reason}.`);
}

function readSslMode(value: string | undefined | null): SslMode {
  if (!value) return "prefer";
  const normalized = value.trim().toLowerCase().replace(/^verifyca$/, "verify-ca").replace(/^verifyfull$/, "verify-full");
  if ((sslModes as readonly string[]).includes(normalized)) return normalized as SslMode;
  throw unsupported(`has an SSL mode that is not one of ${sslModes.join(", ")}`);
}

function readPort(text: string | undefined): number {
  if (text === undefined || text === "") return defaultPort;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) throw unsupported("has a port that is not a number from 1 to 65535");
  return port;
}

/** One host, or none; several (libpq and Npgsql both take lists) could not be bound to one server. */
function readHost(text: string | undefined): string | undefined {
  if (!text) return undefined;
  if (text.includes(",")) throw unsupported("names several hosts; a secret must name the one server it is for");
  const host = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!isHost(host)) throw unsupported("has a host that is not a host name or IP address");
  return host;
}

function fromUri(text: string): SecretValue {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw unsupported("starts like a postgres:// URI but is not a valid URI");
  }
  let user: string;
  let password: string;
  let host: string;
  try {
    user = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
    host = decodeURIComponent(url.hostname);
  } catch {
    // URL keeps a stray `%` as is; decoding it throws a bare URIError, which would surface as unexpected.
    throw unsupported("is a URI whose user name, password or host has an invalid %-escape");
  }
  if (!user || !password) throw unsupported("is a URI without both a user name and a password");
  // libpq lets these query parameters override the authority; the authority alone names the server here.
  if (["host", "hostaddr", "port"].some((key) => url.searchParams.has(key))) {
    throw unsupported("is a URI with host, hostaddr or port in its query; name the server before the path (postgres://user:pass@host:port/db)");
  }
  const credentials: DatabaseCredentials = { user, password, sslMode: readSslMode(url.searchParams.get("sslmode")) };
  const serverHost = readHost(host);
  return serverHost ? { credentials, server: { host: serverHost, port: readPort(url.port) } } : { credentials };
}

/** Splits `Key=Value;Key="quoted;value"` pairs; keys are case- and space-insensitive, as in Npgsql. */
function keyValuePairs(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  // An unquoted value may not start with a quote: otherwise an unclosed or trailing-garbage quoted value
  // (`Password="ab;` or `Password="ab"c`) would be read as unquoted and then stripped to a wrong password.
  const pattern = /\s*([^=;]+?)\s*=\s*("(?:[^"]|"")*"|'(?:[^']|'')*'|(?:[^;"'\s][^;]*)?)\s*(?:;|$)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while (consumed < text.length && (match = pattern.exec(text)) !== null) {
    const raw = match[2]!;
    const quote = raw[0];
    const value = quote === '"' || quote === "'" ? raw.slice(1, -1).replaceAll(quote + quote, quote) : raw.trim();
    pairs.set(match[1]!.toLowerCase().replace(/\s+/g, ""), value);
    consumed = pattern.lastIndex;
    if (match[0] === "") break;
  }
  if (consumed < text.trim().length) throw unsupported("is not a list of Key=Value; pairs");
  return pairs;
}

/**
 * Npgsql's Host (alias Server) may carry the port after a colon (`pg.example.com:6432`, `[::1]:6432`); a port
 * there and a different Port key would leave the server in doubt.
 */
function serverFromKeyValue(hostText: string | undefined, portText: string | undefined): SecretServer | undefined {
  if (!hostText) return undefined;
  const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(hostText);
  const host = readHost(withPort ? withPort[1] : hostText);
  if (!host) return undefined;
  if (withPort && portText !== undefined && readPort(portText) !== readPort(withPort[2])) {
    throw unsupported("names two different ports (in Host and in Port)");
  }
  return { host, port: readPort(withPort ? withPort[2] : portText) };
}

function fromKeyValue(text: string): SecretValue {
  const pairs = keyValuePairs(text);
  const pick = (...keys: string[]) => keys.map((key) => pairs.get(key)).find((value) => value !== undefined);
  const user = pick("userid", "user", "username", "uid");
  const password = pick("password", "pwd");
  if (!user || !password) throw unsupported("has no User Id and Password");
  const credentials: DatabaseCredentials = { user, password, sslMode: readSslMode(pick("sslmode")) };
  const server = serverFromKeyValue(pick("host", "server"), pick("port"));
  return server ? { credentials, server } : { credentials };
}

export function parseSecretValue(secretValue: string): SecretValue {
  const text = secretValue.trim();
  if (/^postgres(ql)?:\/\//i.test(text)) return fromUri(text);
  if (text.includes("=")) return fromKeyValue(text);
  throw unsupported("is neither a postgres:// URI nor a Key=Value; connection string");
}
