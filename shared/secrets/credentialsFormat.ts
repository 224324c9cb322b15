/**
 * The secret value holds database credentials either as a libpq URI or as an ADO.NET-style string (the format
 * Azure Backup uses). Only user, password and SSL mode are taken from it; the instance names host, port and
 * database. Errors never quote the value.
 */
import { PgVaultError } from "../errors";

export const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof sslModes)[number];

export interface DatabaseCredentials {
  user: string;
  /** The secret's password, or a Microsoft Entra access token (`signIn: "entra"`). */
  password: string;
  sslMode: SslMode;
  /** Present when the password is an Entra token (shared/postgres/entraSignIn.ts): failures then explain the role mapping. */
  signIn?: "entra";
}

function unsupported(reason: string): PgVaultError {
  return new PgVaultError("UserErrorSecretValueInUnsupportedFormat", `The secret value ${reason}.`);
}

function readSslMode(value: string | undefined | null): SslMode {
  if (!value) return "prefer";
  const normalized = value.trim().toLowerCase().replace(/^verifyca$/, "verify-ca").replace(/^verifyfull$/, "verify-full");
  if ((sslModes as readonly string[]).includes(normalized)) return normalized as SslMode;
  throw unsupported(`has an SSL mode that is not one of ${sslModes.join(", ")}`);
}

function fromUri(text: string): DatabaseCredentials {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw unsupported("starts like a postgres:// URI but is not a valid URI");
  }
  let user: string;
  let password: string;
  try {
    user = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    // URL keeps a stray `%` as is; decoding it throws a bare URIError, which would surface as unexpected.
    throw unsupported("is a URI whose user name or password has an invalid %-escape");
  }
  if (!user || !password) throw unsupported("is a URI without both a user name and a password");
  return { user, password, sslMode: readSslMode(url.searchParams.get("sslmode")) };
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

function fromKeyValue(text: string): DatabaseCredentials {
  const pairs = keyValuePairs(text);
  const pick = (...keys: string[]) => keys.map((key) => pairs.get(key)).find((value) => value !== undefined);
  const user = pick("userid", "user", "username", "uid");
  const password = pick("password", "pwd");
  if (!user || !password) throw unsupported("has no User Id and Password");
  return { user, password, sslMode: readSslMode(pick("sslmode")) };
}

export function parseCredentials(secretValue: string): DatabaseCredentials {
  const text = secretValue.trim();
  if (/^postgres(ql)?:\/\//i.test(text)) return fromUri(text);
  if (text.includes("=")) return fromKeyValue(text);
  throw unsupported("is neither a postgres:// URI nor a Key=Value; connection string");
}
